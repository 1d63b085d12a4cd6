-- The learner store's schema as SQLite has it after its own three steps (sqlite-store.ts): one
-- database for every replica. Times are epoch milliseconds. Text compares byte by byte (COLLATE
-- "C"), as in SQLite: the purge's (last_seen, id) cursor, secret groups and pages come in the
-- same order from both stores.
CREATE TABLE learners (
  id TEXT COLLATE "C" PRIMARY KEY,
  created_at BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  git_name TEXT NOT NULL DEFAULT '',
  git_email TEXT NOT NULL DEFAULT ''
);
CREATE INDEX learners_by_last_seen ON learners (last_seen, id);

CREATE TABLE git_tokens (
  learner_id TEXT COLLATE "C" PRIMARY KEY REFERENCES learners (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  token_sealed TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE secret_groups (
  learner_id TEXT COLLATE "C" NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  name TEXT COLLATE "C" NOT NULL,
  names TEXT NOT NULL,
  vars_sealed TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (learner_id, name)
);

CREATE TABLE s3_credentials (
  access_key_id TEXT COLLATE "C" PRIMARY KEY,
  learner_id TEXT COLLATE "C" NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  secret_sealed TEXT NOT NULL,
  session_token_hash TEXT NOT NULL,
  session_token_sealed TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX s3_credentials_by_learner ON s3_credentials (learner_id, expires_at);

CREATE TABLE progress (
  learner_id TEXT COLLATE "C" NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  page TEXT COLLATE "C" NOT NULL,
  step TEXT COLLATE "C" NOT NULL,
  done_at BIGINT NOT NULL,
  PRIMARY KEY (learner_id, page, step)
);

-- The lab instance a check last passed in (checks/requires.ts).
CREATE TABLE check_passes (
  learner_id TEXT COLLATE "C" NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  lab TEXT COLLATE "C" NOT NULL,
  check_id TEXT COLLATE "C" NOT NULL,
  instance TEXT NOT NULL,
  passed_at BIGINT NOT NULL,
  PRIMARY KEY (learner_id, lab, check_id)
);
