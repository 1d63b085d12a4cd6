/**
 * The learner store on PostgreSQL, which several lab-server replicas share: the same data and
 * semantics as `SqliteLearnerStore` (same hashes, sealing and ids: mint.ts), through a pool of
 * connections and parameterized queries only. The schema is the numbered SQL files of
 * `migrations/`, applied by `migrate` when a store opens.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import type { Sealer } from './sealed.ts';
import type { AccountProfile, CheckPass, GitSettings, Learner, LearnerCursor, LearnerStore, S3Credentials, SecretVars, StoreMerge, UnseenLearner } from './store.ts';
import * as accounts from './accounts-sql.ts';
import { newGitToken, newLearnerId, newS3Credentials, sha256 } from './mint.ts';

const migrationsDir = new URL('./migrations/', import.meta.url);

/**
 * Any number that no other part of a shared database would pick: migrators of every replica
 * queue on it, so two replicas starting at once apply each migration once.
 */
const migrationLock = 0x4154_454c_4945_52n;

const int8 = 20;
/** Times are epoch milliseconds and counts are small: BIGINT fits a JS number exactly. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === int8 ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser,
};

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** `migrations/NNN_name.sql`, in order of NNN. */
export function readMigrations(dir: URL = migrationsDir): Migration[] {
  return readdirSync(dir)
    .flatMap((file) => {
      const match = /^(\d+)_([a-z0-9_-]+)\.sql$/.exec(file);
      return match ? [{ version: Number(match[1]), name: match[2]!, sql: readFileSync(new URL(file, dir), 'utf8') }] : [];
    })
    .sort((a, b) => a.version - b.version);
}

/**
 * Applies the migrations the database has not seen, in order, in one transaction under an
 * advisory lock: a replica starting while another migrates waits for it, then finds nothing to
 * do. Versions the database has and this code does not know are a newer replica's (a rolling
 * upgrade): left as they are. Returns the versions applied.
 */
export async function migrate(pool: pg.Pool, migrations: Migration[] = readMigrations()): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLock]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((row) => row.version));
    const applied: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, Date.now()]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export interface PgLearnerStoreOptions {
  /** `postgres://user:password@host:port/database` (or `?host=/socket/dir`). */
  url: string;
  sealer: Sealer;
  /** Lifetime of minted S3 credentials. */
  s3CredentialTtlMs?: number;
  now?: () => number;
  /** Connections this replica holds at most. */
  maxConnections?: number;
  /** An idle pooled connection failed (the server restarted): the pool replaces it. */
  onError?: (error: Error) => void;
}

export class PgLearnerStore implements LearnerStore {
  readonly #pool: pg.Pool;
  readonly #sealer: Sealer;
  readonly #s3Ttl: number;
  readonly #now: () => number;

  private constructor(pool: pg.Pool, { sealer, s3CredentialTtlMs = 24 * 3600e3, now = Date.now }: PgLearnerStoreOptions) {
    this.#pool = pool;
    this.#sealer = sealer;
    this.#s3Ttl = s3CredentialTtlMs;
    this.#now = now;
  }

  /** Connects and migrates the database; the store is ready when this resolves. */
  static async open(options: PgLearnerStoreOptions): Promise<PgLearnerStore> {
    // A database out of reach fails requests within seconds rather than holding them forever.
    const pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 10, connectionTimeoutMillis: 10_000, types });
    // Without a listener an idle connection's error would end the process.
    pool.on('error', (error) => options.onError?.(error));
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PgLearnerStore(pool, options);
  }

  async #rows<Row extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<Row[]> {
    return (await this.#pool.query<Row>(text, values)).rows;
  }

  async #changes(text: string, values: unknown[]): Promise<number> {
    return (await this.#pool.query(text, values)).rowCount ?? 0;
  }

  async create(): Promise<Learner> {
    const now = this.#now();
    const learner: Learner = { id: newLearnerId(), createdAt: now, lastSeenAt: now, git: { name: '', email: '' } };
    await this.#changes('INSERT INTO learners (id, created_at, last_seen) VALUES ($1, $2, $3)', [learner.id, now, now]);
    return learner;
  }

  async get(id: string): Promise<Learner | undefined> {
    const [row] = await this.#rows<accounts.LearnerRow>(accounts.selectLearner, [id]);
    return row && accounts.learnerOfRow(row);
  }

  async touch(id: string): Promise<void> {
    await this.#changes('UPDATE learners SET last_seen = $1 WHERE id = $2', [this.#now(), id]);
  }

  async unseenLearners(before: number, cursor: LearnerCursor | undefined, limit: number): Promise<UnseenLearner[]> {
    // A range of the (last_seen, id) index, as in SQLite: bounded work per page.
    const rows = await this.#rows<{ id: string; last_seen: number; holds_data: boolean }>(
      `SELECT id, last_seen,
         git_name <> '' OR git_email <> ''
           OR EXISTS (SELECT 1 FROM secret_groups WHERE learner_id = l.id)
           OR EXISTS (SELECT 1 FROM progress WHERE learner_id = l.id)
           OR EXISTS (SELECT 1 FROM accounts WHERE learner_id = l.id) AS holds_data
       FROM learners l
       WHERE last_seen < $1 AND (last_seen, id) > ($2, $3)
       ORDER BY last_seen, id LIMIT $4`,
      [before, cursor?.lastSeenAt ?? -1, cursor?.id ?? '', limit],
    );
    return rows.map((row) => ({ id: row.id, lastSeenAt: row.last_seen, holdsData: row.holds_data }));
  }

  async deleteIfIdle(id: string, before: number): Promise<boolean> {
    // Tokens, credentials, secrets and progress go with the row (ON DELETE CASCADE); the
    // condition is checked in the same statement, so a learner back meanwhile on any replica is kept.
    return (await this.#changes('DELETE FROM learners WHERE id = $1 AND last_seen < $2 AND NOT EXISTS (SELECT 1 FROM accounts WHERE learner_id = $1)', [id, before])) > 0;
  }

  async setGit(id: string, git: GitSettings): Promise<void> {
    await this.#changes('UPDATE learners SET git_name = $1, git_email = $2 WHERE id = $3', [git.name, git.email, id]);
  }

  async rotateGitToken(id: string): Promise<string> {
    const token = newGitToken();
    await this.#changes(
      `INSERT INTO git_tokens (learner_id, token_hash, token_sealed, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (learner_id) DO UPDATE SET token_hash = excluded.token_hash, token_sealed = excluded.token_sealed, created_at = excluded.created_at`,
      [id, sha256(token), this.#sealer.seal(token), this.#now()],
    );
    return token;
  }

  async gitToken(id: string): Promise<string | undefined> {
    const [row] = await this.#rows<{ token_sealed: string }>('SELECT token_sealed FROM git_tokens WHERE learner_id = $1', [id]);
    return row && this.#sealer.open(row.token_sealed);
  }

  async learnerByGitToken(token: string): Promise<string | undefined> {
    const [row] = await this.#rows<{ learner_id: string }>('SELECT learner_id FROM git_tokens WHERE token_hash = $1', [sha256(token)]);
    return row?.learner_id;
  }

  async secretGroups(id: string): Promise<{ group: string; names: string[]; updatedAt: number }[]> {
    const rows = await this.#rows<{ name: string; names: string; updated_at: number }>(
      'SELECT name, names, updated_at FROM secret_groups WHERE learner_id = $1 ORDER BY name',
      [id],
    );
    return rows.map((row) => ({ group: row.name, names: JSON.parse(row.names) as string[], updatedAt: row.updated_at }));
  }

  async secretGroup(id: string, group: string): Promise<SecretVars | undefined> {
    const [row] = await this.#rows<{ vars_sealed: string }>('SELECT vars_sealed FROM secret_groups WHERE learner_id = $1 AND name = $2', [id, group]);
    return row && (JSON.parse(this.#sealer.open(row.vars_sealed)) as SecretVars);
  }

  async putSecretGroup(id: string, group: string, vars: SecretVars): Promise<void> {
    await this.#changes(
      `INSERT INTO secret_groups (learner_id, name, names, vars_sealed, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (learner_id, name) DO UPDATE SET names = excluded.names, vars_sealed = excluded.vars_sealed, updated_at = excluded.updated_at`,
      [id, group, JSON.stringify(Object.keys(vars).sort()), this.#sealer.seal(JSON.stringify(vars)), this.#now()],
    );
  }

  async deleteSecretGroup(id: string, group: string): Promise<boolean> {
    return (await this.#changes('DELETE FROM secret_groups WHERE learner_id = $1 AND name = $2', [id, group])) > 0;
  }

  async s3Credentials(id: string): Promise<S3Credentials> {
    const now = this.#now();
    // Reuse credentials with at least a quarter of their life left, so labs launched in a row share them.
    const [row] = await this.#rows<{ access_key_id: string; secret_sealed: string; session_token_sealed: string; expires_at: number }>(
      `SELECT access_key_id, secret_sealed, session_token_sealed, expires_at FROM s3_credentials
       WHERE learner_id = $1 AND expires_at > $2 ORDER BY expires_at DESC LIMIT 1`,
      [id, now + this.#s3Ttl / 4],
    );
    if (row) return this.#opened(row);
    return this.#mint(id, now, now);
  }

  async rotateS3Credentials(id: string): Promise<S3Credentials> {
    // Every key of the learner goes: requests signed with an old key fail with InvalidAccessKeyId
    // from then on, and no replica ever sees the learner with no key (see #mint).
    return this.#mint(id, this.#now(), Number.MAX_SAFE_INTEGER);
  }

  /**
   * Stores new credentials and deletes the learner's keys expiring by `dropUpTo` in the same
   * statement, hence one transaction.
   */
  async #mint(id: string, now: number, dropUpTo: number): Promise<S3Credentials> {
    const credentials = newS3Credentials(now + this.#s3Ttl);
    await this.#changes(
      `WITH gone AS (DELETE FROM s3_credentials WHERE learner_id = $2 AND expires_at <= $7)
       INSERT INTO s3_credentials (access_key_id, learner_id, secret_sealed, session_token_hash, session_token_sealed, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        credentials.accessKeyId,
        id,
        this.#sealer.seal(credentials.secretAccessKey),
        sha256(credentials.sessionToken),
        this.#sealer.seal(credentials.sessionToken),
        credentials.expiresAt,
        dropUpTo,
      ],
    );
    return credentials;
  }

  #opened(row: { access_key_id: string; secret_sealed: string; session_token_sealed: string; expires_at: number }): S3Credentials {
    return {
      accessKeyId: row.access_key_id,
      secretAccessKey: this.#sealer.open(row.secret_sealed),
      sessionToken: this.#sealer.open(row.session_token_sealed),
      expiresAt: row.expires_at,
    };
  }

  async s3CredentialsByAccessKey(accessKeyId: string): Promise<(S3Credentials & { learnerId: string }) | undefined> {
    const [row] = await this.#rows<{ learner_id: string; access_key_id: string; secret_sealed: string; session_token_sealed: string; expires_at: number }>(
      'SELECT learner_id, access_key_id, secret_sealed, session_token_sealed, expires_at FROM s3_credentials WHERE access_key_id = $1',
      [accessKeyId],
    );
    return row && { learnerId: row.learner_id, ...this.#opened(row) };
  }

  async progress(id: string, page: string): Promise<string[]> {
    const rows = await this.#rows<{ step: string }>('SELECT step FROM progress WHERE learner_id = $1 AND page = $2 ORDER BY done_at', [id, page]);
    return rows.map((row) => row.step);
  }

  async allProgress(id: string): Promise<Record<string, string[]>> {
    const pages: Record<string, string[]> = {};
    const rows = await this.#rows<{ page: string; step: string }>('SELECT page, step FROM progress WHERE learner_id = $1 ORDER BY page, done_at', [id]);
    for (const { page, step } of rows) (pages[page] ??= []).push(step);
    return pages;
  }

  async markSkipped(id: string, page: string, step: string): Promise<boolean> {
    return (await this.#changes('INSERT INTO skipped_steps (learner_id, page, step) SELECT learner_id, page, step FROM progress WHERE learner_id = $1 AND page = $2 AND step = $3 ON CONFLICT DO NOTHING', [id, page, step])) > 0;
  }

  async skippedSteps(id: string): Promise<Record<string, string[]>> {
    const pages: Record<string, string[]> = {};
    const rows = await this.#rows<{ page: string; step: string }>('SELECT p.page, p.step FROM skipped_steps s JOIN progress p USING (learner_id, page, step) WHERE s.learner_id = $1 ORDER BY p.page, p.done_at', [id]);
    for (const { page, step } of rows) (pages[page] ??= []).push(step);
    return pages;
  }

  async progressPages(id: string): Promise<number> {
    const [row] = await this.#rows<{ pages: number }>('SELECT COUNT(DISTINCT page) AS pages FROM progress WHERE learner_id = $1', [id]);
    return row!.pages;
  }

  async setProgress(id: string, page: string, step: string, done: boolean): Promise<boolean> {
    if (done) {
      return (await this.#changes('INSERT INTO progress (learner_id, page, step, done_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [id, page, step, this.#now()])) > 0;
    }
    return (await this.#changes('DELETE FROM progress WHERE learner_id = $1 AND page = $2 AND step = $3', [id, page, step])) > 0;
  }

  async recordCheckPass(id: string, lab: string, check: string, instance: string): Promise<void> {
    await this.#changes(
      `INSERT INTO check_passes (learner_id, lab, check_id, instance, passed_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (learner_id, lab, check_id) DO UPDATE SET instance = excluded.instance, passed_at = excluded.passed_at`,
      [id, lab, check, instance, this.#now()],
    );
  }

  async lastCheckPass(id: string, lab: string, check: string): Promise<CheckPass | undefined> {
    const [row] = await this.#rows<{ instance: string; passed_at: number }>(
      'SELECT instance, passed_at FROM check_passes WHERE learner_id = $1 AND lab = $2 AND check_id = $3',
      [id, lab, check],
    );
    return row && { instance: row.instance, passedAt: row.passed_at };
  }

  async accountLearner(issuer: string, subject: string): Promise<string | undefined> {
    return (await this.#rows<{ learner_id: string }>(accounts.selectAccountLearner, [issuer, subject]))[0]?.learner_id;
  }

  async linkAccount(id: string, issuer: string, subject: string, profile: AccountProfile): Promise<string | undefined> {
    const [name, email, trainer, signedInAt, report] = accounts.profileValues(profile);
    await this.#changes(accounts.insertAccount, [issuer, subject, id, name, email, trainer, signedInAt, report]);
    return this.accountLearner(issuer, subject);
  }

  async updateAccount(id: string, profile: AccountProfile): Promise<void> {
    await this.#changes(accounts.updateAccount, [id, ...accounts.profileValues(profile)]);
  }

  async mergeLearner(from: string, into: string): Promise<StoreMerge> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const run = (text: string) => client.query<{ name: string }>(text, [from, into]);
      await run(accounts.merge.unmarkKept);
      const steps = (await run(accounts.merge.steps)).rowCount ?? 0;
      await run(accounts.merge.skipped);
      await client.query(accounts.merge.dropSteps, [from]);
      await run(accounts.merge.passes);
      const secretGroupsKept = (await run(accounts.merge.keptGroups)).rows.map((row) => row.name);
      const secretGroups = (await run(accounts.merge.movedGroups)).rows.map((row) => row.name).sort();
      const git = ((await run(accounts.merge.git)).rowCount ?? 0) > 0;
      await run(accounts.merge.token);
      const classes = (await run(accounts.merge.classes)).rowCount ?? 0;
      await run(accounts.merge.outcomes);
      await run(accounts.merge.messages);
      await client.query('COMMIT');
      return { steps, secretGroups, secretGroupsKept, git, classes };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async deleteAnonymous(id: string): Promise<boolean> {
    return (await this.#changes(accounts.deleteAnonymous, [id])) > 0;
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
