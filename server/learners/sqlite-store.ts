import { DatabaseSync } from 'node:sqlite';
import type { Sealer } from './sealed.ts';
import type { AccountProfile, CheckPass, GitSettings, Learner, LearnerCursor, LearnerStore, S3Credentials, SecretVars, StoreMerge, UnseenLearner } from './store.ts';
import * as accounts from './accounts-sql.ts';
import { statementCache, type StatementCache } from '../sqlite.ts';
import { newGitToken, newLearnerId, newS3Credentials, sha256 } from './mint.ts';

/** Forward-only schema migrations; the database records how many have run. */
const migrations: string[] = [
  `CREATE TABLE learners (
     id TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     git_name TEXT NOT NULL DEFAULT '',
     git_email TEXT NOT NULL DEFAULT ''
   );
   CREATE TABLE git_tokens (
     learner_id TEXT PRIMARY KEY REFERENCES learners(id) ON DELETE CASCADE,
     token_hash TEXT NOT NULL UNIQUE,
     token_sealed TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE secret_groups (
     learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     names TEXT NOT NULL,
     vars_sealed TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (learner_id, name)
   );
   CREATE TABLE s3_credentials (
     access_key_id TEXT PRIMARY KEY,
     learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
     secret_sealed TEXT NOT NULL,
     session_token_hash TEXT NOT NULL,
     session_token_sealed TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX s3_credentials_by_learner ON s3_credentials(learner_id, expires_at);
   CREATE TABLE progress (
     learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
     page TEXT NOT NULL,
     step TEXT NOT NULL,
     done_at INTEGER NOT NULL,
     PRIMARY KEY (learner_id, page, step)
   );`,
  // Anonymous learners are purged once unseen for a while: the sweep walks them by last sighting.
  `ALTER TABLE learners ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
   UPDATE learners SET last_seen = created_at;
   CREATE INDEX learners_by_last_seen ON learners(last_seen, id);`,
  // The lab instance a check last passed in, per learner: "the file is gone after a relaunch"
  // passes only in another instance than the one where the file was seen (checks/requires.ts).
  `CREATE TABLE check_passes (
     learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
     lab TEXT NOT NULL,
     check_id TEXT NOT NULL,
     instance TEXT NOT NULL,
     passed_at INTEGER NOT NULL,
     PRIMARY KEY (learner_id, lab, check_id)
   );`,
  // Classes (server/classes/store.ts; PostgreSQL: migrations/003_classes.sql).
  `CREATE TABLE classes (
     id TEXT PRIMARY KEY,
     trainer_id TEXT NOT NULL,
     course TEXT NOT NULL,
     title TEXT NOT NULL,
     join_code TEXT NOT NULL UNIQUE,
     starts_at INTEGER NOT NULL,
     ends_at INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     closed_at INTEGER
   );
   CREATE INDEX classes_by_trainer ON classes(trainer_id, created_at);
   CREATE TABLE class_members (
     class_id TEXT NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
     learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
     display_name TEXT NOT NULL,
     joined_at INTEGER NOT NULL,
     PRIMARY KEY (class_id, learner_id)
   );
   CREATE INDEX class_members_by_learner ON class_members(learner_id);
   CREATE TABLE check_outcomes (
     learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
     lab TEXT NOT NULL,
     check_id TEXT NOT NULL,
     passed INTEGER NOT NULL,
     feedback TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (learner_id, lab, check_id)
   );
   CREATE TABLE class_messages (
     id TEXT PRIMARY KEY,
     class_id TEXT NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
     learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
     text TEXT NOT NULL,
     sent_at INTEGER NOT NULL,
     read_at INTEGER
   );
   CREATE INDEX class_messages_unread ON class_messages(learner_id, sent_at) WHERE read_at IS NULL;`,
  // Accounts of signed-in people (server/auth/; PostgreSQL: migrations/004_accounts.sql).
  `CREATE TABLE accounts (
     issuer TEXT NOT NULL,
     subject TEXT NOT NULL,
     learner_id TEXT NOT NULL UNIQUE REFERENCES learners(id) ON DELETE CASCADE,
     name TEXT NOT NULL DEFAULT '',
     email TEXT NOT NULL DEFAULT '',
     trainer INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     signed_in_at INTEGER NOT NULL,
     merge_report TEXT,
     PRIMARY KEY (issuer, subject)
   );`,
  // Steps done by their solve script (server/http/solve.ts; PostgreSQL: migrations/005_skipped_steps.sql).
  `CREATE TABLE skipped_steps (
     learner_id TEXT NOT NULL,
     page TEXT NOT NULL,
     step TEXT NOT NULL,
     PRIMARY KEY (learner_id, page, step),
     FOREIGN KEY (learner_id, page, step) REFERENCES progress (learner_id, page, step) ON DELETE CASCADE
   );`,
];

/** PostgreSQL's `$n` placeholders as SQLite numbers them. */
const numbered = (text: string): string => text.replaceAll(/\$(\d+)/g, '?$1');

export interface SqliteLearnerStoreOptions {
  path: string;
  sealer: Sealer;
  /** Lifetime of minted S3 credentials. */
  s3CredentialTtlMs?: number;
  now?: () => number;
}

export class SqliteLearnerStore implements LearnerStore {
  readonly #db: DatabaseSync;
  readonly #sql: StatementCache;
  readonly #sealer: Sealer;
  readonly #s3Ttl: number;
  readonly #now: () => number;

  constructor({ path, sealer, s3CredentialTtlMs = 24 * 3600e3, now = Date.now }: SqliteLearnerStoreOptions) {
    this.#db = new DatabaseSync(path);
    this.#sql = statementCache(this.#db);
    this.#sealer = sealer;
    this.#s3Ttl = s3CredentialTtlMs;
    this.#now = now;
    // WAL: readers never wait for a writer; synchronous=NORMAL is durable across process crashes.
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
    this.#migrate();
  }


  #migrate(): void {
    const version = (this.#sql('PRAGMA user_version').get() as { user_version: number }).user_version;
    for (let next = version; next < migrations.length; next += 1) {
      this.#db.exec('BEGIN');
      try {
        this.#db.exec(migrations[next]!);
        this.#db.exec(`PRAGMA user_version = ${next + 1}`);
        this.#db.exec('COMMIT');
      } catch (error) {
        this.#db.exec('ROLLBACK');
        throw error;
      }
    }
  }

  async create(): Promise<Learner> {
    const now = this.#now();
    const learner: Learner = { id: newLearnerId(), createdAt: now, lastSeenAt: now, git: { name: '', email: '' } };
    this.#sql('INSERT INTO learners (id, created_at, last_seen) VALUES (?, ?, ?)').run(learner.id, now, now);
    return learner;
  }

  async get(id: string): Promise<Learner | undefined> {
    const row = this.#sql(numbered(accounts.selectLearner)).get(id) as accounts.LearnerRow | undefined;
    return row && accounts.learnerOfRow(row);
  }

  async touch(id: string): Promise<void> {
    this.#sql('UPDATE learners SET last_seen = ? WHERE id = ?').run(this.#now(), id);
  }

  async unseenLearners(before: number, cursor: LearnerCursor | undefined, limit: number): Promise<UnseenLearner[]> {
    // A range of the (last_seen, id) index, LIMIT rows: each tick of a purge does bounded work
    // however many learners are kept, and the subqueries are primary-key/index lookups.
    const rows = this.#sql(
        `SELECT id, last_seen,
           git_name <> '' OR git_email <> ''
             OR EXISTS (SELECT 1 FROM secret_groups WHERE learner_id = l.id)
             OR EXISTS (SELECT 1 FROM progress WHERE learner_id = l.id)
             OR EXISTS (SELECT 1 FROM accounts WHERE learner_id = l.id) AS holds_data
         FROM learners l
         WHERE last_seen < ? AND (last_seen, id) > (?, ?)
         ORDER BY last_seen, id LIMIT ?`,
      )
      .all(before, cursor?.lastSeenAt ?? -1, cursor?.id ?? '', limit) as { id: string; last_seen: number; holds_data: number }[];
    return rows.map((row) => ({ id: row.id, lastSeenAt: row.last_seen, holdsData: row.holds_data !== 0 }));
  }

  async deleteIfIdle(id: string, before: number): Promise<boolean> {
    // Tokens, credentials, secrets and progress go with the row (ON DELETE CASCADE).
    return this.#sql('DELETE FROM learners WHERE id = ?1 AND last_seen < ?2 AND NOT EXISTS (SELECT 1 FROM accounts WHERE learner_id = ?1)').run(id, before).changes > 0;
  }

  async setGit(id: string, git: GitSettings): Promise<void> {
    this.#sql('UPDATE learners SET git_name = ?, git_email = ? WHERE id = ?').run(git.name, git.email, id);
  }

  async rotateGitToken(id: string): Promise<string> {
    const token = newGitToken();
    this.#sql(
        `INSERT INTO git_tokens (learner_id, token_hash, token_sealed, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(learner_id) DO UPDATE SET token_hash = excluded.token_hash, token_sealed = excluded.token_sealed, created_at = excluded.created_at`,
      )
      .run(id, sha256(token), this.#sealer.seal(token), this.#now());
    return token;
  }

  async gitToken(id: string): Promise<string | undefined> {
    const row = this.#sql('SELECT token_sealed FROM git_tokens WHERE learner_id = ?').get(id) as { token_sealed: string } | undefined;
    return row && this.#sealer.open(row.token_sealed);
  }

  async learnerByGitToken(token: string): Promise<string | undefined> {
    const row = this.#sql('SELECT learner_id FROM git_tokens WHERE token_hash = ?').get(sha256(token)) as { learner_id: string } | undefined;
    return row?.learner_id;
  }

  async secretGroups(id: string): Promise<{ group: string; names: string[]; updatedAt: number }[]> {
    const rows = this.#sql('SELECT name, names, updated_at FROM secret_groups WHERE learner_id = ? ORDER BY name').all(id) as {
      name: string;
      names: string;
      updated_at: number;
    }[];
    return rows.map((row) => ({ group: row.name, names: JSON.parse(row.names) as string[], updatedAt: row.updated_at }));
  }

  async secretGroup(id: string, group: string): Promise<SecretVars | undefined> {
    const row = this.#sql('SELECT vars_sealed FROM secret_groups WHERE learner_id = ? AND name = ?').get(id, group) as
      | { vars_sealed: string }
      | undefined;
    return row && (JSON.parse(this.#sealer.open(row.vars_sealed)) as SecretVars);
  }

  async putSecretGroup(id: string, group: string, vars: SecretVars): Promise<void> {
    this.#sql(
        `INSERT INTO secret_groups (learner_id, name, names, vars_sealed, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(learner_id, name) DO UPDATE SET names = excluded.names, vars_sealed = excluded.vars_sealed, updated_at = excluded.updated_at`,
      )
      .run(id, group, JSON.stringify(Object.keys(vars).sort()), this.#sealer.seal(JSON.stringify(vars)), this.#now());
  }

  async deleteSecretGroup(id: string, group: string): Promise<boolean> {
    return this.#sql('DELETE FROM secret_groups WHERE learner_id = ? AND name = ?').run(id, group).changes > 0;
  }

  async s3Credentials(id: string): Promise<S3Credentials> {
    const now = this.#now();
    // Reuse credentials with at least a quarter of their life left, so labs launched in a row share them.
    const row = this.#sql('SELECT access_key_id FROM s3_credentials WHERE learner_id = ? AND expires_at > ? ORDER BY expires_at DESC LIMIT 1')
      .get(id, now + this.#s3Ttl / 4) as { access_key_id: string } | undefined;
    if (row) {
      const { learnerId: _owner, ...current } = (await this.s3CredentialsByAccessKey(row.access_key_id))!;
      return current;
    }
    const credentials = newS3Credentials(now + this.#s3Ttl);
    this.#sql('DELETE FROM s3_credentials WHERE learner_id = ? AND expires_at <= ?').run(id, now);
    this.#sql(
        'INSERT INTO s3_credentials (access_key_id, learner_id, secret_sealed, session_token_hash, session_token_sealed, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        credentials.accessKeyId,
        id,
        this.#sealer.seal(credentials.secretAccessKey),
        sha256(credentials.sessionToken),
        this.#sealer.seal(credentials.sessionToken),
        credentials.expiresAt,
      );
    return credentials;
  }

  async rotateS3Credentials(id: string): Promise<S3Credentials> {
    // Deleting every key of the learner first: the next lookup mints a fresh one, and requests
    // (presigned URLs included) signed with an old key fail with InvalidAccessKeyId from now on.
    this.#sql('DELETE FROM s3_credentials WHERE learner_id = ?').run(id);
    return this.s3Credentials(id);
  }

  async s3CredentialsByAccessKey(accessKeyId: string): Promise<(S3Credentials & { learnerId: string }) | undefined> {
    const row = this.#sql('SELECT learner_id, secret_sealed, session_token_sealed, expires_at FROM s3_credentials WHERE access_key_id = ?')
      .get(accessKeyId) as { learner_id: string; secret_sealed: string; session_token_sealed: string; expires_at: number } | undefined;
    return (
      row && {
        learnerId: row.learner_id,
        accessKeyId,
        secretAccessKey: this.#sealer.open(row.secret_sealed),
        sessionToken: this.#sealer.open(row.session_token_sealed),
        expiresAt: row.expires_at,
      }
    );
  }

  async progress(id: string, page: string): Promise<string[]> {
    return (this.#sql('SELECT step FROM progress WHERE learner_id = ? AND page = ? ORDER BY done_at').all(id, page) as { step: string }[]).map(
      (row) => row.step,
    );
  }

  async allProgress(id: string): Promise<Record<string, string[]>> {
    const pages: Record<string, string[]> = {};
    const rows = this.#sql('SELECT page, step FROM progress WHERE learner_id = ? ORDER BY page, done_at').all(id) as { page: string; step: string }[];
    for (const { page, step } of rows) (pages[page] ??= []).push(step);
    return pages;
  }

  async markSkipped(id: string, page: string, step: string): Promise<boolean> {
    return this.#sql('INSERT OR IGNORE INTO skipped_steps (learner_id, page, step) SELECT learner_id, page, step FROM progress WHERE learner_id = ? AND page = ? AND step = ?').run(id, page, step).changes > 0;
  }

  async skippedSteps(id: string): Promise<Record<string, string[]>> {
    const pages: Record<string, string[]> = {};
    const rows = this.#sql('SELECT p.page, p.step FROM skipped_steps s JOIN progress p USING (learner_id, page, step) WHERE s.learner_id = ? ORDER BY p.page, p.done_at').all(id) as { page: string; step: string }[];
    for (const { page, step } of rows) (pages[page] ??= []).push(step);
    return pages;
  }

  async progressPages(id: string): Promise<number> {
    return (this.#sql('SELECT COUNT(DISTINCT page) AS pages FROM progress WHERE learner_id = ?').get(id) as { pages: number }).pages;
  }

  async setProgress(id: string, page: string, step: string, done: boolean): Promise<boolean> {
    if (done) {
      return this.#sql('INSERT OR IGNORE INTO progress (learner_id, page, step, done_at) VALUES (?, ?, ?, ?)').run(id, page, step, this.#now()).changes > 0;
    }
    return this.#sql('DELETE FROM progress WHERE learner_id = ? AND page = ? AND step = ?').run(id, page, step).changes > 0;
  }

  async recordCheckPass(id: string, lab: string, check: string, instance: string): Promise<void> {
    this.#sql(
      `INSERT INTO check_passes (learner_id, lab, check_id, instance, passed_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(learner_id, lab, check_id) DO UPDATE SET instance = excluded.instance, passed_at = excluded.passed_at`,
    ).run(id, lab, check, instance, this.#now());
  }

  async lastCheckPass(id: string, lab: string, check: string): Promise<CheckPass | undefined> {
    const row = this.#sql('SELECT instance, passed_at FROM check_passes WHERE learner_id = ? AND lab = ? AND check_id = ?').get(id, lab, check) as
      | { instance: string; passed_at: number }
      | undefined;
    return row && { instance: row.instance, passedAt: row.passed_at };
  }

  async accountLearner(issuer: string, subject: string): Promise<string | undefined> {
    return (this.#sql(numbered(accounts.selectAccountLearner)).get(issuer, subject) as { learner_id: string } | undefined)?.learner_id;
  }

  async linkAccount(id: string, issuer: string, subject: string, profile: AccountProfile): Promise<string | undefined> {
    const [name, email, trainer, signedInAt, report] = accounts.profileValues(profile);
    this.#sql(numbered(accounts.insertAccount)).run(issuer, subject, id, name, email, trainer, signedInAt, report);
    return this.accountLearner(issuer, subject);
  }

  async updateAccount(id: string, profile: AccountProfile): Promise<void> {
    this.#sql(numbered(accounts.updateAccount)).run(id, ...accounts.profileValues(profile));
  }

  async mergeLearner(from: string, into: string): Promise<StoreMerge> {
    const run = (text: string) => this.#sql(numbered(text));
    this.#db.exec('BEGIN');
    try {
      run(accounts.merge.unmarkKept).run(from, into);
      const steps = Number(run(accounts.merge.steps).run(from, into).changes);
      run(accounts.merge.skipped).run(from, into);
      run(accounts.merge.dropSteps).run(from);
      run(accounts.merge.passes).run(from, into);
      const names = (text: string) => (run(text).all(from, into) as { name: string }[]).map((row) => row.name);
      const secretGroupsKept = names(accounts.merge.keptGroups);
      const secretGroups = names(accounts.merge.movedGroups).sort();
      const git = run(accounts.merge.git).run(from, into).changes > 0;
      run(accounts.merge.token).run(from, into);
      const classes = Number(run(accounts.merge.classes).run(from, into).changes);
      run(accounts.merge.outcomes).run(from, into);
      run(accounts.merge.messages).run(from, into);
      this.#db.exec('COMMIT');
      return { steps, secretGroups, secretGroupsKept, git, classes };
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async deleteAnonymous(id: string): Promise<boolean> {
    return this.#sql(numbered(accounts.deleteAnonymous)).run(id).changes > 0;
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
