/**
 * Attacks on learner identities: minting anonymous learners in a loop (one address, or a whole
 * IPv6 /64), letting them pile up forever, and making every S3 request pay for all of them.
 * Real store (SQLite), real forge and object store, real server and S3 client.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import type { LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Driver } from '../../server/drivers/driver.ts';
import { createLearnerPlatform, type RunningLab } from '../../server/learners/platform.ts';
import { Sealer } from '../../server/learners/sealed.ts';
import { SqliteLearnerStore } from '../../server/learners/sqlite-store.ts';
import { startTestServer } from '../helpers/server.ts';
import { LearnerClient } from '../helpers/learner.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('new learners are limited per address and hour, an IPv6 /64 counting as one address', async () => {
  const server = await startTestServer({ config: { trustProxy: true, learners: { anonymousTtl: 168 * 3600_000, newLearnersPerHour: 20 } } });
  cleanups.push(() => server.cleanup(), () => rmSync(server.config.dataDir, { recursive: true, force: true }));
  const from = (address: string) => server.api('/api/me', { lang: 'fr', headers: { 'x-forwarded-for': address } });
  const statuses: number[] = [];
  // A fresh address of the same /64 for every request: a host holds the whole /64.
  for (let i = 1; i <= 25; i++) statuses.push((await from(`2001:db8:1:2::${i.toString(16)}`)).status);
  assert.equal(statuses.filter((status) => status === 200).length, 20, `20 learners, then refusals: ${statuses.join(' ')}`);
  const refused = await from('2001:db8:1:2:ffff::1');
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error.code, 'too_many_visitors');
  assert.match(refused.body.error.message, /par heure/, 'in the caller\'s language, per hour');
  assert.ok(Number(refused.headers.get('retry-after')) > 60, 'the next one fits in the hour, not the minute');
  assert.equal((await from('2001:db8:1:3::1')).status, 200, 'another /64 is another client');
  assert.equal((await from('198.51.100.7')).status, 200, 'and an IPv4 address too');
});

test('anonymous learners unseen for the TTL with no data are purged; learners with any data or a lab are kept', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'atelier-purge-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const running: RunningLab[] = [];
  const platform = await createLearnerPlatform({
    dataDir,
    labsDir: dataDir,
    labs: new Map(),
    driver: {} as Driver,
    region: 'us-east-1',
    labSideOrigin: () => 'http://127.0.0.1:1',
    contentOrigin: () => 'http://s3.localhost:1',
    log: (message, error) => assert.fail(`${message}: ${String(error)}`),
    runningLabs: () => running,
    anonymousTtlMs: 3600_000,
  } as Parameters<typeof createLearnerPlatform>[0]);
  cleanups.push(() => platform.close());
  const { store } = platform.context;
  const empties: string[] = [];
  for (let i = 0; i < 1000; i++) empties.push((await store.create()).id);
  const [withProgress, withRepo, withObject, withLab, recent] = (await Promise.all(Array.from({ length: 5 }, () => store.create()))).map((learner) => learner.id) as [string, string, string, string, string];
  await store.setProgress(withProgress, '/fr/tp/', 'step', true);
  await platform.repos.ensureEmpty(withRepo, 'projet');
  await platform.objects.put(withObject, 'notes.txt', 'hello', 'text/plain');
  running.push({ learnerId: withLab, lab: {} as RunningLab['lab'], status: 'running' });

  // A week passes for everyone but `recent`.
  const db = new DatabaseSync(join(dataDir, 'learners.db'));
  db.prepare('UPDATE learners SET last_seen = last_seen - ? WHERE id <> ?').run(7 * 24 * 3600_000, recent);
  db.close();

  let deleted = 0;
  const started = performance.now();
  for (let ticks = 0; ticks < 20; ticks++) deleted += await platform.purge.tick();
  const elapsed = performance.now() - started;
  assert.equal(deleted, 1000, 'every empty learner went');
  for (const id of empties.slice(0, 50)) assert.equal(await store.get(id), undefined, id);
  for (const id of [withProgress, withRepo, withObject, withLab, recent]) assert.ok(await store.get(id), `${id} is kept`);
  assert.ok(platform.repos.exists(withRepo, 'projet'), 'their repository too');
  console.log(`purge: 1000 empty learners of 1005 deleted in ${elapsed.toFixed(0)} ms (before: never)`);
});

test('an S3 request for another learner\'s bucket does not read every learner (100,000 of them)', async () => {
  const server = await startTestServer();
  cleanups.push(() => server.cleanup(), () => rmSync(server.config.dataDir, { recursive: true, force: true }));
  const alice = new LearnerClient(server.url);
  const bob = new LearnerClient(server.url);
  const [a, b] = [await alice.me(), await bob.me()];

  // 100,000 anonymous learners, written beside the running server (WAL: both can use the file).
  const store = new SqliteLearnerStore({ path: join(server.config.dataDir, 'learners.db'), sealer: Sealer.fromKeyFile(join(server.config.dataDir, 'keys', 'sealing.key')) });
  const db = new DatabaseSync(join(server.config.dataDir, 'learners.db'));
  db.exec('BEGIN');
  const insert = db.prepare('INSERT INTO learners (id, created_at, last_seen) VALUES (?, ?, ?)');
  for (let i = 0; i < 100_000; i++) insert.run(`ux${String(i).padStart(10, '0')}`, i, i);
  db.exec('COMMIT');
  db.close();
  await store.close();

  // The endpoint /api/me gives (its own origin, perhaps a *.localhost name), reached on loopback.
  const httpAgent = new Agent({ keepAlive: true, lookup: ((_host: string, options: { all?: boolean }, done: (...args: unknown[]) => void) =>
      options.all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4)) as unknown as LookupFunction,
  });
  const client = (me: typeof a) =>
    new S3Client({
      endpoint: me.s3.endpoint,
      region: me.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: me.s3.accessKeyId, secretAccessKey: me.s3.secretAccessKey, sessionToken: me.s3.sessionToken },
      requestHandler: { httpAgent },
    });
  const asBob = client(b);
  const asAlice = client(a);
  cleanups.push(() => asBob.destroy(), () => asAlice.destroy());
  await asBob.send(new PutObjectCommand({ Bucket: b.s3.bucket, Key: 'diffusion/shared.csv', Body: 'a,b\n1,2\n' }));
  const started = performance.now();
  for (let i = 0; i < 200; i++) {
    const object = await asAlice.send(new GetObjectCommand({ Bucket: b.s3.bucket, Key: 'diffusion/shared.csv' }));
    assert.equal(await object.Body!.transformToString(), 'a,b\n1,2\n');
  }
  const perRequest = (performance.now() - started) / 200;
  console.log(`read of another learner's diffusion/ with 100,000 learners: ${perRequest.toFixed(1)} ms per request`);
  assert.ok(perRequest < 25, `${perRequest.toFixed(1)} ms per request`);
});

test('secret groups are capped per learner: the 21st is refused in the caller\'s language, editing one still works', async () => {
  const server = await startTestServer();
  cleanups.push(() => server.cleanup(), () => rmSync(server.config.dataDir, { recursive: true, force: true }));
  const learner = new LearnerClient(server.url);
  const vars = { TOKEN: 'x'.repeat(8192) };
  const statuses: number[] = [];
  for (let i = 0; i < 25; i++) statuses.push((await learner.api(`/api/me/secrets/group-${i}`, { method: 'PUT', body: { vars } })).status);
  assert.equal(statuses.filter((status) => status === 204 || status === 200).length, 20, `20 groups, then refusals: ${statuses.join(' ')}`);
  const refused = await learner.api('/api/me/secrets/one-more', { method: 'PUT', body: { vars }, lang: 'fr' });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, 'too_many_secret_groups');
  assert.match(refused.body.error.message, /20 groupes/);
  const edited = await learner.api('/api/me/secrets/group-3', { method: 'PUT', body: { vars: { TOKEN: 'new' } } });
  assert.ok(edited.status === 204 || edited.status === 200, `an existing group is still edited (${edited.status})`);
  assert.equal((await learner.api('/api/me/secrets')).body.groups.length, 20);
});
