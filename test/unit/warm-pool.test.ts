/**
 * Warm pools in the sessions layer, over the memory driver: a launch claims a ready lab, the pool
 * refills, pooled labs count in the server's cap and give way to launches, a broken template does
 * not loop, extensions reach the driver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sessions, type SessionLimits } from '../../server/labs/sessions.ts';
import { parseLab } from '../../server/labs/registry.ts';
import { poolRetryMs } from '../../server/labs/warm-pool.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';

const lab = (id: string, pool: number) =>
  parseLab(`id: ${id}\ntitle: { fr: Lab ${id}, en: Lab ${id} }\npool: ${pool}\nresources: { cpu: 1, memory: 256Mi, disk: 64Mi, pids: 128 }\n`, `${id}/lab.yaml`);

function sessions(driver: MemoryDriver, limits: Partial<SessionLimits> = {}, extra: { poolMax?: number; now?: () => number } = {}) {
  const labs = new Map([
    ['pooled', lab('pooled', 2)],
    ['plain', lab('plain', 0)],
  ]);
  return new Sessions({
    driver,
    labs,
    limits: { maxTtl: 3600_000, maxLabs: 10, maxLabsPerClient: 10, maxLabsPerLearner: 10, launchesPerMinute: 1000, ...limits },
    reapInterval: 0,
    poolMax: extra.poolMax ?? 10,
    ...(extra.now ? { now: extra.now } : {}),
  });
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('a launch claims a ready lab of the pool, which refills; its learner environment is the claim\'s', async () => {
  const driver = new MemoryDriver();
  const server = sessions(driver);
  server.warm();
  await until('the pool is full', () => server.pooled('pooled') === 2);
  const ready = driver.calls.filter((call) => call.method === 'provision').map((call) => call.id);
  const { session } = await server.create('pooled', 'client', { learnerId: 'ada', env: { SECRET: 'learner-only' } });
  assert.equal(session.status, 'running');
  assert.ok(ready.includes(session.handle!.id), 'the lab was one provisioned before the launch');
  assert.equal(session.handle!.sessionId, session.id);
  assert.ok(session.progress.some((event) => event.step === 'claim'), 'the page is told a ready lab was handed over');
  assert.equal((await driver.exec(session.handle!, ['sh', '-c', 'printf %s "$SECRET"'])).stdout, 'learner-only');
  // The refill waits for a calm moment after the launch (a class's burst goes first), then comes.
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(server.pooled('pooled'), 1, 'no refill right after a launch');
  await until('the pool refills', () => server.pooled('pooled') === 2);
  await server.stopAll();
  assert.deepEqual(await driver.list(), [], 'shutdown stops the pooled labs too');
});

test('a launch that asked for other resources makes its own lab; a lab with no pool never has one', async () => {
  const driver = new MemoryDriver();
  const server = sessions(driver);
  server.warm();
  await until('the pool is full', () => server.pooled('pooled') === 2);
  const smaller = await server.create('pooled', 'client', { resources: { cpu: 0.5, memory: 128 << 20, disk: 64 << 20, pids: 128 } });
  assert.ok(!smaller.session.progress.some((event) => event.step === 'claim'));
  assert.equal(server.pooled('pooled'), 2, 'the pool was left alone');
  await server.create('plain', 'client');
  assert.equal(server.pooled('plain'), 0);
  await server.stopAll();
});

test('pooled labs count in the cap: a full server gives up another lab\'s pooled one rather than queue a learner', async () => {
  const driver = new MemoryDriver();
  const server = sessions(driver, { maxLabs: 3 });
  server.warm();
  await until('the pool is full', () => server.pooled('pooled') === 2);
  const first = await server.create('plain', 'client');
  assert.equal(first.queued, false);
  // 1 running + 2 pooled = the cap: the next launch evicts a pooled lab instead of waiting.
  const second = await server.create('plain', 'client');
  assert.equal(second.queued, false);
  assert.equal(server.pooled('pooled'), 1);
  const third = await server.create('plain', 'client');
  assert.equal(third.queued, false);
  assert.equal(server.pooled('pooled'), 0);
  // Nothing is left to give up: the next one waits in the queue, and no refill takes its place.
  const fourth = await server.create('plain', 'client');
  assert.equal(fourth.queued, true);
  await server.stop(first.session.id);
  await until('the queued launch runs', () => fourth.session.status === 'running');
  assert.equal(server.pooled('pooled'), 0, 'the freed slot went to the waiting learner, not to the pool');
  await server.stopAll();
});

test('a pool whose provisioning fails waits before trying again (no hot loop on a broken lab)', async () => {
  let now = Date.now();
  let failures = 0;
  const driver = new MemoryDriver({
    beforeProvision: () => {
      failures += 1;
      throw new Error('no image');
    },
  });
  const server = sessions(driver, {}, { now: () => now });
  server.warm();
  await until('both pooled starts failed', () => failures === 2);
  await new Promise((resolve) => setTimeout(resolve, 50));
  server.warm();
  assert.equal(failures, 2, 'no retry within the back-off');
  now += poolRetryMs + 1;
  server.warm();
  await until('retried after the back-off', () => failures === 4);
  await server.stopAll();
});

test('an extension reaches the driver (a pod\'s expiry label)', async () => {
  const driver = new MemoryDriver();
  const server = sessions(driver);
  const { session } = await server.create('plain', 'client');
  const extended = server.extend(session.id);
  assert.equal(extended?.ok, true);
  await until('the driver was told', () => driver.calls.some((call) => call.method === 'update' && call.id === session.handle!.id));
  await server.stopAll();
});

test('a pooled lab that died while it waited is replaced: the learner gets a new lab, not the error', async () => {
  let failures = 1;
  const driver = new MemoryDriver({
    beforeClaim: () => {
      if (failures-- > 0) throw new Error('the pod is gone');
    },
  });
  const errors: string[] = [];
  const server = new Sessions({
    driver,
    labs: new Map([['pooled', lab('pooled', 1)]]),
    limits: { maxTtl: 3600_000, maxLabs: 10, maxLabsPerClient: 10 },
    reapInterval: 0,
    poolMax: 1,
    onError: (_error, context) => errors.push(context),
  });
  server.warm();
  await until('the pool is full', () => server.pooled('pooled') === 1);
  const pooledId = driver.calls.find((call) => call.method === 'provision')!.id;
  const { session } = await server.create('pooled', 'client');
  assert.equal(session.status, 'running');
  assert.notEqual(session.handle!.id, pooledId, 'a lab of its own');
  assert.ok(driver.calls.some((call) => call.method === 'stop' && call.id === pooledId), 'the dead one was released');
  assert.ok(errors.some((context) => context.startsWith('claim pooled')), 'and the failure reported to the operator');
  await server.stopAll();
});
