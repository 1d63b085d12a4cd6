-- Steps done by their check's solve script ("Skip this step", server/http/solve.ts): still done,
-- and shown apart in the class view. A mark belongs to its progress row: unticking the step, or
-- the learner going, deletes it.
CREATE TABLE skipped_steps (
  learner_id TEXT COLLATE "C" NOT NULL,
  page TEXT COLLATE "C" NOT NULL,
  step TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (learner_id, page, step),
  FOREIGN KEY (learner_id, page, step) REFERENCES progress (learner_id, page, step) ON DELETE CASCADE
);
