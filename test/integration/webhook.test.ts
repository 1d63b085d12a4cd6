/**
 * The school's webhook end to end: a real receiver on loopback, signatures checked with the
 * Standard Webhooks reference. On one server with a real lab (bubblewrap): launch, a check that
 * fails, the same check passing, delete — four events in order, signed, naming the learner by
 * pseudonym only. On two replicas of one real PostgreSQL: every replica hears every event, each
 * is sent once, by the replica it happened on, and a replica leaving its labs to the other ends
 * none of them; a lab reaped by one replica is told ended by that one. A check passing on its own
 * (the learner's bucket) is told once per lab.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { makeLabsDir, startTestServer } from '../helpers/server.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { loadLabs } from '../../server/labs/registry.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';
import { LearnerClient, inLabOk } from '../helpers/learner.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { startReplicas } from '../helpers/replicas.ts';
import { decodeSecret } from '../../server/webhook/sign.ts';
import type { Activity } from '../../server/activity/activity.ts';
import type { WebhookPayload } from '../../server/webhook/payload.ts';
import type { RunningServer } from '../../server/app.ts';

let receiver: Receiver;
let postgres: TestPostgres;
before(async () => {
  receiver = await startReceiver();
  postgres = await startPostgres();
});
after(async () => {
  await receiver.close();
  await postgres.stop();
});

const webhookConfig = () => ({ webhook: { url: receiver.url, key: decodeSecret(receiver.secret)! } });

function listen(server: Pick<RunningServer, 'activity'>): [Activity, boolean][] {
  const heard: [Activity, boolean][] = [];
  server.activity.on('activity', (activity, local) => heard.push([activity, local]));
  return heard;
}

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** What a replica heard, in order: type, reason of an end, and whether it happened there. */
const summary = (heard: [Activity, boolean][]) => heard.map(([activity, local]) => `${activity.type} ${'reason' in activity ? `${activity.reason} ` : ''}${local ? 'here' : 'elsewhere'}`);

type Replica = Awaited<ReturnType<typeof startReplicas>>['servers'][number];
interface TwoReplicas {
  a: Replica;
  b: Replica;
  onA: [Activity, boolean][];
  onB: [Activity, boolean][];
  learner: LearnerClient;
  lab: Awaited<ReturnType<LearnerClient['launch']>>;
}

/** Two replicas on a new database, both listened to, and a lab launched on A that B knows; closed after `run`. */
async function withTwoReplicas(run: (replicas: TwoReplicas) => Promise<void>): Promise<void> {
  receiver.received.length = 0;
  const replicas = await startReplicas(await postgres.database(), 2, webhookConfig());
  try {
    const [a, b] = replicas.servers as [Replica, Replica];
    const onA = listen(a);
    const onB = listen(b);
    const learner = new LearnerClient(a.url);
    await learner.me();
    const lab = await learner.launch('test-lab');
    await until('B knows the lab', () => b.sessions.get(lab.id)?.status === 'running');
    await run({ a, b, onA, onB, learner, lab });
  } finally {
    await replicas.close();
  }
}

test('a real lab: launch, a failing check, the same check passing, delete — four signed events in order', async () => {
  receiver.received.length = 0;
  const server = await startTestServer({ config: webhookConfig() });
  try {
    const heard = listen(server);
    const learner = new LearnerClient(server.url);
    const { learner: me } = await learner.me();
    const lab = await learner.launch('test-lab');
    const failed = await learner.api(`/api/labs/${lab.id}/checks/made-dir`, { method: 'POST', token: lab.token, lang: 'fr' });
    assert.equal(failed.body.ok, false);
    await inLabOk(server, lab.id, 'mkdir mon-dossier');
    const passed = await learner.api(`/api/labs/${lab.id}/checks/made-dir`, { method: 'POST', token: lab.token, lang: 'fr' });
    assert.equal(passed.body.ok, true);
    await learner.deleteLab(lab.id);

    const received = await receiver.waitFor(4);
    assert.ok(received.every((request) => request.verified !== undefined), 'every event signed with the secret');
    const events = received.map((request) => request.verified as WebhookPayload);
    assert.deepEqual(
      events.map(({ type, lab: id, check, ok, reason }) => ({ type, lab: id, check, ok, reason })),
      [
        { type: 'lab.launched', lab: 'test-lab', check: undefined, ok: undefined, reason: undefined },
        { type: 'check.failed', lab: 'test-lab', check: 'made-dir', ok: false, reason: undefined },
        { type: 'check.passed', lab: 'test-lab', check: 'made-dir', ok: true, reason: undefined },
        { type: 'lab.ended', lab: 'test-lab', check: undefined, ok: undefined, reason: 'deleted' },
      ],
    );
    // The failure's sentence as the learner read it, in the page's language.
    assert.equal(events[1]!.feedback, failed.body.message);
    assert.match(events[1]!.feedback!, /mon-dossier/);
    assert.equal(events[2]!.feedback, undefined);
    assert.equal(new Set(events.map((event) => event.learner)).size, 1, 'one learner, one pseudonym');
    assert.equal(new Set(events.map((event) => event.session)).size, 1);
    for (const request of received) {
      assert.ok(!request.body.includes(me.id), 'the learner id is never sent');
      assert.ok(!request.body.includes(lab.id), 'nor the session id');
    }
    assert.ok(events.every((event, i) => i === 0 || Date.parse(event.at) >= Date.parse(events[i - 1]!.at)));
    assert.equal(new Set(received.map((request) => request.headers['webhook-id'])).size, 4);

    // The class view's source: the same four, here, as local.
    assert.deepEqual(
      heard.map(([activity, local]) => [activity.type, activity.learner === me.id, activity.session === lab.id, local]),
      ['lab.launched', 'check.failed', 'check.passed', 'lab.ended'].map((type) => [type, true, true, true]),
    );
  } finally {
    await server.cleanup();
  }
});

test('two replicas: each hears every event, each event is sent once by its own replica, and one leaving ends no lab', () =>
  withTwoReplicas(async ({ a, b, onA, onB, learner: learnerA, lab }) => {
    const learnerB = new LearnerClient(b.url, learnerA.cookie);
    assert.equal((await learnerB.api(`/api/labs/${lab.id}/checks/marker-set`, { method: 'POST', token: lab.token })).body.ok, false);
    // The memory driver's labs run in a home of their own: a shell check, not a file check.
    await inLabOk(b, lab.id, 'echo ready > marker');
    assert.equal((await learnerB.api(`/api/labs/${lab.id}/checks/marker-set`, { method: 'POST', token: lab.token })).body.ok, true);
    await until('A heard all three', () => onA.length === 3);

    // A goes: its running lab is left to B, and did not end.
    await a.close();
    await learnerB.deleteLab(lab.id);
    await until('B heard four', () => onB.length === 4);
    await b.webhook!.drained();

    assert.deepEqual(summary(onA), ['lab.launched here', 'check.failed elsewhere', 'check.passed elsewhere']);
    assert.deepEqual(summary(onB), ['lab.launched elsewhere', 'check.failed here', 'check.passed here', 'lab.ended deleted here']);
    assert.deepEqual(
      receiver.received.map((request) => (request.verified as WebhookPayload).type),
      ['lab.launched', 'check.failed', 'check.passed', 'lab.ended'],
      'each event once',
    );
    const payloads = receiver.received.map((request) => request.verified as WebhookPayload);
    assert.equal(new Set(payloads.map((payload) => payload.learner)).size, 1, 'the replicas name the learner alike (their shared key)');
    assert.equal((payloads[3] as WebhookPayload).reason, 'deleted');
  }));

test('two replicas: a lab another replica reaps is told expired once, by the reaper', () =>
  withTwoReplicas(async ({ a, b, onA, onB, lab }) => {
    // B reaps as the leader does, finding the lab past its time.
    b.sessions.get(lab.id)!.expiresAt = Date.now() - 1;
    assert.deepEqual(await b.sessions.reap(), [lab.id]);
    await until('A heard it end', () => onA.length === 2);
    await Promise.all([a.webhook!.drained(), b.webhook!.drained()]);
    assert.deepEqual(summary(onA), ['lab.launched here', 'lab.ended expired elsewhere']);
    assert.deepEqual(summary(onB), ['lab.launched elsewhere', 'lab.ended expired here']);
    assert.deepEqual(
      receiver.received.map((request) => `${(request.verified as WebhookPayload).type} ${(request.verified as WebhookPayload).reason ?? ''}`.trim()),
      ['lab.launched', 'lab.ended expired'],
    );
  }));

test('a check that passes on its own (an object in the learner\'s bucket) is told once per lab', async () => {
  receiver.received.length = 0;
  const labsDir = makeLabsDir({
    'bucket-lab': `
id: bucket-lab
title: { fr: Lab bucket, en: Bucket lab }
resources: { cpu: 0.5, memory: 256Mi, disk: 64Mi, pids: 128 }
checks:
  uploaded:
    kind: s3.object
    key: tp/result.csv
    minSize: 1
`,
  });
  const server = await startTestServer({ driver: new MemoryDriver(), labs: loadLabs(labsDir), config: webhookConfig() });
  try {
    const heard = listen(server);
    const learner = new LearnerClient(server.url);
    const { learner: me } = await learner.me();
    const lab = await learner.launch('bucket-lab');
    for (const content of ['a,b\n1,2\n', 'a,b\n3,4\n']) {
      assert.equal((await learner.api('/api/me/files?key=tp/result.csv', { method: 'PUT', raw: content, headers: { 'content-type': 'text/csv' } })).status, 201);
      await until('the check passed on its own', () => heard.some(([activity]) => activity.type === 'check.passed'));
    }
    // A third write, and time for its check to run: still one.
    await learner.api('/api/me/files?key=tp/other.csv', { method: 'PUT', raw: 'x', headers: { 'content-type': 'text/csv' } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const passes = heard.filter(([activity]) => activity.type === 'check.passed');
    assert.deepEqual(passes, [[{ type: 'check.passed', learner: me.id, lab: 'bucket-lab', check: 'uploaded', session: lab.id, at: passes[0]![0].at }, true]]);
    await server.webhook!.drained();
    assert.deepEqual(
      receiver.received.map((request) => (request.verified as WebhookPayload).type),
      ['lab.launched', 'check.passed'],
    );
  } finally {
    await server.cleanup();
    rmSync(labsDir, { recursive: true, force: true });
  }
});
