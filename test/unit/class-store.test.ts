/** The class store on the SQLite learner database: the class store contract. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sealer } from '../../server/learners/sealed.ts';
import { SqliteLearnerStore } from '../../server/learners/sqlite-store.ts';
import { SqlClassStore } from '../../server/classes/sql-store.ts';
import { classStoreContract } from '../helpers/class-store-contract.ts';

classStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-classes-'));
  const path = join(dir, 'learners.db');
  const learners = new SqliteLearnerStore({ path, sealer: Sealer.fromKeyFile(join(dir, 'secret.key')) });
  const classes = SqlClassStore.sqlite(path);
  return { learners, classes, remove: () => rmSync(dir, { recursive: true, force: true }) };
});
