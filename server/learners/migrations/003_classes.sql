-- Classes (server/classes/store.ts): a trainer's class on one course, its members (gone with
-- the learner when purged), each learner's last outcome per check (the class view's failed
-- checks and their feedback, whichever replica ran them) and trainers' messages until read.
CREATE TABLE classes (
  id TEXT COLLATE "C" PRIMARY KEY,
  trainer_id TEXT NOT NULL,
  course TEXT NOT NULL,
  title TEXT NOT NULL,
  join_code TEXT COLLATE "C" NOT NULL UNIQUE,
  starts_at BIGINT NOT NULL,
  ends_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  closed_at BIGINT
);
CREATE INDEX classes_by_trainer ON classes (trainer_id, created_at);
CREATE TABLE class_members (
  class_id TEXT COLLATE "C" NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
  learner_id TEXT COLLATE "C" NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  display_name TEXT NOT NULL,
  joined_at BIGINT NOT NULL,
  PRIMARY KEY (class_id, learner_id)
);
CREATE INDEX class_members_by_learner ON class_members (learner_id);
CREATE TABLE check_outcomes (
  learner_id TEXT COLLATE "C" NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  lab TEXT NOT NULL,
  check_id TEXT NOT NULL,
  passed BOOLEAN NOT NULL,
  feedback TEXT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (learner_id, lab, check_id)
);
CREATE TABLE class_messages (
  id TEXT COLLATE "C" PRIMARY KEY,
  class_id TEXT COLLATE "C" NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
  learner_id TEXT COLLATE "C" NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  text TEXT NOT NULL,
  sent_at BIGINT NOT NULL,
  read_at BIGINT
);
CREATE INDEX class_messages_unread ON class_messages (learner_id, sent_at) WHERE read_at IS NULL;
