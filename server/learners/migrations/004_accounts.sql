-- Accounts of people signed in with the school's OpenID Connect provider (server/auth/): the
-- provider's (issuer, subject) names one learner, whose data is then theirs on every device. A
-- learner with an account is never purged as anonymous. `trainer` is the configured claim as the
-- last sign-in had it; `merge_report` (JSON) says what the last sign-in brought in from the
-- device's anonymous learner and what it left.
CREATE TABLE accounts (
  issuer TEXT COLLATE "C" NOT NULL,
  subject TEXT COLLATE "C" NOT NULL,
  learner_id TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES learners (id) ON DELETE CASCADE,
  name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  trainer BOOLEAN NOT NULL DEFAULT FALSE,
  created_at BIGINT NOT NULL,
  signed_in_at BIGINT NOT NULL,
  merge_report TEXT,
  PRIMARY KEY (issuer, subject)
);
