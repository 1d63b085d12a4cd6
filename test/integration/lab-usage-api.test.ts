/**
 * GET /api/labs/:id/usage against a real server and a real lab: the owner (cookie or token)
 * reads its CPU and memory against the lab's limits; another learner and a stranger learn nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { Browser, assertCleanError, isRoot } from '../helpers/attack.ts';
import { startTestServer, testLabId, type TestServer } from '../helpers/server.ts';

const MiB = 1024 * 1024;
let server: TestServer;
let owner: Browser;
let lab: { id: string; token: string };

before(async () => {
  if (!isRoot) return;
  // A uid range of its own (beside lab-usage.test.ts's), so no other test's labs are met.
  server = await startTestServer({ driver: new LocalDriver({ uidBase: 210_410, uidCount: 10, cgroupName: 'atelier-test' }) });
  owner = new Browser(server);
  lab = await owner.launch(testLabId);
});

after(async () => {
  await server?.cleanup();
});

test('the owner reads the lab\'s CPU and memory against its limits, by cookie or token', { skip: !isRoot && 'needs root' }, async () => {
  const byCookie = await owner.api(`/api/labs/${lab.id}/usage`);
  assert.equal(byCookie.status, 200, JSON.stringify(byCookie.body));
  const usage = byCookie.body as { cpu: { used: number; limit: number }; memory: { used: number; limit: number }; at: number };
  assert.deepEqual(Object.keys(usage).sort(), ['at', 'cpu', 'memory']);
  assert.equal(usage.cpu.limit, 0.5, 'the test lab\'s resources');
  assert.equal(usage.memory.limit, 256 * MiB);
  assert.ok(usage.cpu.used >= 0 && usage.memory.used > 0);
  assert.ok(Math.abs(usage.at - Date.now()) < 5000);
  assert.equal(byCookie.headers.get('cache-control'), 'no-store');

  const byToken = await server.api(`/api/labs/${lab.id}/usage`, { token: lab.token });
  assert.equal(byToken.status, 200);
  assert.equal(byToken.body.memory.limit, 256 * MiB);
});

test('another learner gets a 404, even holding a token of their own lab; no credentials: 401', { skip: !isRoot && 'needs root' }, async () => {
  const other = new Browser(server);
  await other.me();
  const byCookie = await other.api(`/api/labs/${lab.id}/usage`, { lang: 'fr' });
  assertCleanError(byCookie, [404], 'another learner\'s cookie');
  assert.equal(byCookie.body.error.code, 'lab_gone');
  assert.equal(byCookie.body.error.message, 'Ce service n\'existe plus.');

  const theirs = await other.launch(testLabId);
  try {
    const wrongToken = await server.api(`/api/labs/${lab.id}/usage`, { token: theirs.token });
    assertCleanError(wrongToken, [404], 'a token of another lab');
  } finally {
    await other.api(`/api/labs/${theirs.id}`, { method: 'DELETE' });
  }

  const stranger = await server.api(`/api/labs/${lab.id}/usage`);
  assertCleanError(stranger, [401], 'no cookie, no token');
  const unknown = await owner.api('/api/labs/no-such-lab/usage');
  assertCleanError(unknown, [404], 'an unknown lab');
});

test('a deleted lab has no usage', { skip: !isRoot && 'needs root' }, async () => {
  const deleted = await owner.api(`/api/labs/${lab.id}`, { method: 'DELETE' });
  assert.equal(deleted.status, 204);
  const after = await server.api(`/api/labs/${lab.id}/usage`, { token: lab.token });
  assertCleanError(after, [404], 'a deleted lab');
});
