/**
 * The PostgreSQL learner store on a real PostgreSQL (test/helpers/postgres.ts): the store
 * contract that SQLite passes too, and what several replicas sharing one database need: each
 * sees the others' writes at once, migrations run once whoever starts first, and two lab servers
 * on it (ATELIER_DATABASE_URL) serve the same learners.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Sealer } from '../../server/learners/sealed.ts';
import { migrate, PgLearnerStore, readMigrations } from '../../server/learners/pg-store.ts';
import { learnerStoreContract, openedStores } from '../helpers/learner-store-contract.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { LearnerClient } from '../helpers/learner.ts';

let postgres: TestPostgres;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
});

/** One sealing key per database, as replicas share one. */
const openOn = (url: string, sealer: Sealer) => (now?: () => number) => PgLearnerStore.open({ url, sealer, ...(now ? { now } : {}) });

learnerStoreContract('PostgreSQL', async () => {
  const url = await postgres.database();
  const stores = openedStores(openOn(url, new Sealer(randomBytes(32))));
  return {
    open: stores.open,
    // Every row of every table, as text: what a dump of the database would show.
    raw: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const tables = await client.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'");
        const rows = await Promise.all(tables.rows.map(({ name }) => client.query<{ row: string }>(`SELECT t::text AS row FROM ${pg.escapeIdentifier(name)} t`)));
        return rows.flatMap((result) => result.rows.map((row) => row.row)).join('\n');
      } finally {
        await client.end();
      }
    },
    dispose: () => stores.closeAll(),
  };
});

test('two stores on one database (two replicas) see each other\'s writes at once', async () => {
  const url = await postgres.database();
  const sealer = new Sealer(randomBytes(32));
  const [a, b] = [await openOn(url, sealer)(), await openOn(url, sealer)()];
  try {
    const learner = await a.create();
    assert.deepEqual(await b.get(learner.id), learner, 'a learner created on one is known to the other');
    const first = await a.rotateGitToken(learner.id);
    assert.equal(await b.learnerByGitToken(first), learner.id);
    const second = await b.rotateGitToken(learner.id);
    assert.equal(await a.learnerByGitToken(first), undefined, 'a token rotated on one is revoked on the other');
    assert.equal(await a.gitToken(learner.id), second);

    await b.setProgress(learner.id, '/tp/terminal/', 'made-dir', true);
    assert.equal(await a.setProgress(learner.id, '/tp/terminal/', 'made-dir', true), false, 'done on the other already');
    assert.deepEqual(await a.progress(learner.id, '/tp/terminal/'), ['made-dir']);

    const keys = await a.s3Credentials(learner.id);
    assert.deepEqual(await b.s3Credentials(learner.id), keys, 'the same S3 keys from either');
    await b.rotateS3Credentials(learner.id);
    assert.equal(await a.s3CredentialsByAccessKey(keys.accessKeyId), undefined, 'revoked on both');

    await a.putSecretGroup(learner.id, 'projet', { API_KEY: 'value' });
    assert.deepEqual(await b.secretGroup(learner.id, 'projet'), { API_KEY: 'value' }, 'sealed by one, opened by the other');
    await b.recordCheckPass(learner.id, 'lab', 'check', 'instance-a');
    assert.equal((await a.lastCheckPass(learner.id, 'lab', 'check'))?.instance, 'instance-a');
    assert.equal(await b.deleteIfIdle(learner.id, Number.MAX_SAFE_INTEGER), true);
    assert.equal(await a.get(learner.id), undefined);
  } finally {
    await a.close();
    await b.close();
  }
});

async function appliedVersions(url: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((row) => row.version);
  } finally {
    await client.end();
  }
}

test('migrations applied twice do nothing the second time', async () => {
  const url = await postgres.database();
  const all = readMigrations().map((migration) => migration.version);
  assert.ok(all.length > 0 && all[0] === 1, 'migrations/001_… is found');
  const pool = new pg.Pool({ connectionString: url });
  try {
    assert.deepEqual(await migrate(pool), all);
    assert.deepEqual(await migrate(pool), [], 'nothing left to apply');
    assert.deepEqual(await appliedVersions(url), all);
    // A newer replica's migration (a rolling upgrade) is applied once, after the others.
    const next = { version: all.at(-1)! + 1, name: 'later', sql: 'ALTER TABLE learners ADD COLUMN later TEXT' };
    assert.deepEqual(await migrate(pool, [...readMigrations(), next]), [next.version]);
    assert.deepEqual(await migrate(pool), [], 'an older replica leaves the newer schema as it is');
  } finally {
    await pool.end();
  }
});

test('replicas starting at once on an empty database migrate it once, none fails', async () => {
  const url = await postgres.database();
  const sealer = new Sealer(randomBytes(32));
  const stores = await Promise.all(Array.from({ length: 6 }, () => openOn(url, sealer)()));
  try {
    assert.deepEqual(await appliedVersions(url), readMigrations().map((migration) => migration.version));
    const learner = await stores[0]!.create();
    for (const store of stores) assert.equal((await store.get(learner.id))?.id, learner.id);
  } finally {
    for (const store of stores) await store.close();
  }
});

test('a failing migration leaves nothing behind: the database is as before, and says why', async () => {
  const url = await postgres.database();
  const pool = new pg.Pool({ connectionString: url });
  try {
    const broken = { version: 2, name: 'broken', sql: 'CREATE TABLE half (id TEXT); SELECT no_such_function()' };
    await assert.rejects(migrate(pool, [...readMigrations(), broken]), /no_such_function/);
    const tables = await pool.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'");
    assert.deepEqual(tables.rows, [], 'the first migration went back too: one transaction');
  } finally {
    await pool.end();
  }
});

test('two lab servers on one database serve the same learner: identity, S3 keys, git token (forge) and settings', async () => {
  const databaseUrl = await postgres.database();
  const servers: TestServer[] = [];
  const dirs: string[] = [];
  try {
    const a = await startTestServer({ config: { databaseUrl } });
    servers.push(a);
    dirs.push(a.config.dataDir);
    // Replicas share their keys (cookie signing, sealing): the second starts with the first's.
    const bData = mkdtempSync(join(tmpdir(), 'atelier-data-'));
    dirs.push(bData);
    cpSync(join(a.config.dataDir, 'keys'), join(bData, 'keys'), { recursive: true });
    const b = await startTestServer({ config: { databaseUrl, dataDir: bData } });
    servers.push(b);

    const onA = new LearnerClient(a.url);
    const me = await onA.me();
    const onB = new LearnerClient(b.url, onA.cookie);
    const seen = await onB.me();
    assert.equal(seen.learner.id, me.learner.id, 'the cookie set by one names the same learner on the other');
    assert.equal(seen.s3.accessKeyId, me.s3.accessKeyId, 'with the same S3 keys');

    const token = (await onB.api('/api/me/git/token', { method: 'POST' })).body.token as string;
    const forge = (server: TestServer, secret: string) =>
      fetch(`${server.url}/git/${me.learner.id}/none.git/info/refs?service=git-upload-pack`, { headers: { authorization: `Basic ${Buffer.from(`x:${secret}`).toString('base64')}` } });
    assert.equal((await forge(a, token)).status, 404, 'a token made on one authenticates on the other (the repository does not exist)');
    assert.equal((await forge(a, 'atl_not-a-token')).status, 401);
    const newer = (await onA.api('/api/me/git/token', { method: 'POST' })).body.token as string;
    assert.equal((await forge(b, token)).status, 401, 'a token rotated on one is refused by the other');
    assert.equal((await forge(b, newer)).status, 404);

    await onA.api('/api/me/git', { method: 'PUT', body: { name: 'Ada', email: 'ada@example.org' } });
    assert.deepEqual({ name: (await onB.me()).git.name, email: (await onB.me()).git.email }, { name: 'Ada', email: 'ada@example.org' });
  } finally {
    for (const server of servers) await server.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
});

test('connections the server ends (a PostgreSQL restart, a failover) are reported and replaced: the next calls work', async () => {
  const url = await postgres.database();
  const errors: Error[] = [];
  const store = await PgLearnerStore.open({ url, sealer: new Sealer(randomBytes(32)), onError: (error) => errors.push(error) });
  try {
    const learner = await store.create();
    await Promise.all(Array.from({ length: 4 }, () => store.get(learner.id)));
    const admin = new pg.Client({ connectionString: postgres.url('postgres') });
    await admin.connect();
    let terminated = 0;
    try {
      const database = new URL(url).pathname.slice(1);
      const ended = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      terminated = ended.rowCount!;
      assert.ok(terminated > 0, 'the pool had idle connections to end');
    } finally {
      await admin.end();
    }
    // Each ended connection is told apart, one by one: all of them before the next call, which
    // must not be handed one that is ended but not yet known to be.
    for (let waited = 0; errors.length < terminated && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(errors.length > 0, 'the ended idle connections were reported, not thrown at the process');
    assert.equal((await store.get(learner.id))?.id, learner.id, 'new connections serve the next call');
  } finally {
    await store.close();
  }
});
