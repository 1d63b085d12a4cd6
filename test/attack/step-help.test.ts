/**
 * Skip and rebuild run scripts in a learner's lab: only its owner may start them. Another
 * learner (their own cookie, with or without the owner's lab token), a caller with the token and
 * no cookie, a cross-site page and a guessed lab id are all refused before anything runs, and the
 * owner's lab shows that nothing ran. A script's output, however large, comes back bounded.
 * Real server, real local driver.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { makeLabsDir, startTestServer, type TestServer } from '../helpers/server.ts';
import { assertCleanError, Browser } from '../helpers/attack.ts';
import { inLab } from '../helpers/learner.ts';

const labYaml = `
id: solve-lab
title: { fr: Lab à scripts, en: Lab with scripts }
resources: { cpu: 0.5, memory: 128Mi, disk: 64Mi, pids: 64 }
ttl: 10m
checks:
  marked:
    kind: file
    path: ~/work/marker
    solve: echo ran > marker
  loud:
    kind: file
    path: ~/work/never
    solve: "head -c 5000000 /dev/zero | tr '\\\\0' x >&2; exit 3"
`;

let server: TestServer;
let labsDir: string;
let owner: Browser;
let other: Browser;
let lab: { id: string; token: string };

before(async () => {
  labsDir = makeLabsDir({ 'solve-lab': labYaml });
  server = await startTestServer({ config: { labsDir } });
  owner = new Browser(server);
  other = new Browser(server);
  await owner.me();
  await other.me();
  lab = await owner.launch('solve-lab');
});
after(async () => {
  await server?.cleanup();
  if (server) rmSync(server.config.dataDir, { recursive: true, force: true });
  rmSync(labsDir, { recursive: true, force: true });
});

const routes = (id: string) => [
  { path: `/api/labs/${id}/checks/marked/solve`, body: undefined },
  { path: `/api/labs/${id}/rebuild`, body: { checks: ['marked'] } },
];

test("another learner, or the lab's token without the owner's cookie, cannot skip or rebuild in the owner's lab", async () => {
  // No cookie at all: the test server's own fetch.
  const anonymous = server;
  for (const { path, body } of routes(lab.id)) {
    assertCleanError(await other.api(path, { method: 'POST', body }), [403], `other learner ${path}`);
    assertCleanError(await other.api(path, { method: 'POST', body, token: lab.token }), [403], `other learner with the token ${path}`);
    assertCleanError(await anonymous.api(path, { method: 'POST', body, token: lab.token }), [403], `token alone ${path}`);
    assertCleanError(await anonymous.api(path, { method: 'POST', body }), [401], `nobody ${path}`);
    assertCleanError(await owner.api(path, { method: 'POST', body, headers: { origin: 'https://evil.example' } }), [403], `cross-site ${path}`);
    assertCleanError(await owner.api(path, { method: 'POST', body, headers: { 'sec-fetch-site': 'cross-site' } }), [403], `cross-site fetch ${path}`);
  }
  for (const { path, body } of routes('A'.repeat(22))) assertCleanError(await other.api(path, { method: 'POST', body }), [404], `guessed id ${path}`);
  for (const { path, body } of routes('..%2F..%2Fetc')) assertCleanError(await other.api(path, { method: 'POST', body }), [404], `odd id ${path}`);
  assert.equal((await inLab(server, lab.id, 'test -e marker')).code, 1, 'nothing ran in the lab');
  assert.deepEqual((await owner.api(`/api/labs/${lab.id}/checks/marked`, { method: 'POST' })).body.ok, false);
});

test('the owner can, by cookie: the script runs and the check passes', async () => {
  const response = await owner.api(`/api/labs/${lab.id}/checks/marked/solve`, { method: 'POST', lang: 'en' });
  assert.equal(response.status, 200);
  assert.equal(response.body.ok, true, response.body.message);
  assert.equal((await inLab(server, lab.id, 'cat marker')).stdout, 'ran\n');
});

test("a script that floods its output comes back as one bounded sentence with the end of its error", async () => {
  const response = await owner.api(`/api/labs/${lab.id}/checks/loud/solve`, { method: 'POST', lang: 'en' });
  assert.equal(response.status, 200);
  assert.equal(response.body.ok, false);
  assert.match(response.body.message, /^The step's script failed \(status 3\): …x+$/);
  assert.ok(JSON.stringify(response.body).length < 1000, `${JSON.stringify(response.body).length} bytes`);
});
