/**
 * The webhook's cost: Check → verdict through the API (memory driver, a check running `true`)
 * without a webhook, with a receiver answering 204, and with one that never answers (median,
 * p95, p99); delivery throughput (5,000 events queued at once to a loopback receiver, four
 * requests at a time); signing one event with node:crypto beside the reference package's pure
 * JavaScript HMAC; and an activity from one replica's hub to another's on PostgreSQL.
 * Prints figures; cleans up.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { startTestServer } from '../helpers/server.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { decodeSecret, signWebhook } from '../../server/webhook/sign.ts';
import { WebhookDelivery } from '../../server/webhook/delivery.ts';
import { activityHub } from '../../server/activity/hub.ts';
import { PgCoordinator } from '../../server/cluster/index.ts';
import { ms, summarize } from './lib/stats.ts';

const checks = 500;
const burst = 5_000;

function print(label: string, values: number[]): void {
  const s = summarize(values);
  console.log(`${label.padEnd(62)} median ${ms(s.median).padStart(8)}  p95 ${ms(s.p95).padStart(8)}  p99 ${ms(s.p99).padStart(8)}  (n=${s.n})`);
}

async function checkLatencies(receiver: Receiver | undefined): Promise<number[]> {
  const server = await startTestServer({
    driver: new MemoryDriver(),
    ...(receiver ? { config: { webhook: { url: receiver.url, key: decodeSecret(receiver.secret)! } }, webhook: { flushMs: 0, timeoutMs: 60_000 } } : {}),
  });
  try {
    const learner = new LearnerClient(server.url);
    await learner.me();
    const lab = await learner.launch('test-lab');
    const latencies: number[] = [];
    for (let i = 0; i < checks + 20; i += 1) {
      const started = performance.now();
      const response = await learner.api(`/api/labs/${lab.id}/checks/always-ok`, { method: 'POST', token: lab.token });
      if (response.body.ok !== true) throw new Error(`check: ${response.status} ${response.text}`);
      // The first few warm the JIT and the connection.
      if (i >= 20) latencies.push(performance.now() - started);
    }
    return latencies;
  } finally {
    await server.cleanup();
  }
}

const answering = await startReceiver();
const hanging = await startReceiver();
hanging.answer = () => 'hang';
try {
  print('Check → verdict, no webhook', await checkLatencies(undefined));
  print('Check → verdict, webhook to a receiver answering 204', await checkLatencies(answering));
  print('Check → verdict, webhook to a receiver that never answers', await checkLatencies(hanging));
  console.log(`  (the hanging receiver held ${hanging.maxOpen} requests at most)`);

  answering.received.length = 0;
  const quiet = () => ({ info: () => {}, warn: (fields: unknown, message: string) => console.error(message, fields) });
  const delivery = new WebhookDelivery({ url: answering.url, key: decodeSecret(answering.secret)!, log: quiet, queueMax: burst });
  const event = { type: 'check.failed', at: new Date().toISOString(), learner: 'mQ3v0b8fTt2m1yXk1l7cRw', lab: 'terminal-basics', session: 'Yb7cPp0hH2gkXc8QHn5w1A', check: 'made-dir', ok: false, feedback: 'No folder mon-dossier in ~/work yet.' };
  const started = performance.now();
  for (let i = 0; i < burst; i += 1) delivery.enqueue({ ...event, i });
  await delivery.drained();
  const seconds = (performance.now() - started) / 1000;
  console.log(`Delivery: ${burst} events queued at once, all answered in ${(seconds * 1000).toFixed(0)} ms (${Math.round(burst / seconds)} events/s, sender and receiver in this one process)`);
  await delivery.close();
} finally {
  await answering.close();
  await hanging.close();
}

{
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const key = decodeSecret(secret)!;
  const body = JSON.stringify({ type: 'check.failed', feedback: 'x'.repeat(1000) });
  const reference = new Webhook(secret);
  const rounds = 20_000;
  for (const [label, sign] of [
    ['node:crypto (the server)', () => signWebhook(key, 'msg_1', 1_764_000_000, body)],
    ['standardwebhooks (pure JavaScript HMAC)', () => reference.sign('msg_1', new Date(1_764_000_000_000), body)],
  ] as const) {
    for (let i = 0; i < 1000; i += 1) sign();
    const began = performance.now();
    for (let i = 0; i < rounds; i += 1) sign();
    console.log(`Signing a 1 KB event, ${label}: ${(((performance.now() - began) / rounds) * 1000).toFixed(1)} µs`);
  }
}

const postgres = await startPostgres();
try {
  const url = await postgres.database();
  const onError = (error: unknown, context: string) => console.error(`${context}: ${(error as Error).message}`);
  const a = await PgCoordinator.open({ url, deployment: 'bench', onError });
  const b = await PgCoordinator.open({ url, deployment: 'bench', onError });
  try {
    const from = activityHub(a, onError);
    const to = activityHub(b, onError);
    const latencies: number[] = [];
    for (let i = 0; i < 1000; i += 1) {
      const heard = new Promise<void>((resolve) => to.events.once('activity', () => resolve()));
      const began = performance.now();
      from.emit({ type: 'check.failed', learner: 'u0123456789a', lab: 'terminal-basics', check: 'made-dir', session: 'AbCdEfGhIjKlMnOp', feedback: 'é'.repeat(1000), at: Date.now() });
      await heard;
      latencies.push(performance.now() - began);
    }
    print('Activity (1000-character feedback) replica A → hub on replica B', latencies);
    from.close();
    to.close();
  } finally {
    await a.close();
    await b.close();
  }
} finally {
  await postgres.stop();
}
