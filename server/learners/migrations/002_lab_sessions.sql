-- Lab sessions, which every replica of a deployment serves: one row a live session (queued,
-- starting, running), as JSON (server/labs/records.ts), gone when the session stops. Token
-- hashes only, never tokens; the learner's environment is never here (the driver keeps it).
CREATE TABLE lab_sessions (
  id TEXT COLLATE "C" PRIMARY KEY,
  record JSONB NOT NULL,
  updated_at BIGINT NOT NULL
);
