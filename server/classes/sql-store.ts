/**
 * The class store on either learner database: one set of queries (the SQL both SQLite and
 * PostgreSQL speak: `?` placeholders, numbered for PostgreSQL; ON CONFLICT upserts) over a
 * two-method runner. The tables are made by the learner store's migrations, which run first.
 */
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { statementCache } from '../sqlite.ts';
import {
  coursePattern,
  newClassId,
  newJoinCode,
  newMessageId,
  type CheckOutcome,
  type ClassMember,
  type ClassMessage,
  type ClassRecord,
  type ClassStore,
  type NewClass,
  type StepDone,
} from './store.ts';

type Row = Record<string, unknown>;

interface Runner {
  all(sql: string, params: unknown[]): Promise<Row[]>;
  /** Rows changed. */
  run(sql: string, params: unknown[]): Promise<number>;
  close(): Promise<void>;
}

function sqliteRunner(path: string): Runner {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  const sql = statementCache(db);
  return {
    all: async (text, params) => sql(text).all(...(params as never[])) as Row[],
    run: async (text, params) => Number(sql(text).run(...(params as never[])).changes),
    close: async () => db.close(),
  };
}

const int8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === int8 ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser,
};

function pgRunner(url: string, onError: (error: Error) => void): Runner {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000, types });
  pool.on('error', onError);
  const numbered = new Map<string, string>();
  const text = (query: string) => {
    let out = numbered.get(query);
    if (out === undefined) {
      let n = 0;
      out = query.replace(/\?/g, () => `$${(n += 1)}`);
      numbered.set(query, out);
    }
    return out;
  };
  return {
    all: async (query, params) => (await pool.query(text(query), params)).rows as Row[],
    run: async (query, params) => (await pool.query(text(query), params)).rowCount ?? 0,
    close: () => pool.end(),
  };
}

const classColumns = 'id, trainer_id, course, title, join_code, starts_at, ends_at, created_at, closed_at';

function classOf(row: Row): ClassRecord {
  return {
    id: row.id as string,
    trainerId: row.trainer_id as string,
    course: row.course as string,
    title: row.title as string,
    joinCode: row.join_code as string,
    startsAt: Number(row.starts_at),
    endsAt: Number(row.ends_at),
    createdAt: Number(row.created_at),
    ...(row.closed_at === null || row.closed_at === undefined ? {} : { closedAt: Number(row.closed_at) }),
  };
}

const memberOf = (row: Row): ClassMember => ({ learnerId: row.learner_id as string, displayName: row.display_name as string, joinedAt: Number(row.joined_at) });

/** An optional last filter: `AND x = ?` with its value, or nothing. */
const andLearner = (column: string, learnerId: string | undefined): [string, unknown[]] => (learnerId === undefined ? ['', []] : [` AND ${column} = ?`, [learnerId]]);

export class SqlClassStore implements ClassStore {
  readonly #db: Runner;

  private constructor(db: Runner) {
    this.#db = db;
  }

  /** On the SQLite learner database at `path` (SqliteLearnerStore made its tables). */
  static sqlite(path: string): SqlClassStore {
    return new SqlClassStore(sqliteRunner(path));
  }

  /** On the PostgreSQL learner database (PgLearnerStore.open migrated it). */
  static postgres(url: string, onError: (error: Error) => void = () => undefined): SqlClassStore {
    return new SqlClassStore(pgRunner(url, onError));
  }

  async create(fields: NewClass): Promise<ClassRecord> {
    for (;;) {
      const record: ClassRecord = { id: newClassId(), joinCode: newJoinCode(), createdAt: Date.now(), ...fields };
      const inserted = await this.#db.run(
        `INSERT INTO classes (${classColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (join_code) DO NOTHING`,
        [record.id, record.trainerId, record.course, record.title, record.joinCode, record.startsAt, record.endsAt, record.createdAt],
      );
      // A code already taken (one in 10^11 per class held): draw again.
      if (inserted > 0) return record;
    }
  }

  async get(id: string): Promise<ClassRecord | undefined> {
    const [row] = await this.#db.all(`SELECT ${classColumns} FROM classes WHERE id = ?`, [id]);
    return row && classOf(row);
  }

  async byJoinCode(code: string): Promise<ClassRecord | undefined> {
    const [row] = await this.#db.all(`SELECT ${classColumns} FROM classes WHERE join_code = ?`, [code]);
    return row && classOf(row);
  }

  async ofTrainer(trainerId: string): Promise<ClassRecord[]> {
    return (await this.#db.all(`SELECT ${classColumns} FROM classes WHERE trainer_id = ? ORDER BY created_at DESC, id`, [trainerId])).map(classOf);
  }

  async ofLearner(learnerId: string): Promise<ClassRecord[]> {
    const columns = classColumns.split(', ').map((column) => `c.${column}`).join(', ');
    return (
      await this.#db.all(
        `SELECT ${columns} FROM classes c JOIN class_members m ON m.class_id = c.id WHERE m.learner_id = ? AND c.closed_at IS NULL ORDER BY m.joined_at`,
        [learnerId],
      )
    ).map(classOf);
  }

  async closeClass(id: string, at: number): Promise<boolean> {
    return (await this.#db.run('UPDATE classes SET closed_at = ? WHERE id = ? AND closed_at IS NULL', [at, id])) > 0;
  }

  async join(classId: string, learnerId: string, displayName: string, at: number): Promise<ClassMember> {
    await this.#db.run(
      `INSERT INTO class_members (class_id, learner_id, display_name, joined_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (class_id, learner_id) DO UPDATE SET display_name = excluded.display_name`,
      [classId, learnerId, displayName, at],
    );
    return (await this.member(classId, learnerId))!;
  }

  async leave(classId: string, learnerId: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM class_members WHERE class_id = ? AND learner_id = ?', [classId, learnerId])) > 0;
  }

  async members(classId: string): Promise<ClassMember[]> {
    return (await this.#db.all('SELECT learner_id, display_name, joined_at FROM class_members WHERE class_id = ? ORDER BY joined_at, learner_id', [classId])).map(memberOf);
  }

  async member(classId: string, learnerId: string): Promise<ClassMember | undefined> {
    const [row] = await this.#db.all('SELECT learner_id, display_name, joined_at FROM class_members WHERE class_id = ? AND learner_id = ?', [classId, learnerId]);
    return row && memberOf(row);
  }

  async progress(classId: string, course: string, learnerId?: string): Promise<StepDone[]> {
    const [filter, values] = andLearner('p.learner_id', learnerId);
    const rows = await this.#db.all(
      `SELECT p.learner_id, p.page, p.step, p.done_at FROM progress p JOIN class_members m ON m.learner_id = p.learner_id
       WHERE m.class_id = ? AND p.page LIKE ? ESCAPE '\\'${filter} ORDER BY p.done_at`,
      [classId, coursePattern(course), ...values],
    );
    return rows.map((row) => ({ learnerId: row.learner_id as string, page: row.page as string, step: row.step as string, doneAt: Number(row.done_at) }));
  }

  async recordOutcome({ learnerId, lab, check, passed, feedback, at }: CheckOutcome): Promise<void> {
    // An older outcome arriving late (another replica's) never overwrites a newer one.
    await this.#db.run(
      `INSERT INTO check_outcomes (learner_id, lab, check_id, passed, feedback, at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (learner_id, lab, check_id) DO UPDATE SET passed = excluded.passed, feedback = excluded.feedback, at = excluded.at
       WHERE check_outcomes.at <= excluded.at`,
      [learnerId, lab, check, passed ? 1 : 0, feedback, at],
    );
  }

  async outcomes(classId: string, learnerId?: string): Promise<CheckOutcome[]> {
    const [filter, values] = andLearner('o.learner_id', learnerId);
    const rows = await this.#db.all(
      `SELECT o.learner_id, o.lab, o.check_id, o.passed, o.feedback, o.at FROM check_outcomes o JOIN class_members m ON m.learner_id = o.learner_id
       WHERE m.class_id = ?${filter} ORDER BY o.at`,
      [classId, ...values],
    );
    return rows.map((row) => ({
      learnerId: row.learner_id as string,
      lab: row.lab as string,
      check: row.check_id as string,
      passed: Boolean(row.passed),
      feedback: row.feedback as string,
      at: Number(row.at),
    }));
  }

  async addMessages(classId: string, learnerIds: string[], text: string, at: number): Promise<ClassMessage[]> {
    const sent: ClassMessage[] = [];
    for (const learnerId of new Set(learnerIds)) {
      const message: ClassMessage = { id: newMessageId(), classId, learnerId, text, sentAt: at };
      // Only to a member: the SELECT yields no row for anyone else.
      const inserted = await this.#db.run(
        `INSERT INTO class_messages (id, class_id, learner_id, text, sent_at, read_at)
         SELECT ?, class_id, learner_id, ?, ?, NULL FROM class_members WHERE class_id = ? AND learner_id = ?`,
        [message.id, text, at, classId, learnerId],
      );
      if (inserted > 0) sent.push(message);
    }
    return sent;
  }

  async unread(learnerId: string): Promise<ClassMessage[]> {
    const rows = await this.#db.all('SELECT id, class_id, learner_id, text, sent_at FROM class_messages WHERE learner_id = ? AND read_at IS NULL ORDER BY sent_at, id', [learnerId]);
    return rows.map((row) => ({ id: row.id as string, classId: row.class_id as string, learnerId: row.learner_id as string, text: row.text as string, sentAt: Number(row.sent_at) }));
  }

  async markRead(learnerId: string, messageId: string, at: number): Promise<boolean> {
    return (await this.#db.run('UPDATE class_messages SET read_at = ? WHERE id = ? AND learner_id = ? AND read_at IS NULL', [at, messageId, learnerId])) > 0;
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}
