/**
 * Two lab-server replicas on one real PostgreSQL (sessions' rows, the bus, leadership) over one
 * deployment's labs (the memory driver's, which both replicas' drivers see, as two replicas'
 * Kubernetes drivers see one namespace): a lab launched through one is served by the other —
 * its status, its terminal, its extension, its deletion —, quotas count both, one replica reaps,
 * and a replica that goes leaves its learners' labs to the other.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { makeLabsDir, startTestServer, testLabId, testLabYaml, type TestServer } from '../helpers/server.ts';
import { loadLabs } from '../../server/labs/registry.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { connectTerminal } from '../helpers/terminal.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import type { StartOptions } from '../../server/app.ts';

let postgres: TestPostgres;
const servers: TestServer[] = [];
const dirs: string[] = [];
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  for (const server of servers) await server.cleanup().catch(() => {});
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await postgres.stop();
});

const deployments = new Map<TestServer, string>();
const deploymentOf = (server: TestServer): string => deployments.get(server)!;

/** Two replicas of one deployment: one database, the same keys, each its own data dir and driver. */
async function replicas(config: StartOptions['config'] = {}): Promise<[TestServer, TestServer]> {
  const databaseUrl = await postgres.database();
  const deployment = `replicas-${Math.random().toString(36).slice(2)}`;
  const labsDir = makeLabsDir({ 'lab-b': testLabYaml.replace(`id: ${testLabId}`, 'id: lab-b') });
  dirs.push(labsDir);
  const labs = loadLabs(labsDir);
  const a = await startTestServer({ driver: new MemoryDriver({ deployment }), labs, config: { databaseUrl, ...config } });
  deployments.set(a, deployment);
  servers.push(a);
  const bData = mkdtempSync(join(tmpdir(), 'atelier-data-'));
  dirs.push(bData);
  cpSync(join(a.config.dataDir, 'keys'), join(bData, 'keys'), { recursive: true });
  const b = await startTestServer({ driver: new MemoryDriver({ deployment }), labs, config: { databaseUrl, dataDir: bData, ...config } });
  servers.push(b);
  return [a, b];
}

async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('launched through one replica, a lab is served by the other: status, terminal, extension, deletion', async () => {
  const [a, b] = await replicas();
  const onA = new LearnerClient(a.url);
  await onA.me();
  const onB = new LearnerClient(b.url, onA.cookie);
  const lab = await onA.launch(testLabId);
  const view = async (client: LearnerClient) => client.api(`/api/labs/${lab.id}`, { token: lab.token });
  await until('B knows the lab as running', async () => (await view(onB)).body.status === 'running');

  // The terminal, through B: a shell in the lab A started.
  const terminal = await connectTerminal(b.url, { lab: lab.id, token: lab.token });
  await terminal.screen;
  terminal.type('echo from-$((40+2))\r');
  await terminal.waitFor(/from-42/);
  terminal.close();

  // Extended through B: A sees the new expiry.
  const before = (await view(onA)).body.expiresAt as string;
  const extended = await onB.api(`/api/labs/${lab.id}/extend`, { method: 'POST', token: lab.token });
  assert.equal(extended.status, 200, JSON.stringify(extended.body));
  await until('A sees the extension', async () => (await view(onA)).body.expiresAt > before);

  // A page of B gets its own token; A accepts it.
  const again = await onB.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(again.body.id, lab.id, 'the learner\'s lab, found through the other replica');
  await until('A accepts the token B issued', async () => (await onA.api(`/api/labs/${lab.id}`, { token: again.body.token })).status === 200);

  // Deleted through B: gone on A, and the lab with it.
  await onB.deleteLab(lab.id);
  await until('A forgets it', async () => (await view(onA)).status === 404);
  assert.deepEqual(await a.driver.list(), []);
});

test('a replica joining later knows the running labs, and drops the sessions of labs that are gone', async () => {
  const [a] = await replicas();
  const onA = new LearnerClient(a.url);
  await onA.me();
  const kept = await onA.launch(testLabId);
  const lost = await onA.launch('lab-b');
  // The second lab dies behind the sessions' back (its pod evicted, its sandbox killed).
  await a.driver.stop(a.sessions.get(lost.id)!.handle!);
  const bData = mkdtempSync(join(tmpdir(), 'atelier-data-'));
  dirs.push(bData);
  cpSync(join(a.config.dataDir, 'keys'), join(bData, 'keys'), { recursive: true });
  const c = await startTestServer({ driver: new MemoryDriver({ deployment: deploymentOf(a) }), labs: new Map(a.sessions.labs), config: { databaseUrl: a.config.databaseUrl!, dataDir: bData } });
  servers.push(c);
  assert.equal(c.sessions.get(kept.id)?.status, 'running', 'the running lab is known to the newcomer');
  assert.equal(c.sessions.get(lost.id), undefined, 'the lost one is not');
  await until('A hears that the lost lab is gone', () => a.sessions.get(lost.id) === undefined);
  await onA.deleteLab(kept.id);
});

test('the per-learner quota counts the labs of both replicas', async () => {
  const [a, b] = await replicas({ limits: { maxLabsPerLearner: 1 } });
  const onA = new LearnerClient(a.url);
  await onA.me();
  const onB = new LearnerClient(b.url, onA.cookie);
  const first = await onA.launch(testLabId);
  await until('B knows it', () => b.sessions.get(first.id) !== undefined);
  const second = await onB.api('/api/labs', { method: 'POST', body: { lab: 'lab-b' } });
  assert.equal(second.status, 429, JSON.stringify(second.body));
  assert.equal(second.body.error.code, 'too_many_labs');
  await onA.deleteLab(first.id);
});

test('one replica reaps for both; when it goes, the other serves its labs and reaps', async () => {
  const [a, b] = await replicas();
  const onA = new LearnerClient(a.url);
  await onA.me();
  const lab = await onA.launch(testLabId);
  await until('B knows it', () => b.sessions.get(lab.id)?.status === 'running');
  // A replica that stops leaves the deployment's running labs to the others.
  await a.close();
  const onB = new LearnerClient(b.url, onA.cookie);
  assert.equal((await onB.api(`/api/labs/${lab.id}`, { token: lab.token })).body.status, 'running', 'B still serves the lab A launched');
  const terminal = await connectTerminal(b.url, { lab: lab.id, token: lab.token });
  await terminal.screen;
  terminal.type('echo still-$((6*7))\r');
  await terminal.waitFor(/still-42/);
  terminal.close();
  // Expired: the reaper, now B's, stops it.
  const session = b.sessions.get(lab.id)!;
  session.expiresAt = Date.now() - 1;
  const reaped = await b.sessions.reap();
  assert.deepEqual(reaped, [lab.id]);
  assert.deepEqual(await b.driver.list(), []);
});
