/** How the store contracts run their cases: each on a database of its own, made fresh for it. */
import { test } from 'node:test';

export type Case<Db> = [name: string, run: (db: Db) => Promise<void>];

/** One test per case, named after the store; `done` runs after the case, passed or failed. */
export function runCases<Db>(storeName: string, cases: Case<Db>[], fresh: () => Promise<Db>, done: (db: Db) => Promise<void>): void {
  for (const [name, run] of cases) {
    test(`${storeName}: ${name}`, async () => {
      const db = await fresh();
      try {
        await run(db);
      } finally {
        await done(db);
      }
    });
  }
}
