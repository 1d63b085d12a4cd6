/**
 * Sign-in across replicas: two lab servers on one real PostgreSQL and one ATELIER_SECRET_KEY_FILE,
 * one configured origin (the balancer's), a real provider. A login reached on B goes to the
 * configured origin; a callback completes on whichever replica it lands on; the signed-in
 * browser is the account's learner on both, and a second device's merge is seen from both.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { writeSecretKeyFile } from '../helpers/replicas.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { Browser, freePort, startProvider, type TestProvider } from '../helpers/oidc.ts';

let postgres: TestPostgres;
let provider: TestProvider;
let a: TestServer;
let b: TestServer;
let origin: string;
const keys = mkdtempSync(join(tmpdir(), 'atelier-sign-in-replicas-'));

before(async () => {
  postgres = await startPostgres();
  const databaseUrl = await postgres.database();
  const port = await freePort();
  origin = `http://localhost:${port}`;
  provider = await startProvider(origin);
  const deployment = `sign-in-${randomBytes(4).toString('hex')}`;
  const shared = {
    databaseUrl,
    deployment,
    secretKeyFile: writeSecretKeyFile(keys),
    origin,
    oidc: { issuer: provider.issuer, clientId: provider.clientId, clientSecret: provider.clientSecret, scopes: 'openid profile email' },
  };
  a = await startTestServer({ driver: new MemoryDriver({ deployment }), config: { ...shared, port } });
  b = await startTestServer({ driver: new MemoryDriver({ deployment }), config: shared });
});

after(async () => {
  for (const server of [b, a]) {
    if (!server) continue;
    await server.cleanup();
    rmSync(server.config.dataDir, { recursive: true, force: true });
  }
  await provider?.stop();
  await postgres?.stop();
  rmSync(keys, { recursive: true, force: true });
});

/** The browser's cookies of A's host, sent to B as well (one balancer's host in a deployment). */
function shareJar(browser: Browser): void {
  browser.jars.set(new URL(b.url).host, browser.cookies(a.url));
}

test('a login on B goes to the configured origin; the callback completes on B; both replicas see the account and the merge', async () => {
  const laptop = new Browser();
  shareJar(laptop);
  const onB = await laptop.request(`${b.url}/auth/login?return=/fr/`);
  assert.equal(onB.status, 302);
  assert.equal(onB.headers.get('location'), `${origin}/auth/login?return=/fr/`);
  await laptop.request(`${a.url}/api/progress`, { method: 'PUT', json: { page: '/tp/x/', step: 's', done: true }, headers: { origin: a.url } });
  const deviceLearner = JSON.parse((await laptop.request(`${b.url}/api/me`)).text).learner.id;

  const callback = await laptop.callbackOf(origin, 'ada');
  const landed = await laptop.request(callback.replace(origin, b.url));
  assert.equal(landed.status, 303, landed.text);
  for (const server of [a, b]) {
    const auth = JSON.parse((await laptop.request(`${server.url}/api/auth`)).text);
    assert.equal(auth.signedIn, true, server.url);
    assert.equal(JSON.parse((await laptop.request(`${server.url}/api/me`)).text).learner.id, deviceLearner, server.url);
  }

  const desktop = new Browser();
  shareJar(desktop);
  await desktop.request(`${b.url}/api/me/secrets/perso`, { method: 'PUT', json: { vars: { K: 'v' } }, headers: { origin: b.url } });
  const second = await desktop.callbackOf(origin, 'ada');
  assert.equal((await desktop.request(second)).status, 303, 'this one completes on A');
  const groups = (server: TestServer, browser: Browser) => browser.request(`${server.url}/api/me/secrets`).then((page) => JSON.parse(page.text).groups.map((group: { group: string }) => group.group));
  assert.deepEqual(await groups(b, laptop), ['perso'], 'the merge is seen from the other replica and the other device');
  assert.deepEqual(await groups(a, desktop), ['perso']);
});
