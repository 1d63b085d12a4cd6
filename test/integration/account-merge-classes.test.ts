/**
 * A device's learner merged into an account's keeps its classes, on SQLite and on a real
 * PostgreSQL (the class tables share the learner database): the account becomes a member of the
 * classes the device joined, the class view keeps each check's latest outcome, unread messages
 * follow; the device's learner then deleted, nothing of it is left in the class.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sealer } from '../../server/learners/sealed.ts';
import { SqliteLearnerStore } from '../../server/learners/sqlite-store.ts';
import { PgLearnerStore } from '../../server/learners/pg-store.ts';
import { SqlClassStore } from '../../server/classes/sql-store.ts';
import type { LearnerStore } from '../../server/learners/store.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';

let postgres: TestPostgres;
const dir = mkdtempSync(join(tmpdir(), 'atelier-merge-classes-'));
const sealer = Sealer.fromKeyFile(join(dir, 'secret.key'));

before(async () => {
  postgres = await startPostgres();
});

after(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function mergeKeepsClasses(learners: LearnerStore, classes: SqlClassStore): Promise<void> {
  const account = (await learners.create()).id;
  const device = (await learners.create()).id;
  const both = await classes.create({ trainerId: 'token-t', course: 'tp', title: 'Both', startsAt: 0, endsAt: 10_000 });
  const deviceOnly = await classes.create({ trainerId: 'token-t', course: 'tp', title: 'Device', startsAt: 0, endsAt: 10_000 });
  await classes.join(both.id, account, 'Ada (account)', 1);
  await classes.join(both.id, device, 'Ada (device)', 2);
  await classes.join(deviceOnly.id, device, 'Ada', 3);
  await classes.recordOutcome({ learnerId: account, lab: 'lab', check: 'older', passed: false, feedback: 'account, older', at: 10 });
  await classes.recordOutcome({ learnerId: device, lab: 'lab', check: 'older', passed: true, feedback: '', at: 20 });
  await classes.recordOutcome({ learnerId: account, lab: 'lab', check: 'newer', passed: true, feedback: '', at: 30 });
  await classes.recordOutcome({ learnerId: device, lab: 'lab', check: 'newer', passed: false, feedback: 'device, older', at: 25 });
  await classes.addMessages(deviceOnly.id, [device], 'Bonjour', 40);

  const merged = await learners.mergeLearner(device, account);
  assert.equal(merged.classes, 1, 'one class the account was not in');
  assert.equal(await learners.deleteAnonymous(device), true);

  assert.deepEqual((await classes.members(deviceOnly.id)).map((member) => [member.learnerId, member.displayName]), [[account, 'Ada']]);
  assert.deepEqual((await classes.members(both.id)).map((member) => [member.learnerId, member.displayName]), [[account, 'Ada (account)']], 'the account\'s own membership kept');
  const outcomes = Object.fromEntries((await classes.outcomes(both.id, account)).map((outcome) => [outcome.check, [outcome.passed, outcome.at]]));
  assert.deepEqual(outcomes, { older: [true, 20], newer: [true, 30] }, 'each check\'s latest outcome');
  assert.deepEqual((await classes.unread(account)).map((message) => message.text), ['Bonjour']);
}

test('SQLite: a merged device keeps its classes, outcomes and messages in the account', async () => {
  const path = join(dir, 'learners.db');
  const learners = new SqliteLearnerStore({ path, sealer });
  const classes = SqlClassStore.sqlite(path);
  try {
    await mergeKeepsClasses(learners, classes);
  } finally {
    await classes.close();
    await learners.close();
  }
});

test('PostgreSQL: a merged device keeps its classes, outcomes and messages in the account', async () => {
  const url = await postgres.database();
  const learners = await PgLearnerStore.open({ url, sealer });
  const classes = SqlClassStore.postgres(url);
  try {
    await mergeKeepsClasses(learners, classes);
  } finally {
    await classes.close();
    await learners.close();
  }
});
