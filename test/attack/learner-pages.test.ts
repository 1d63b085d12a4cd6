/**
 * The learner pages' endpoints under attack, against a real server (real sandboxes, real forge
 * and git, real object store): another learner's lab id, a hostile README (script, javascript:
 * links, event handlers, deep nesting), an oversize README, secret edits that would empty values,
 * cross-origin reads of the S3 origin.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, testLabId, type TestServer } from '../helpers/server.ts';
import { inLabOk, LearnerClient } from '../helpers/learner.ts';
import { runGit, workingRepo } from '../helpers/forge.ts';
import { readmeMaxBytes } from '../../server/forge/readme.ts';

let server: TestServer;
const work = mkdtempSync(join(tmpdir(), 'atelier-pages-'));

before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.cleanup();
  rmSync(server.config.dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

async function newLearner(): Promise<LearnerClient & { id: string }> {
  const client = new LearnerClient(server.url);
  const me = await client.me();
  return Object.assign(client, { id: me.learner.id });
}

async function push(client: LearnerClient & { id: string }, repo: string, files: Record<string, string>): Promise<void> {
  const { token } = (await client.api('/api/me/git/token', { method: 'POST' })).body as { token: string };
  const dir = await workingRepo(work, work, repo, files);
  const pushed = await runGit(['push', '-q', `http://${client.id}:${token}@127.0.0.1:${server.port}/git/${client.id}/${repo}.git`, 'main'], dir, work);
  assert.equal(pushed.code, 0, pushed.stderr);
}

test("My services: a learner lists and deletes their own labs only; another learner's id is a 404, as a missing one", async () => {
  const alice = await newLearner();
  const bob = await newLearner();
  const lab = await alice.launch(testLabId);
  try {
    const listed = await alice.api('/api/me/labs', { lang: 'en' });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.labs.map((entry: { id: string }) => entry.id), [lab.id]);
    assert.equal(listed.body.labs[0].title, 'Test lab', 'the title in the caller\'s language');
    assert.ok(Date.parse(listed.body.labs[0].expiresAt) > Date.now());
    assert.equal(JSON.stringify(listed.body).includes(lab.token), false, 'never the lab token');

    assert.deepEqual((await bob.api('/api/me/labs')).body.labs, [], "bob sees none of alice's labs");
    const stolen = await bob.api(`/api/me/labs/${lab.id}`, { method: 'DELETE', lang: 'fr' });
    assert.equal(stolen.status, 404);
    assert.equal(stolen.body.error.code, 'not_found');
    assert.equal((await bob.api(`/api/me/labs/${'x'.repeat(65)}`, { method: 'DELETE' })).status, 404);
    assert.equal((await bob.api('/api/me/labs/..%2F..%2Fetc', { method: 'DELETE' })).status, 404);
    assert.equal(server.sessions.get(lab.id)?.status, 'running', "alice's lab survived bob's attempts");

    const anonymous = await new LearnerClient(server.url).api(`/api/me/labs/${lab.id}`, { method: 'DELETE' });
    assert.equal(anonymous.status, 401);
    const crossSite = await alice.api(`/api/me/labs/${lab.id}`, { method: 'DELETE', headers: { origin: 'https://evil.example' } });
    assert.equal(crossSite.status, 403, 'a page elsewhere cannot delete with the cookie');

    const deleted = await alice.api(`/api/me/labs/${lab.id}`, { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    assert.equal(server.sessions.get(lab.id), undefined);
    assert.deepEqual((await alice.api('/api/me/labs')).body.labs, []);
  } finally {
    await server.sessions.stop(lab.id);
  }
});

test('nothing-running: fails naming each running service and its time left, in the caller\'s language; passes once deleted', async () => {
  const client = await newLearner();
  const lab = await client.launch(testLabId);
  try {
    const fr = await client.api('/api/me/checks/nothing-running', { method: 'POST', lang: 'fr' });
    assert.equal(fr.status, 200);
    assert.equal(fr.body.ok, false);
    assert.match(fr.body.message, /^1 service tourne encore : Lab de test \(encore (9|10) min\)\. Supprimez-le dans Mes services\.$/);
    const en = await client.api('/api/me/checks/nothing-running', { method: 'POST', lang: 'en' });
    assert.match(en.body.message, /^1 service is still running: Test lab \((9|10) min left\)\. Delete it in My services\.$/);
    await client.api(`/api/me/labs/${lab.id}`, { method: 'DELETE' });
    const passed = await client.api('/api/me/checks/nothing-running', { method: 'POST', lang: 'en' });
    assert.deepEqual(passed.body, { ok: true, message: 'Nothing is running any more: every resource you held is free.' });
  } finally {
    await server.sessions.stop(lab.id);
  }
});

test('README: hostile Markdown is sanitized (no script, no javascript: link, no handler); an oversize one is not rendered', async () => {
  const client = await newLearner();
  const hostile = [
    '# Projet',
    '',
    '<script>alert(1)</script>',
    '[clic](javascript:alert(1)) [data](data:text/html,<script>alert(1)</script>)',
    '<img src="x" onerror="alert(1)"> <a href="https://example.org" onclick="alert(1)">raw</a> [ok](https://example.org)',
    '<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input name="p"></form>',
    '<div id="atelier-strings" style="position:fixed">clobber</div>',
    '',
    '| a | b |',
    '| --- | --- |',
    '| 1 | 2 |',
  ].join('\n');
  await push(client, 'projet', { 'README.md': hostile, 'src/main.py': 'print("hi")\n', 'src/README.md': '## Sous-dossier\n' });
  const readme = await client.api('/api/me/repos/projet/readme');
  assert.equal(readme.status, 200, readme.text);
  const html: string = readme.body.html;
  assert.match(html, /<h1>Projet<\/h1>/);
  assert.match(html, /<table>/, 'GitHub-flavoured tables');
  assert.match(html, /<a href="https:\/\/example.org">ok<\/a>/);
  for (const forbidden of [/<script/i, /javascript:/i, /onerror/i, /onclick/i, /<iframe/i, /<form/i, /<input/i, /data:text\/html/i, /id="atelier-strings"/, /style=/i]) {
    assert.doesNotMatch(html, forbidden);
  }
  assert.match((await client.api('/api/me/repos/projet/readme?path=src')).body.html, /<h2>Sous-dossier<\/h2>/, "a folder's own README");

  await push(client, 'long', { 'README.md': `${'x'.repeat(readmeMaxBytes)}\n` });
  const long = await client.api('/api/me/repos/long/readme');
  assert.equal(long.status, 200);
  assert.equal(long.body.tooLong, true);
  assert.equal(long.body.html, undefined);

  // A nesting deep enough to exhaust a parser's stack: plain text, and the server goes on.
  await push(client, 'deep', { 'README.md': `${'>'.repeat(40_000)} x\n` });
  const deep = await client.api('/api/me/repos/deep/readme');
  assert.equal(deep.status, 200);
  assert.equal(deep.body.html, undefined);
  assert.equal(typeof deep.body.text, 'string');
  assert.equal((await client.api('/api/me/repos/projet/readme')).status, 200, 'the renderer works after that');

  const other = await newLearner();
  assert.equal((await other.api('/api/me/repos/projet/readme')).status, 404, "another learner's repository is not found");
  assert.equal((await client.api('/api/me/repos/projet/readme?path=..%2F..')).status, 400);
});

test('secret groups: editing keeps values unless replaced, removes only what is left out; projet_patate is a valid name', async () => {
  const client = await newLearner();
  const put = (body: unknown) => client.api('/api/me/secrets/projet_patate', { method: 'PUT', body, lang: 'en' });
  assert.equal((await put({ vars: { API_KEY: 'one', DB_PASSWORD: 'two', OLD: 'three' } })).status, 200);
  const edited = await put({ vars: { DB_PASSWORD: 'new' }, keep: ['API_KEY', 'NEVER_SET'] });
  assert.equal(edited.status, 200, edited.text);
  assert.deepEqual(edited.body.names, ['API_KEY', 'DB_PASSWORD'], 'kept, replaced; OLD left out is removed; NEVER_SET is not invented');
  assert.equal(client.responses.some((response) => response.text.includes('"one"') || response.text.includes('three')), false, 'values never come back');
  // What a lab launched with the group receives: the kept value, the new one, not the removed one.
  const lab = await client.launch(testLabId, { secrets: 'projet_patate' });
  try {
    const env = await inLabOk(server, lab.id, 'echo "$API_KEY/$DB_PASSWORD/${OLD:-none}"');
    assert.equal(env.stdout.trim(), 'one/new/none');
  } finally {
    await server.sessions.stop(lab.id);
  }

  const bad = await client.api('/api/me/secrets/Projet%20Patate', { method: 'PUT', body: { vars: { A: 'b' } }, lang: 'fr' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /group/);
  const tooMany = await put({ vars: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`N${i}`, 'v'])), keep: Array.from({ length: 30 }, (_, i) => `K${i}`) });
  assert.equal(tooMany.status, 200, 'kept names that do not exist do not count');
  await put({ vars: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`K${i}`, 'v'])), keep: Array.from({ length: 30 }, (_, i) => `N${i}`) });
  assert.equal((await put({ vars: {}, keep: [] })).status, 200);
  await put({ vars: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`A${i}`, 'v'])) });
  const over = await put({ vars: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`B${i}`, 'v'])), keep: Array.from({ length: 30 }, (_, i) => `A${i}`) });
  assert.equal(over.status, 400, '30 kept and 30 new make more than 50');
});

test('S3 origin: a preview link is read by range from another origin (CORS, no credentials); writes stay refused there', async () => {
  const client = await newLearner();
  await client.api('/api/me/files?key=data.csv', { method: 'PUT', raw: 'a,b\n1,2\n3,4\n', headers: { 'content-type': 'text/csv' } });
  const link = await client.api('/api/me/files/link?key=data.csv');
  assert.equal(link.status, 200);
  const url = new URL(link.body.url);
  assert.equal(url.origin, server.s3Origin, 'the bytes are on the S3 origin, not the site');
  assert.equal(link.body.size, 12);

  const site = server.url;
  const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: site, 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  assert.equal(preflight.headers.get('access-control-allow-credentials'), null);
  const put = await fetch(url, { method: 'OPTIONS', headers: { origin: site, 'access-control-request-method': 'PUT' } });
  assert.equal(put.headers.get('access-control-allow-origin'), null, 'no write from another origin');
  const withAuth = await fetch(url, { method: 'OPTIONS', headers: { origin: site, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
  assert.equal(withAuth.headers.get('access-control-allow-origin'), null);

  const ranged = await fetch(url, { headers: { origin: site, range: 'bytes=0-3' } });
  assert.equal(ranged.status, 206);
  assert.equal(await ranged.text(), 'a,b\n');
  assert.equal(ranged.headers.get('access-control-allow-origin'), '*');
  assert.match(ranged.headers.get('access-control-expose-headers') ?? '', /content-range/);
  assert.match(ranged.headers.get('content-security-policy') ?? '', /sandbox/, 'still inert');

  const unsigned = await fetch(`${url.origin}${url.pathname}`, { headers: { origin: site } });
  assert.equal(unsigned.ok, false, 'CORS opens nothing that the signature does not');
  assert.doesNotMatch(await unsigned.text(), /a,b/);

  const folder = await client.api('/api/me/files?key=Initiation%2F', { method: 'PUT', raw: 'bytes' });
  assert.equal(folder.status, 400, 'a folder marker holds no bytes');
  assert.equal((await client.api('/api/me/files?key=Initiation%2F', { method: 'PUT', raw: '' })).status, 201);
  const root = await client.api('/api/me/files');
  assert.deepEqual(root.body.folders, ['Initiation/']);
  assert.deepEqual((await client.api('/api/me/files?prefix=Initiation%2F')).body.files, [], 'the marker is the folder, not a file in it');
});
