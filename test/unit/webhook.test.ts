/**
 * The webhook's parts: signatures as the Standard Webhooks reference verifies them, secrets,
 * the payload's pseudonyms, the backoff, and the delivery queue against a real receiver on
 * loopback (its bound, retries, what is not retried).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { decodeSecret, signWebhook } from '../../server/webhook/sign.ts';
import { pseudonym, pseudonymKey, webhookPayload } from '../../server/webhook/payload.ts';
import { backoffDelay, classify, WebhookDelivery } from '../../server/webhook/delivery.ts';
import { registry } from '../../server/metrics.ts';
import { loadConfig } from '../../server/config.ts';
import { startReceiver } from '../helpers/webhook-receiver.ts';

const secretText = `whsec_${randomBytes(32).toString('base64')}`;
const key = decodeSecret(secretText)!;
const nowSeconds = () => Math.floor(Date.now() / 1000);

function signed(body: string, id = 'msg_1', timestamp = nowSeconds()): Record<string, string> {
  return { ...signWebhook(key, id, timestamp, body) };
}

test('a signature holds for the reference verifier, and fails on a changed byte, id or timestamp, or an old timestamp', () => {
  const verifier = new Webhook(secretText);
  const body = JSON.stringify({ type: 'check.passed', lab: 'a', feedback: 'é😀\u0000' });
  assert.deepEqual(verifier.verify(body, signed(body)), JSON.parse(body));

  const changed = body.replace('passed', 'passes');
  assert.throws(() => verifier.verify(changed, signed(body)), WebhookVerificationError);
  const headers = signed(body);
  assert.throws(() => verifier.verify(body, { ...headers, 'webhook-id': 'msg_2' }), WebhookVerificationError);
  assert.throws(() => verifier.verify(body, { ...headers, 'webhook-timestamp': String(nowSeconds() - 1) }), WebhookVerificationError);
  // Older than the spec's five minutes of tolerance: refused although correctly signed.
  const old = nowSeconds() - 6 * 60;
  assert.throws(() => verifier.verify(body, signed(body, 'msg_1', old)), /too old/);
  // Another secret: refused.
  assert.throws(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(body, headers), WebhookVerificationError);
});

test('secrets: whsec_ or bare base64 of 24 to 64 bytes; anything else is refused, by name, unquoted', () => {
  assert.equal(decodeSecret(secretText)?.length, 32);
  assert.equal(decodeSecret(randomBytes(24).toString('base64'))?.length, 24);
  for (const bad of ['whsec_', 'whsec_abc', `whsec_${randomBytes(23).toString('base64')}`, `whsec_${randomBytes(65).toString('base64')}`, 'whsec_!!!!', `whsec_${randomBytes(32).toString('base64url')}-_`]) {
    assert.equal(decodeSecret(bad), undefined, bad);
  }
  const url = 'https://analytics.school.example/hooks?token=opensesame';
  const config = loadConfig({ ATELIER_WEBHOOK_URL: url, ATELIER_WEBHOOK_SECRET: secretText });
  assert.equal(config.webhook?.url, url);
  assert.deepEqual(config.webhook?.key, key);
  assert.equal(loadConfig({}).webhook, undefined);
  // From a mounted Secret: its final newline is not part of it.
  const dir = mkdtempSync(join(tmpdir(), 'atelier-webhook-'));
  try {
    writeFileSync(join(dir, 'secret'), `${secretText}\n`, { mode: 0o600 });
    assert.deepEqual(loadConfig({ ATELIER_WEBHOOK_URL: url, ATELIER_WEBHOOK_SECRET_FILE: join(dir, 'secret') }).webhook?.key, key);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const refusals: [Record<string, string>, RegExp][] = [
    [{ ATELIER_WEBHOOK_URL: url }, /ATELIER_WEBHOOK_SECRET or ATELIER_WEBHOOK_SECRET_FILE required/],
    [{ ATELIER_WEBHOOK_URL: 'ftp://school.example/?token=opensesame', ATELIER_WEBHOOK_SECRET: secretText }, /ATELIER_WEBHOOK_URL: expected/],
    [{ ATELIER_WEBHOOK_URL: url, ATELIER_WEBHOOK_SECRET: 'whsec_opensesame' }, /ATELIER_WEBHOOK_SECRET is not a Standard Webhooks secret/],
    [{ ATELIER_WEBHOOK_URL: url, ATELIER_WEBHOOK_SECRET: secretText, ATELIER_WEBHOOK_SECRET_FILE: '/x' }, /both set/],
    [{ ATELIER_WEBHOOK_URL: url, ATELIER_WEBHOOK_SECRET_FILE: '/nonexistent/webhook-secret' }, /ATELIER_WEBHOOK_SECRET_FILE=.*cannot be read \(ENOENT\)/],
    [{ ATELIER_WEBHOOK_SECRET: secretText }, /ATELIER_WEBHOOK_SECRET is set but ATELIER_WEBHOOK_URL is not/],
  ];
  for (const [env, message] of refusals) {
    assert.throws(
      () => loadConfig(env),
      (error: Error) => message.test(error.message) && !error.message.includes('opensesame') && !error.message.includes(secretText.slice(6)),
      JSON.stringify(Object.keys(env)),
    );
  }
});

test('the payload names learner and session by stable pseudonyms, never by their ids', () => {
  const names = pseudonymKey(randomBytes(32));
  const learner = 'uAbCdEfGhIjK';
  const at = Date.UTC(2026, 11, 1, 9, 30);
  const failed = webhookPayload(names, { type: 'check.failed', learner, lab: 'terminal-basics', check: 'made-dir', session: 'sEsSiOnId123', feedback: 'No folder yet.', at });
  assert.deepEqual(failed, {
    type: 'check.failed',
    at: '2026-12-01T09:30:00.000Z',
    learner: pseudonym(names, 'learner', learner),
    lab: 'terminal-basics',
    session: pseudonym(names, 'session', 'sEsSiOnId123'),
    check: 'made-dir',
    ok: false,
    feedback: 'No folder yet.',
  });
  const ended = webhookPayload(names, { type: 'lab.ended', learner, lab: 'terminal-basics', session: 'sEsSiOnId123', reason: 'idle', at });
  assert.equal(ended.learner, failed.learner, 'stable across events');
  assert.equal(ended.reason, 'idle');
  const text = JSON.stringify([failed, ended]);
  assert.ok(!text.includes(learner) && !text.includes('sEsSiOnId123'));
  assert.notEqual(pseudonym(names, 'learner', 'uAbCdEfGhIjL'), failed.learner);
  assert.notEqual(pseudonym(names, 'session', learner), failed.learner, 'a session never shares a learner\'s name');
  assert.notEqual(pseudonym(pseudonymKey(randomBytes(32)), 'learner', learner), failed.learner, 'another deployment, other names');
});

test('backoff doubles from its base to its cap, with jitter between half and all of it', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 10].map((retry) => backoffDelay(retry, 1000, 8000, () => 1)), [1000, 2000, 4000, 8000, 8000, 8000]);
  assert.deepEqual([1, 2, 3].map((retry) => backoffDelay(retry, 1000, 8000, () => 0)), [500, 1000, 2000]);
  for (let i = 0; i < 100; i += 1) {
    const delay = backoffDelay(3, 1000, 60_000);
    assert.ok(delay >= 2000 && delay <= 4000, String(delay));
  }
});

test('what a response means: 2xx sent; 408, 429 and 5xx again; a redirect or another 4xx failed at once', () => {
  assert.deepEqual([200, 202, 204].map((status) => classify(status).result), ['sent', 'sent', 'sent']);
  assert.deepEqual([408, 429, 500, 502, 503].map((status) => classify(status).result), ['retry', 'retry', 'retry', 'retry', 'retry']);
  assert.deepEqual([301, 302, 307, 308, 400, 401, 404, 410].map((status) => classify(status).result), Array(8).fill('failed'));
});

async function counts(): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('atelier_webhook_events_total')!.get();
  return Object.fromEntries(['sent', 'failed', 'dropped'].map((result) => [result, metric.values.find((value) => value.labels.result === result)?.value ?? 0]));
}

function quietLog() {
  const lines: string[] = [];
  return { lines, log: () => ({ info: (_: unknown, message: string) => lines.push(message), warn: (_: unknown, message: string) => lines.push(message) }) };
}

test('delivery retries 5xx with the same id, signed anew each time, until the receiver takes it', async () => {
  const receiver = await startReceiver();
  const { log } = quietLog();
  const delivery = new WebhookDelivery({ url: receiver.url, key: decodeSecret(receiver.secret)!, log, backoffMs: 20, maxBackoffMs: 40 });
  let calls = 0;
  receiver.answer = () => ((calls += 1) < 3 ? { status: 503 } : { status: 200 });
  const before = await counts();
  delivery.enqueue({ type: 'lab.launched', n: 1 });
  await delivery.drained();
  const received = await receiver.waitFor(3);
  assert.equal(new Set(received.map((request) => request.headers['webhook-id'])).size, 1, 'one event, one id');
  assert.ok(received.every((request) => request.verified !== undefined), 'every attempt signed');
  assert.deepEqual(received[2]!.verified, { type: 'lab.launched', n: 1 });
  assert.equal(received[0]!.headers['content-type'], 'application/json');
  const after = await counts();
  assert.equal(after.sent! - before.sent!, 1);
  assert.equal(after.failed! - before.failed!, 0);
  await delivery.close();
  await receiver.close();
});

test('delivery gives up after its attempts on 5xx, and at once on a 4xx, counting and saying it', async () => {
  const receiver = await startReceiver();
  const { log, lines } = quietLog();
  const delivery = new WebhookDelivery({ url: receiver.url, key: decodeSecret(receiver.secret)!, log, backoffMs: 5, maxBackoffMs: 10, attempts: 3 });
  const before = await counts();
  receiver.answer = () => ({ status: 500 });
  delivery.enqueue({ n: 1 });
  await delivery.drained();
  assert.equal(receiver.received.length, 3, 'three attempts, no more');
  receiver.answer = () => ({ status: 400 });
  delivery.enqueue({ n: 2 });
  await delivery.drained();
  assert.equal(receiver.received.length, 4, 'a 400 is not tried again');
  const after = await counts();
  assert.equal(after.failed! - before.failed!, 2);
  assert.equal(after.sent! - before.sent!, 0);
  assert.deepEqual(lines, ['webhook event not delivered', 'webhook event not delivered']);
  await delivery.close();
  await receiver.close();
});

test('a hanging receiver holds at most `concurrency` requests; the queue keeps its bound by dropping the oldest, said once', async () => {
  const receiver = await startReceiver();
  receiver.answer = () => 'hang';
  const { log, lines } = quietLog();
  const delivery = new WebhookDelivery({ url: receiver.url, key: decodeSecret(receiver.secret)!, log, queueMax: 10, concurrency: 4, timeoutMs: 60_000 });
  const before = await counts();
  for (let n = 0; n < 500; n += 1) delivery.enqueue({ n });
  await receiver.waitFor(4);
  assert.equal(delivery.sending, 4);
  assert.equal(delivery.size, 14, 'four being sent, ten waiting');
  const after = await counts();
  assert.equal(after.dropped! - before.dropped!, 486);
  assert.deepEqual(lines, ['webhook queue full: oldest event dropped'], 'one line for the burst');
  await delivery.close(0);
  assert.equal(receiver.maxOpen, 4);
  assert.equal(delivery.size, 0, 'closing abandons what waits and ends the requests');
  assert.equal(lines.at(-1), 'webhook events not sent: the server is stopping');
  await receiver.close();
});

test('when the receiver is back, what it gets is the newest events: the oldest were dropped', async () => {
  const receiver = await startReceiver();
  const { log } = quietLog();
  const delivery = new WebhookDelivery({ url: receiver.url, key: decodeSecret(receiver.secret)!, log, queueMax: 3, concurrency: 1, timeoutMs: 300, attempts: 1 });
  receiver.answer = () => 'hang';
  delivery.enqueue({ n: 0 });
  await receiver.waitFor(1);
  receiver.answer = () => ({ status: 204 });
  for (let n = 1; n <= 10; n += 1) delivery.enqueue({ n });
  await delivery.drained();
  assert.deepEqual(receiver.received.map((request) => (request.verified as { n: number }).n), [0, 8, 9, 10]);
  await delivery.close();
  await receiver.close();
});
