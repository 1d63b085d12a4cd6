/** The class store on a real PostgreSQL (test/helpers/postgres.ts): the contract SQLite passes too. */
import { after, before } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Sealer } from '../../server/learners/sealed.ts';
import { PgLearnerStore } from '../../server/learners/pg-store.ts';
import { SqlClassStore } from '../../server/classes/sql-store.ts';
import { classStoreContract } from '../helpers/class-store-contract.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';

let postgres: TestPostgres;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
});

classStoreContract('PostgreSQL', async () => {
  const url = await postgres.database();
  return { learners: await PgLearnerStore.open({ url, sealer: new Sealer(randomBytes(32)) }), classes: SqlClassStore.postgres(url) };
});
