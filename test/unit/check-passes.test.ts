/**
 * Where each check last passed (the lab instance), as the learner store keeps it: durable across
 * a reopen, the latest pass wins, gone with the learner, and a database of the previous schema
 * gains the table without losing anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Sealer } from '../../server/learners/sealed.ts';
import { SqliteLearnerStore } from '../../server/learners/sqlite-store.ts';

function open(dir: string, now = Date.now) {
  return new SqliteLearnerStore({ path: join(dir, 'learners.db'), sealer: Sealer.fromKeyFile(join(dir, 'secret.key')), now });
}

test('the instance a check last passed in survives a reopen; the latest pass wins; per learner, lab and check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-passes-'));
  let clock = 1_000;
  let store = open(dir, () => clock);
  const [ada, bob] = [store.create().id, store.create().id] as [string, string];
  assert.equal(store.lastCheckPass(ada, 'datalab-discovery', 'made-file'), undefined);
  store.recordCheckPass(ada, 'datalab-discovery', 'made-file', 'instance-a');
  clock = 2_000;
  store.recordCheckPass(ada, 'datalab-discovery', 'made-file', 'instance-b');
  store.recordCheckPass(ada, 'terminal-basics', 'made-file', 'instance-c');
  store.close();

  store = open(dir, () => clock);
  assert.deepEqual(store.lastCheckPass(ada, 'datalab-discovery', 'made-file'), { instance: 'instance-b', passedAt: 2_000 });
  assert.equal(store.lastCheckPass(ada, 'terminal-basics', 'made-file')?.instance, 'instance-c', 'another lab keeps its own');
  assert.equal(store.lastCheckPass(ada, 'datalab-discovery', 'file-gone'), undefined, 'another check has none');
  assert.equal(store.lastCheckPass(bob, 'datalab-discovery', 'made-file'), undefined, 'another learner has none');
  assert.equal(store.deleteIfIdle(ada, Number.MAX_SAFE_INTEGER), true);
  assert.equal(store.lastCheckPass(ada, 'datalab-discovery', 'made-file'), undefined, 'passes go with the learner');
  store.close();
});

test('a database of the previous schema (version 2) is migrated: learners keep their data and can record passes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-passes-'));
  let store = open(dir);
  const learner = store.create().id;
  store.setProgress(learner, '/fr/tp/terminal/', 'made-dir', true);
  store.close();
  // Back to the schema before check_passes, as a server of the previous version left it.
  const old = new DatabaseSync(join(dir, 'learners.db'));
  old.exec('DROP TABLE check_passes; PRAGMA user_version = 2;');
  old.close();

  store = open(dir);
  assert.deepEqual(store.progress(learner, '/fr/tp/terminal/'), ['made-dir']);
  store.recordCheckPass(learner, 'terminal-basics', 'made-dir', 'instance-a');
  assert.equal(store.lastCheckPass(learner, 'terminal-basics', 'made-dir')?.instance, 'instance-a');
  store.close();
  const db = new DatabaseSync(join(dir, 'learners.db'));
  assert.equal((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 3);
  db.close();
});
