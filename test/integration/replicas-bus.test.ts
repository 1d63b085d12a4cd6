/**
 * Two lab servers on one real PostgreSQL and one ATELIER_SECRET_KEY_FILE (test/helpers/replicas.ts),
 * each with its own data directory: a cookie minted by one is accepted by the other (and by no
 * replica with another secret), a secret sealed by one is opened by the other, a manual step
 * ticked through one reaches a progress stream opened on the other, and learner events (a push,
 * a bucket write, a check passing) published on one replica's bus are heard on the other's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import pg from 'pg';
import { join } from 'node:path';
import { PgCoordinator } from '../../server/cluster/index.ts';
import { learnerBus } from '../../server/cluster/learner-events.ts';
import type { LearnerEvents } from '../../server/learners/platform.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { startReplicas, writeSecretKeyFile, type Replicas } from '../helpers/replicas.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { openProgressStream, tutorialPage } from '../helpers/progress.ts';

let postgres: TestPostgres;
let replicas: Replicas;
before(async () => {
  postgres = await startPostgres();
  replicas = await startReplicas(await postgres.database(), 2);
});
after(async () => {
  await replicas?.close();
  await postgres?.stop();
});

test('a cookie minted by replica A is accepted by B; sealed S3 keys read the same on both; no key file is made in either data directory', async () => {
  const [a, b] = replicas.servers;
  const onA = new LearnerClient(a!.url);
  const me = await onA.me();
  const onB = new LearnerClient(b!.url, onA.cookie);
  const seen = await onB.me();
  assert.equal(seen.learner.id, me.learner.id, 'the same learner on B');
  assert.equal(onB.cookie, onA.cookie, 'B set no new cookie');
  assert.equal(seen.s3.secretAccessKey, me.s3.secretAccessKey, 'a secret sealed by A is opened by B');
  for (const server of [a!, b!]) {
    for (const file of ['cookie.key', 'sealing.key']) assert.equal(existsSync(join(server.config.dataDir, 'keys', file)), false, `${file} made on disk`);
  }
});

test('a replica with another secret key file does not accept the cookie: a new learner there', async () => {
  const [a] = replicas.servers;
  const onA = new LearnerClient(a!.url);
  const me = await onA.me();
  const other = await replicas.add(writeSecretKeyFile(a!.config.dataDir, 'another-key'));
  const onOther = new LearnerClient(other.url, onA.cookie);
  const seen = await onOther.me();
  assert.notEqual(seen.learner.id, me.learner.id);
  await other.close();
});

test('a manual step ticked through replica A reaches a progress stream opened on replica B (within a second idle, as the bench measures); another learner hears nothing', async () => {
  const [a, b] = replicas.servers;
  const onA = new LearnerClient(a!.url);
  await onA.me();
  const stranger = new LearnerClient(b!.url);
  await stranger.me();
  const stream = await openProgressStream(b!.port, onA.cookie);
  const theirs = await openProgressStream(b!.port, stranger.cookie);
  try {
    assert.equal(stream.status, 200);
    const started = performance.now();
    const put = await onA.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'show-dir', done: true } });
    assert.equal(put.status, 200, put.text);
    // Within a second on an idle machine (the bench measures it); the bound here leaves room for a busy CI.
    assert.deepEqual(await stream.next((event) => event.step === 'show-dir' && event.done, 5000), { page: tutorialPage, step: 'show-dir', done: true });
    assert.ok(performance.now() - started < 5000);
    await onA.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'show-dir', done: false } });
    await stream.next((event) => event.step === 'show-dir' && !event.done, 5000);
    assert.equal(stream.events.length, 2, 'each change once');
    assert.deepEqual(theirs.events, []);
  } finally {
    stream.close();
    theirs.close();
  }
});

test('after a gap in its bus (the database ended the connection), a replica ends its progress streams: the browser reconnects and reads what it missed', async () => {
  const [, b] = replicas.servers;
  const learner = new LearnerClient(b!.url);
  await learner.me();
  // In an object: a promise resolved with a promise would wait for it.
  const { ended } = await new Promise<{ ended: Promise<void> }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: b!.port, path: '/api/progress/events', headers: { accept: 'text/event-stream', cookie: learner.cookie! } });
    req.on('error', reject);
    req.on('response', (res) => {
      assert.equal(res.statusCode, 200);
      res.resume();
      resolve({ ended: new Promise((done) => res.on('end', () => done())) });
    });
    req.end();
  });
  const admin = new pg.Client({ connectionString: replicas.databaseUrl });
  await admin.connect();
  try {
    const killed = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'atelier bus %' AND datname = current_database()");
    assert.ok((killed.rowCount ?? 0) >= 2, 'both replicas\' bus connections');
  } finally {
    await admin.end();
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([ended, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the stream was not ended within 5 s')), 5000)))]);
  clearTimeout(timer);
});

test('learner events published on one replica\'s bus are re-emitted on both, once each; messages of a wrong shape are dropped', async () => {
  const url = await postgres.database();
  const problems: string[] = [];
  const onError = (error: unknown, context: string) => problems.push(`${context}: ${(error as Error).message}`);
  const [ca, cb] = [await PgCoordinator.open({ url, deployment: 'events', onError }), await PgCoordinator.open({ url, deployment: 'events', onError })];
  const [ea, eb] = [new EventEmitter<LearnerEvents>(), new EventEmitter<LearnerEvents>()];
  const heard = (events: EventEmitter<LearnerEvents>) => {
    const got: unknown[] = [];
    events.on('changed', (learner, kind) => got.push(['changed', learner, kind]));
    events.on('progress', (learner, change) => got.push(['progress', learner, change]));
    events.on('passed', (learner, passed) => got.push(['passed', learner, passed]));
    return got;
  };
  const [onA, onB] = [heard(ea), heard(eb)];
  const [busA, busB] = [learnerBus(ca, ea, onError), learnerBus(cb, eb, onError)];
  try {
    busA.changed('u0123456789a', 'git');
    busA.progress('u0123456789a', { page: '/tp/demo/', step: 'show-dir', done: true });
    busA.passed('u0123456789a', { lab: 'test-lab', check: 'made-dir' });
    await ca.publish('learner.changed', { learner: 'u0123456789a', kind: 'ftp' });
    await ca.publish('learner.progress', { learner: '../etc', page: '/tp/demo/', step: 'show-dir', done: true });
    const expected = [
      ['changed', 'u0123456789a', 'git'],
      ['progress', 'u0123456789a', { page: '/tp/demo/', step: 'show-dir', done: true }],
      ['passed', 'u0123456789a', { lab: 'test-lab', check: 'made-dir' }],
    ];
    const deadline = Date.now() + 2000;
    while (onB.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(onA, expected, 'A hears its own, once');
    assert.deepEqual(onB, expected, 'B hears them, once');
    assert.equal(problems.filter((line) => line.includes('not one of its shape')).length, 4, 'two bad messages, dropped on each replica');
  } finally {
    busA.close();
    busB.close();
    await ca.close();
    await cb.close();
  }
});
