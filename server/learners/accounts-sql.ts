/**
 * The accounts' statements, one text for both stores (PostgreSQL's `$n` placeholders; the
 * SQLite store numbers them `?n`): a learner read with its account, linking, and the merge of a
 * device's anonymous learner into an account's learner (server/auth/accounts.ts).
 */
import type { Account, AccountProfile, Learner } from './store.ts';

export const selectLearner = `SELECT l.id, l.created_at, l.last_seen, l.git_name, l.git_email,
    a.issuer, a.subject, a.name, a.email, a.trainer, a.signed_in_at, a.merge_report
  FROM learners l LEFT JOIN accounts a ON a.learner_id = l.id WHERE l.id = $1`;

export interface LearnerRow {
  id: string;
  created_at: number;
  last_seen: number;
  git_name: string;
  git_email: string;
  issuer: string | null;
  subject: string | null;
  name: string | null;
  email: string | null;
  /** SQLite: 0 or 1. */
  trainer: boolean | number | null;
  signed_in_at: number | null;
  merge_report: string | null;
}

export function learnerOfRow(row: LearnerRow): Learner {
  const learner: Learner = { id: row.id, createdAt: row.created_at, lastSeenAt: row.last_seen, git: { name: row.git_name, email: row.git_email } };
  if (row.issuer === null || row.subject === null) return learner;
  const account: Account = {
    issuer: row.issuer,
    subject: row.subject,
    name: row.name ?? '',
    email: row.email ?? '',
    trainer: Boolean(row.trainer),
    signedInAt: row.signed_in_at ?? 0,
    ...(row.merge_report === null ? {} : { mergeReport: row.merge_report }),
  };
  return { ...learner, account };
}

export const selectAccountLearner = 'SELECT learner_id FROM accounts WHERE issuer = $1 AND subject = $2';

/** Does nothing when the account or the learner is linked already (the caller reads who won). */
export const insertAccount = `INSERT INTO accounts (issuer, subject, learner_id, name, email, trainer, created_at, signed_in_at, merge_report)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ON CONFLICT DO NOTHING`;

export const updateAccount = 'UPDATE accounts SET name = $2, email = $3, trainer = $4, signed_in_at = $5, merge_report = $6 WHERE learner_id = $1';

export function profileValues(profile: AccountProfile): [string, string, number, number, string | null] {
  // 1/0 rather than a boolean: node:sqlite binds no booleans, PostgreSQL reads '1' as true.
  return [profile.name, profile.email, profile.trainer ? 1 : 0, profile.signedInAt, profile.mergeReport ?? null];
}

/** Never an account's learner: a signed-in learner is not anonymous, however long unseen. */
export const deleteAnonymous = 'DELETE FROM learners WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM accounts WHERE learner_id = $1)';

/**
 * The merge, statement by statement, in one transaction; `$1` the device's learner, `$2` the
 * account's. Conflicts keep the account's row.
 */
export const merge = {
  steps: `INSERT INTO progress (learner_id, page, step, done_at)
    SELECT $2, page, step, done_at FROM progress WHERE learner_id = $1 ON CONFLICT DO NOTHING`,
  // Skip marks (migration 005) follow the steps that come from the device: first those of steps
  // the account had done itself are dropped (its own row stays, unmarked), then the rest move.
  unmarkKept: `DELETE FROM skipped_steps WHERE learner_id = $1
    AND EXISTS (SELECT 1 FROM progress a WHERE a.learner_id = $2 AND a.page = skipped_steps.page AND a.step = skipped_steps.step)`,
  skipped: `INSERT INTO skipped_steps (learner_id, page, step)
    SELECT $2, page, step FROM skipped_steps WHERE learner_id = $1 ON CONFLICT DO NOTHING`,
  dropSteps: 'DELETE FROM progress WHERE learner_id = $1',
  passes: `INSERT INTO check_passes (learner_id, lab, check_id, instance, passed_at)
    SELECT $2, lab, check_id, instance, passed_at FROM check_passes WHERE learner_id = $1 ON CONFLICT DO NOTHING`,
  keptGroups: `SELECT name FROM secret_groups d WHERE learner_id = $1
    AND EXISTS (SELECT 1 FROM secret_groups a WHERE a.learner_id = $2 AND a.name = d.name) ORDER BY name`,
  // Sealed with the one server key: moved as they are.
  movedGroups: `UPDATE secret_groups SET learner_id = $2 WHERE learner_id = $1
    AND name NOT IN (SELECT name FROM secret_groups WHERE learner_id = $2) RETURNING name`,
  git: `UPDATE learners SET git_name = (SELECT git_name FROM learners WHERE id = $1), git_email = (SELECT git_email FROM learners WHERE id = $1)
    WHERE id = $2 AND git_name = '' AND git_email = ''
    AND EXISTS (SELECT 1 FROM learners WHERE id = $1 AND (git_name <> '' OR git_email <> ''))`,
  // The device's labs and clones keep pushing with it when the account had no token.
  token: 'UPDATE git_tokens SET learner_id = $2 WHERE learner_id = $1 AND NOT EXISTS (SELECT 1 FROM git_tokens WHERE learner_id = $2)',
  // Classes joined on the device (migration 003): the account is a member of them as well, the
  // class view keeps the latest outcome of each check, and unread messages follow.
  classes: `INSERT INTO class_members (class_id, learner_id, display_name, joined_at)
    SELECT class_id, $2, display_name, joined_at FROM class_members WHERE learner_id = $1 ON CONFLICT DO NOTHING`,
  outcomes: `INSERT INTO check_outcomes (learner_id, lab, check_id, passed, feedback, at)
    SELECT $2, lab, check_id, passed, feedback, at FROM check_outcomes WHERE learner_id = $1
    ON CONFLICT (learner_id, lab, check_id) DO UPDATE SET passed = excluded.passed, feedback = excluded.feedback, at = excluded.at
    WHERE excluded.at > check_outcomes.at`,
  messages: 'UPDATE class_messages SET learner_id = $2 WHERE learner_id = $1',
};
