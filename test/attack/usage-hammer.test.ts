/**
 * Attack: hammering GET /api/labs/:id/usage (a page polling in a tight loop, many tabs, a script).
 * The server reads a lab's cgroups at most once a second whatever the rate: the readings the
 * driver actually makes are counted; another learner's hammering makes none at all.
 * Run: node_modules/.bin/node --disable-warning=ExperimentalWarning --test test/attack/usage-hammer.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LabHandle, LabUsage } from '../../server/drivers/driver.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { Browser, assertHealthy, isRoot } from '../helpers/attack.ts';
import { startTestServer, testLabId, type TestServer } from '../helpers/server.ts';

/** The real driver, counting the readings it makes. */
class CountingDriver extends LocalDriver {
  readings = 0;
  override usage(handle: LabHandle): Promise<LabUsage | undefined> {
    this.readings += 1;
    return super.usage(handle);
  }
}

/** `total` requests, `concurrency` at a time; the statuses seen, with their counts. */
async function hammer(total: number, concurrency: number, request: () => Promise<{ status: number }>): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let sent = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent += 1;
        const { status } = await request();
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

describe('hammering /usage', { skip: !isRoot && 'needs root' }, () => {
  // Its own uid slice per process (the same suite may run twice at once) and cgroup name.
  const driver = new CountingDriver({ uidBase: 640_000 + (process.pid % 400) * 16, uidCount: 16, cgroupName: 'atelier-attack-usage' });
  let server: TestServer;
  let owner: Browser;
  let lab: { id: string; token: string };

  before(async () => {
    server = await startTestServer({ driver, reapInterval: 0 });
    owner = new Browser(server);
    lab = await owner.launch(testLabId);
  });

  after(async () => {
    await server?.cleanup();
    await driver.close();
  });

  it('1000 requests of the owner compute about one reading a second', async () => {
    const before = driver.readings;
    const started = performance.now();
    const statuses = await hammer(1000, 50, () => server.api(`/api/labs/${lab.id}/usage`, { token: lab.token }));
    const seconds = (performance.now() - started) / 1000;
    const readings = driver.readings - before;
    assert.deepEqual([...statuses], [[200, 1000]]);
    console.log(`# 1000 requests in ${seconds.toFixed(2)} s: ${readings} readings`);
    assert.ok(readings >= 1 && readings <= Math.ceil(seconds) + 1, `${readings} readings in ${seconds.toFixed(2)} s`);
  });

  it('another learner hammering the same lab gets 404s and costs no reading', async () => {
    const other = new Browser(server);
    await other.me();
    const before = driver.readings;
    const statuses = await hammer(1000, 50, () => other.api(`/api/labs/${lab.id}/usage`));
    assert.deepEqual([...statuses], [[404, 1000]]);
    assert.equal(driver.readings - before, 0);
    await assertHealthy(server);
  });
});
