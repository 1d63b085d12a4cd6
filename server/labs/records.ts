/**
 * Lab sessions as rows every replica reads (PostgreSQL), so that any replica serves any lab:
 * its terminal, its checks, its extension. Each replica keeps all of them in memory (a school's
 * sessions are thousands at most) and re-reads a row when the bus says it changed; writes are
 * JSON merges of the fields a change touched, so that two replicas changing different fields of
 * one session (a start's progress, an extension) never undo each other.
 */
import pg from 'pg';
import type { Session } from './sessions.ts';

/** A session as stored: what another replica needs to serve it (never a token or an environment value). */
export type SessionRecord = Omit<Session, 'lab' | 'ready'> & {
  /** SHA-256 of each token, hex. */
  tokenHashes: string[];
  /** The replica that started (or queued) it. */
  holder: string;
};

export interface SessionRecords {
  insert(record: SessionRecord): Promise<void>;
  /** Merges these fields into the row, if it still exists. */
  patch(id: string, fields: Partial<SessionRecord>): Promise<void>;
  /** Appends a token hash, keeping the last `keep`. */
  addToken(id: string, hash: string, keep: number): Promise<void>;
  remove(id: string): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  all(): Promise<SessionRecord[]>;
  close(): Promise<void>;
}

export class PgSessionRecords implements SessionRecords {
  readonly #pool: pg.Pool;

  /** The schema is the learner store's migrations (002_lab_sessions.sql), applied when the store opens. */
  constructor(url: string) {
    this.#pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    // A connection the server ends is replaced on the next query; its error must not crash us.
    this.#pool.on('error', () => {});
  }

  async insert(record: SessionRecord): Promise<void> {
    await this.#pool.query('INSERT INTO lab_sessions (id, record, updated_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET record = $2, updated_at = $3', [
      record.id,
      JSON.stringify(record),
      Date.now(),
    ]);
  }

  async patch(id: string, fields: Partial<SessionRecord>): Promise<void> {
    await this.#pool.query('UPDATE lab_sessions SET record = record || $2::jsonb, updated_at = $3 WHERE id = $1', [id, JSON.stringify(fields), Date.now()]);
  }

  async addToken(id: string, hash: string, keep: number): Promise<void> {
    // In one statement: two replicas adding tokens at once both keep theirs.
    await this.#pool.query(
      `UPDATE lab_sessions SET updated_at = $4, record = jsonb_set(record, '{tokenHashes}',
         (SELECT COALESCE(jsonb_agg(value ORDER BY ordinality), '[]'::jsonb) FROM (
            SELECT value, ordinality FROM jsonb_array_elements(record->'tokenHashes' || to_jsonb($2::text)) WITH ORDINALITY
            ORDER BY ordinality DESC LIMIT $3) kept))
       WHERE id = $1`,
      [id, hash, keep, Date.now()],
    );
  }

  async remove(id: string): Promise<void> {
    await this.#pool.query('DELETE FROM lab_sessions WHERE id = $1', [id]);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const { rows } = await this.#pool.query<{ record: SessionRecord }>('SELECT record FROM lab_sessions WHERE id = $1', [id]);
    return rows[0]?.record;
  }

  async all(): Promise<SessionRecord[]> {
    const { rows } = await this.#pool.query<{ record: SessionRecord }>('SELECT record FROM lab_sessions');
    return rows.map((row) => row.record);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
