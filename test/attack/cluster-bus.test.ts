/**
 * Attacks on the replicas' bus (PostgreSQL LISTEN/NOTIFY) with two real lab servers on a real
 * PostgreSQL: a learner has no endpoint that publishes what they choose (their own valid manual
 * steps are all that ever reach the bus, small and of one shape; sockets and bad requests publish
 * nothing), and NOTIFYs sent straight to the channel by whoever can reach the database —
 * malformed, huge, of a wrong shape, polluting prototypes — are dropped without crashing either
 * replica, which goes on serving and relaying real changes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { io } from 'socket.io-client';
import { maxMessageBytes } from '../../server/cluster/index.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { startReplicas, type Replicas } from '../helpers/replicas.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { manualSteps, checkedSteps, openProgressStream, tutorialPage } from '../helpers/progress.ts';

let postgres: TestPostgres;
let url: string;
let replicas: Replicas;
/** A client of the database listening on the deployment's channel: everything on the bus. */
let listener: pg.Client;
const seen: string[] = [];
let channel: string;

before(async () => {
  postgres = await startPostgres();
  url = await postgres.database();
  replicas = await startReplicas(url, 2);
  channel = `atelier-bus-${replicas.deployment}`;
  listener = new pg.Client({ connectionString: url });
  await listener.connect();
  listener.on('notification', (message) => {
    if (message.channel === channel) seen.push(message.payload ?? '');
  });
  await listener.query(`LISTEN ${listener.escapeIdentifier(channel)}`);
});
after(async () => {
  await listener?.end();
  await replicas?.close();
  await postgres?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function notify(payload: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_notify($1, $2)', [channel, payload]);
  } finally {
    await client.end();
  }
}

test('a learner reaches the bus only with their own valid manual steps: bad requests and socket events publish nothing', async () => {
  const [a, b] = replicas.servers;
  const learner = new LearnerClient(a!.url);
  const me = await learner.me();
  const start = seen.length;

  const refused: unknown[] = [
    { page: tutorialPage, step: checkedSteps[0], done: true },
    { page: tutorialPage, step: 'not-a-step', done: true },
    { page: `/${'a'.repeat(190)}/`, step: manualSteps[0], done: true },
    { page: tutorialPage, step: 'x'.repeat(9000), done: true },
  ];
  for (const body of refused) await learner.api('/api/progress', { method: 'PUT', body });
  await learner.api('/api/progress', { method: 'POST', body: { page: tutorialPage, steps: Object.fromEntries(checkedSteps.map((step) => [step, true])) } });
  await learner.api('/api/progress', { method: 'PUT', raw: 'x'.repeat(100_000), headers: { 'content-type': 'application/json' } });

  // The /learner socket listens only: what a page emits there goes nowhere.
  const socket = io(`${b!.url}/learner`, { transports: ['websocket'], extraHeaders: { cookie: learner.cookie! }, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  for (const event of ['progress', 'passed', 'changed', 'learner.progress', 'learner.changed', 'resync']) {
    socket.emit(event, { learner: me.learner.id, lab: 'test-lab', check: 'made-dir', page: tutorialPage, step: 'show-dir', done: true, kind: 'git' });
  }
  await sleep(500);
  socket.close();
  assert.deepEqual(seen.slice(start), [], 'nothing refused or emitted reached the bus');

  // Valid manual steps do, one small message per change, of one shape, about this learner only:
  // fields slipped beside a step are not carried.
  await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: manualSteps[0], done: true, learner: 'u0000000000a', t: 'learner.changed', r: 'x' } });
  await learner.api('/api/progress', { method: 'POST', body: { page: tutorialPage, steps: Object.fromEntries(manualSteps.map((step) => [step, true])) } });
  await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: manualSteps[0], done: false } });
  await sleep(300);
  const messages = seen.slice(start).map((text) => {
    assert.ok(Buffer.byteLength(text) <= maxMessageBytes);
    return JSON.parse(text) as { r: string; t: string; p: unknown };
  });
  assert.deepEqual(
    messages.map(({ t, p }) => [t, p]),
    [
      ...manualSteps.map((step) => ['learner.progress', { learner: me.learner.id, page: tutorialPage, step, done: true }]),
      ['learner.progress', { learner: me.learner.id, page: tutorialPage, step: manualSteps[0], done: false }],
    ],
  );
});

test('NOTIFYs sent straight to the channel — not JSON, huge, of a wrong shape, polluting prototypes — are dropped; both replicas keep serving and relaying', async () => {
  const [a, b] = replicas.servers;
  const learner = new LearnerClient(a!.url);
  const me = await learner.me();
  const stream = await openProgressStream(b!.port, learner.cookie);
  try {
    const progress = (p: unknown) => JSON.stringify({ r: 'intruder', t: 'learner.progress', p });
    const hostile = [
      'not json',
      '',
      'null',
      '[]',
      '{}',
      '"just a string"',
      '{"r":"x","t":"learner.progress"}',
      '{"r":1,"t":"learner.progress","p":{}}',
      JSON.stringify({ r: 'x', t: 'Not A Topic!', p: {} }),
      JSON.stringify({ r: 'x', t: 'unknown.topic', p: { anything: true } }),
      `{"r":"x","t":"learner.progress","p":${'['.repeat(3000)}${']'.repeat(3000)}}`,
      'x'.repeat(maxMessageBytes),
      progress({ learner: me.learner.id, page: `/${'p'.repeat(7000)}/`, step: 'show-dir', done: true }),
      progress({ learner: me.learner.id, page: tutorialPage, step: 'show-dir', done: 'yes' }),
      progress({ learner: me.learner.id, page: tutorialPage, step: 'show-dir', done: true, extra: 1 }),
      progress({ learner: '../../etc/passwd', page: tutorialPage, step: 'show-dir', done: true }),
      `{"r":"x","t":"learner.progress","p":{"__proto__":{"polluted":true},"learner":"${me.learner.id}"}}`,
      `{"__proto__":{"polluted":true},"r":"x","t":"learner.changed","p":{"learner":"${me.learner.id}","kind":"git","constructor":{"prototype":{"polluted":true}}}}`,
      JSON.stringify({ r: 'x', t: 'learner.changed', p: { learner: me.learner.id, kind: 'rm -rf' } }),
      JSON.stringify({ r: 'x', t: 'learner.passed', p: { learner: me.learner.id, lab: 'x'.repeat(500), check: 'y' } }),
    ];
    for (const payload of hostile) await notify(payload);
    // NOTIFY itself refuses 8000 bytes and more: no replica can be sent one.
    await assert.rejects(notify('x'.repeat(8000)), /payload string too long/);

    await sleep(500);
    assert.deepEqual(stream.events, [], 'nothing reached the learner\'s stream');
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype polluted');
    for (const server of [a!, b!]) assert.equal((await fetch(`${server.url}/healthz`)).status, 200);

    // Still relaying: a tick through A reaches the stream on B.
    await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'list-files', done: true } });
    assert.deepEqual(await stream.next((event) => event.step === 'list-files', 2000), { page: tutorialPage, step: 'list-files', done: true });
    assert.equal(stream.events.length, 1);
  } finally {
    stream.close();
  }
});
