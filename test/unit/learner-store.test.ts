/**
 * The SQLite learner store: the store contract (test/helpers/learner-store-contract.ts), and
 * what only SQLite has (its own schema steps, read from older database files); the setting
 * that picks PostgreSQL instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Sealer } from '../../server/learners/sealed.ts';
import { SqliteLearnerStore } from '../../server/learners/sqlite-store.ts';
import { loadConfig } from '../../server/config.ts';
import { learnerStoreContract, openedStores } from '../helpers/learner-store-contract.ts';

function open(dir: string, now = Date.now) {
  return new SqliteLearnerStore({ path: join(dir, 'learners.db'), sealer: Sealer.fromKeyFile(join(dir, 'secret.key')), now });
}

learnerStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-store-'));
  const stores = openedStores(async (now) => open(dir, now));
  return {
    open: stores.open,
    // The database file and its write-ahead log, as a copy of the data directory would have them.
    raw: async () =>
      readdirSync(dir)
        .filter((file) => file.startsWith('learners.db'))
        .map((file) => readFileSync(join(dir, file)).toString('latin1'))
        .join(''),
    dispose: async () => {
      await stores.closeAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('a database of the first schema is migrated: learners keep their data and are seen as of their creation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-store-'));
  const path = join(dir, 'learners.db');
  const old = new DatabaseSync(path);
  old.exec(`CREATE TABLE learners (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, git_name TEXT NOT NULL DEFAULT '', git_email TEXT NOT NULL DEFAULT '');
    CREATE TABLE git_tokens (learner_id TEXT PRIMARY KEY REFERENCES learners(id) ON DELETE CASCADE, token_hash TEXT NOT NULL UNIQUE, token_sealed TEXT NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE secret_groups (learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE, name TEXT NOT NULL, names TEXT NOT NULL, vars_sealed TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (learner_id, name));
    CREATE TABLE s3_credentials (access_key_id TEXT PRIMARY KEY, learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE, secret_sealed TEXT NOT NULL, session_token_hash TEXT NOT NULL, session_token_sealed TEXT NOT NULL, expires_at INTEGER NOT NULL);
    CREATE INDEX s3_credentials_by_learner ON s3_credentials(learner_id, expires_at);
    CREATE TABLE progress (learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE, page TEXT NOT NULL, step TEXT NOT NULL, done_at INTEGER NOT NULL, PRIMARY KEY (learner_id, page, step));
    INSERT INTO learners (id, created_at, git_name) VALUES ('uold00000001', 1234, 'Ada');
    PRAGMA user_version = 1;`);
  old.close();
  const store = open(dir);
  assert.deepEqual(await store.get('uold00000001'), { id: 'uold00000001', createdAt: 1234, lastSeenAt: 1234, git: { name: 'Ada', email: '' } });
  await store.close();
});

test('a database of the second schema (before check passes) is migrated: learners keep their data and can record passes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-store-'));
  let store = open(dir);
  const learner = (await store.create()).id;
  await store.setProgress(learner, '/fr/tp/terminal/', 'made-dir', true);
  await store.close();
  // Back to the schema before check_passes, as a server of the previous version left it.
  const old = new DatabaseSync(join(dir, 'learners.db'));
  // Every table of later steps goes (the step's own and those after it), children first.
  const later = (old.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('learners', 'git_tokens', 'secret_groups', 's3_credentials', 'progress') ORDER BY rowid DESC").all() as { name: string }[]).map((row) => row.name);
  old.exec(`${later.map((name) => `DROP TABLE ${name};`).join(' ')} PRAGMA user_version = 2;`);
  old.close();

  store = open(dir);
  assert.deepEqual(await store.progress(learner, '/fr/tp/terminal/'), ['made-dir']);
  await store.recordCheckPass(learner, 'terminal-basics', 'made-dir', 'instance-a');
  assert.equal((await store.lastCheckPass(learner, 'terminal-basics', 'made-dir'))?.instance, 'instance-a');
  await store.close();
  const db = new DatabaseSync(join(dir, 'learners.db'));
  assert.ok(later.includes('check_passes'));
  for (const name of later) assert.ok(db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(name), `${name} made again`);
  const version = (database: DatabaseSync) => (database.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  const freshDir = mkdtempSync(join(tmpdir(), 'atelier-store-'));
  await open(freshDir).close();
  const fresh = new DatabaseSync(join(freshDir, 'learners.db'));
  assert.equal(version(db), version(fresh), 'every step ran');
  fresh.close();
  rmSync(freshDir, { recursive: true, force: true });
  db.close();
});

test('ATELIER_DATABASE_URL: unset, SQLite; a postgres:// URL as given; anything else refused without echoing it (it may hold a password)', () => {
  assert.equal(loadConfig({}).databaseUrl, undefined);
  const url = 'postgres://atelier:s3cret@db.example:5432/atelier';
  assert.equal(loadConfig({ ATELIER_DATABASE_URL: url }).databaseUrl, url);
  assert.equal(loadConfig({ ATELIER_DATABASE_URL: 'postgresql:///atelier?host=/run/postgresql' }).databaseUrl, 'postgresql:///atelier?host=/run/postgresql');
  assert.throws(
    () => loadConfig({ ATELIER_DATABASE_URL: 'mysql://atelier:s3cret@db/atelier' }),
    (error: Error) => /ATELIER_DATABASE_URL.*expected postgres:\/\//.test(error.message) && !error.message.includes('s3cret'),
  );
});
