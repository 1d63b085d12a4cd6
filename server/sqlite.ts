/**
 * node:sqlite helpers shared by the stores that keep a database (learners, the S3 object index).
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';

/**
 * Statements prepared once per query text and reused: the stores run the same few queries on
 * every request, and preparing one costs more than running it. Only for fixed query texts.
 */
export type StatementCache = ((query: string) => StatementSync) & {
  /** Forgets every statement (before the tables they name are dropped, or the database closed). */
  clear(): void;
};

export function statementCache(db: DatabaseSync): StatementCache {
  const statements = new Map<string, StatementSync>();
  const sql = (query: string): StatementSync => {
    let statement = statements.get(query);
    if (!statement) {
      statement = db.prepare(query);
      statements.set(query, statement);
    }
    return statement;
  };
  return Object.assign(sql, { clear: () => statements.clear() });
}
