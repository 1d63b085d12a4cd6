/**
 * A hostile or broken webhook receiver against the lab server: one that never answers does not
 * delay a learner's check, nor grow the server's memory (the queue keeps its bound, four
 * requests open at most); one that redirects is not followed; one that answers an endless body
 * is not read; and a check whose message is a novel sends a bounded one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { makeLabsDir, startTestServer, testLabYaml, type TestServer } from '../helpers/server.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { loadLabs } from '../../server/labs/registry.ts';
import { decodeSecret } from '../../server/webhook/sign.ts';
import { maxFeedbackChars } from '../../server/activity/hub.ts';
import { registry } from '../../server/metrics.ts';
import type { WebhookPayload } from '../../server/webhook/payload.ts';
import type { StartOptions } from '../../server/app.ts';

const novel = 'Lisez ceci. '.repeat(20_000);
const labsDir = makeLabsDir({
  'long-hint': testLabYaml
    .replace('id: test-lab', 'id: long-hint')
    .replace('hint: { fr: Tapez mkdir mon-dossier, en: Type mkdir mon-dossier }', `hint: { fr: "${novel}", en: "${novel}" }`),
});
const labs = loadLabs(labsDir);
after(() => rmSync(labsDir, { recursive: true, force: true }));

let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
});
after(() => receiver.close());

async function serverFor(url: string, webhook: StartOptions['webhook'] = {}): Promise<TestServer> {
  return startTestServer({ driver: new MemoryDriver(), labs, config: { webhook: { url, key: decodeSecret(receiver.secret)! } }, webhook: { flushMs: 0, ...webhook } });
}

async function count(result: string): Promise<number> {
  const metric = await registry.getSingleMetric('atelier_webhook_events_total')!.get();
  return metric.values.find((value) => value.labels.result === result)?.value ?? 0;
}

test('a receiver that never answers delays no check, and holds four requests and a bounded queue at most', async () => {
  receiver.received.length = 0;
  receiver.answer = () => 'hang';
  const server = await serverFor(receiver.url, { queueMax: 20, timeoutMs: 60_000 });
  try {
    const learner = new LearnerClient(server.url);
    await learner.me();
    const lab = await learner.launch('test-lab');
    await receiver.waitFor(1);
    const droppedBefore = await count('dropped');
    for (let i = 0; i < 200; i += 1) {
      const response = await learner.api(`/api/labs/${lab.id}/checks/always-ok`, { method: 'POST', token: lab.token });
      assert.equal(response.body.ok, true);
      // Answered while the receiver still holds what it was sent.
      assert.ok(receiver.open >= 1);
    }
    assert.equal(receiver.maxOpen, 4);
    assert.ok(server.webhook!.size <= 24, `${server.webhook!.size} events kept`);
    assert.equal((await count('dropped')) - droppedBefore, 201 - 24);
  } finally {
    await server.cleanup();
  }
  // Closing the server ended its requests (the receiver sees the connections close).
  const deadline = Date.now() + 10_000;
  while (receiver.open > 0) {
    assert.ok(Date.now() < deadline, `${receiver.open} requests still open`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

test('a receiver redirecting elsewhere is not followed, and the event is not tried again', async () => {
  receiver.received.length = 0;
  const elsewhere = await startReceiver();
  const server = await serverFor(receiver.url, { backoffMs: 10 });
  try {
    const failedBefore = await count('failed');
    for (const status of [301, 302, 303, 307, 308]) {
      receiver.answer = () => ({ status, headers: { location: elsewhere.url } });
      server.webhook!.enqueue({ status });
      await server.webhook!.drained();
    }
    assert.equal(receiver.received.length, 5, 'one attempt each');
    assert.equal(elsewhere.received.length, 0);
    assert.equal((await count('failed')) - failedBefore, 5);
  } finally {
    await server.cleanup();
    await elsewhere.close();
  }
});

test('a receiver answering an endless body is not read: the event is sent and the server moves on', async () => {
  let streams = 0;
  const endless = createServer((request, response) => {
    request.resume();
    streams += 1;
    response.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pour = (): void => {
      while (response.write(chunk));
      response.once('drain', pour);
    };
    pour();
  });
  await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
  const server = await serverFor(`http://127.0.0.1:${(endless.address() as AddressInfo).port}/`);
  try {
    const sentBefore = await count('sent');
    for (let i = 0; i < 20; i += 1) server.webhook!.enqueue({ i });
    await server.webhook!.drained();
    assert.equal((await count('sent')) - sentBefore, 20);
    assert.equal(streams, 20);
  } finally {
    await server.cleanup();
    endless.closeAllConnections();
    await new Promise<void>((resolve) => endless.close(() => resolve()));
  }
});

test('a check whose message is a novel: the learner reads it all, the webhook gets a bounded feedback', async () => {
  receiver.received.length = 0;
  receiver.answer = () => ({ status: 204 });
  const server = await serverFor(receiver.url);
  try {
    const learner = new LearnerClient(server.url);
    await learner.me();
    const lab = await learner.launch('long-hint');
    const failed = await learner.api(`/api/labs/${lab.id}/checks/made-dir`, { method: 'POST', token: lab.token, lang: 'fr' });
    assert.equal(failed.body.ok, false);
    assert.ok(failed.body.message.length > novel.length);
    const [, check] = await receiver.waitFor(2);
    const payload = check!.verified as WebhookPayload;
    assert.equal(payload.type, 'check.failed');
    assert.equal(Array.from(payload.feedback!).length, maxFeedbackChars);
    assert.ok(check!.body.length < 2 * maxFeedbackChars, `${check!.body.length} bytes sent`);
  } finally {
    await server.cleanup();
  }
});
