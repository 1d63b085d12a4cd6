/**
 * The learner HTTP contract against a real server (port 0), the real driver, real git and a real
 * S3 client: identity cookie, /api/me, git settings and token (revocation seen by git itself),
 * secrets (never returned), files, repositories, cross-origin refusal and one lab per learner.
 * Paths and field names here are a contract outside tools rely on.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { LearnerClient, hostGit, inLabOk, learnerCookie, repoLabsDir } from '../helpers/learner.ts';

const lab = 'datalab-discovery';
const foreign = 'http://evil.example';

let server: TestServer;
let home: string;
/** Every client this file creates: their recorded responses are searched for secret values. */
const clients: LearnerClient[] = [];

function learner(cookie?: string): LearnerClient {
  const client = new LearnerClient(server.url, cookie);
  clients.push(client);
  return client;
}

/** A learner that exists (GET /api/me done) with its id. */
async function newLearner(): Promise<LearnerClient & { id: string }> {
  const client = learner();
  const me = await client.me();
  return Object.assign(client, { id: me.learner.id });
}

before(async () => {
  server = await startTestServer({ config: { labsDir: repoLabsDir } });
  home = mkdtempSync(join(tmpdir(), 'atelier-learner-api-'));
});
after(async () => {
  await server?.cleanup();
  if (server) rmSync(server.config.dataDir, { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
});

test('GET /api/me without a cookie creates a learner and sets a signed HttpOnly cookie; with it, the same learner', async () => {
  const client = learner();
  const first = await client.api('/api/me');
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers.get('cache-control'), 'no-store');
  const setCookie = first.headers.getSetCookie().find((line) => line.startsWith(`${learnerCookie}=`));
  assert.ok(setCookie, `a Set-Cookie for ${learnerCookie}: ${JSON.stringify(first.headers.getSetCookie())}`);
  assert.match(setCookie, /;\s*HttpOnly/i);
  assert.match(setCookie, /;\s*Path=\//i);
  assert.match(setCookie, /;\s*SameSite=Lax/i);

  const body = first.body;
  const id: string = body.learner.id;
  assert.match(id, /^[a-z0-9]{6,63}$/, 'a learner id usable as a bucket name and a forge path');
  const value = decodeURIComponent(client.cookie!.slice(learnerCookie.length + 1));
  assert.notEqual(value, id, 'the cookie is signed, not the bare id');
  assert.ok(value.startsWith(`${id}.`) && value.length > id.length + 20, `signed value: ${value}`);

  assert.deepEqual(Object.keys(body).sort(), ['git', 'learner', 's3']);
  assert.equal(body.git.name, '');
  assert.equal(body.git.email, '');
  assert.equal(body.git.forgeUrl, `${server.url}/git/${id}`);
  const { s3 } = body;
  assert.equal(s3.endpoint, server.s3Origin, 'the S3 origin, not the site\'s');
  assert.equal(typeof s3.region, 'string');
  assert.ok(s3.region.length > 0);
  assert.equal(s3.bucket, id);
  assert.match(s3.accessKeyId, /^[A-Z0-9]{16,128}$/);
  assert.ok(typeof s3.secretAccessKey === 'string' && s3.secretAccessKey.length >= 20);
  assert.ok(typeof s3.sessionToken === 'string' && s3.sessionToken.length >= 20);
  assert.ok(Date.parse(s3.expiresAt) > Date.now() + 3600_000, `expiresAt in the future: ${s3.expiresAt}`);

  const again = await client.api('/api/me');
  assert.equal(again.status, 200);
  assert.equal(again.setCookie, undefined, 'a known learner gets no new cookie');
  assert.equal(again.body.learner.id, id);
  assert.equal(again.body.s3.accessKeyId, s3.accessKeyId, 'the same credentials while they are fresh');

  const other = await learner().me();
  assert.notEqual(other.learner.id, id, 'another browser is another learner');
});

test('a tampered learner cookie is not accepted', async () => {
  const alice = await newLearner();
  const bob = await newLearner();
  await alice.api('/api/me/secrets/mine', { method: 'PUT', body: { vars: { ALICE_ONLY: 'x' } } });
  const aliceValue = decodeURIComponent(alice.cookie!.slice(learnerCookie.length + 1));
  const bobValue = decodeURIComponent(bob.cookie!.slice(learnerCookie.length + 1));
  const aliceSignature = aliceValue.slice(alice.id.length + 1);
  const bobSignature = bobValue.slice(bob.id.length + 1);
  const flipped = aliceSignature.slice(0, -2) + (aliceSignature.at(-2) === 'A' ? 'B' : 'A') + aliceSignature.at(-1);
  const tampered = {
    'the bare id, unsigned': alice.id,
    "bob's signature on alice's id": `${alice.id}.${bobSignature}`,
    "alice's signature on bob's id": `${bob.id}.${aliceSignature}`,
    'a changed signature': `${alice.id}.${flipped}`,
    'a signature dropped': `${alice.id}.`,
  };
  for (const [what, value] of Object.entries(tampered)) {
    const cookie = `${learnerCookie}=${encodeURIComponent(value)}`;
    const me = await alice.api('/api/me', { cookie });
    if (me.status === 200) {
      assert.ok(![alice.id, bob.id].includes(me.body.learner.id), `${what}: got learner ${me.body.learner.id}`);
      assert.ok(me.setCookie, `${what}: a new learner gets a new cookie`);
    } else {
      assert.equal(me.status, 401, `${what}: ${me.status} ${me.text}`);
    }
    const secrets = await alice.api('/api/me/secrets', { cookie });
    assert.ok(secrets.status === 401 || (secrets.status === 200 && secrets.body.groups.length === 0), `${what}: ${secrets.text}`);
    const deletion = await alice.api('/api/me/secrets/mine', { method: 'DELETE', cookie });
    assert.ok(deletion.status === 401 || deletion.status === 404, `${what}: DELETE answered ${deletion.status}`);
  }
  const still = await alice.api('/api/me/secrets');
  assert.deepEqual(still.body.groups.map((group: { group: string }) => group.group), ['mine']);
});

test('PUT /api/me/git validates (400 naming the field) and persists', async () => {
  const client = await newLearner();
  const badEmail = await client.api('/api/me/git', { method: 'PUT', body: { name: 'Ada', email: 'not-an-email' }, lang: 'en' });
  assert.equal(badEmail.status, 400, badEmail.text);
  assert.equal(badEmail.body.error.code, 'bad_request');
  assert.equal(badEmail.body.error.field, 'email');
  assert.match(badEmail.body.error.message, /^Invalid request: email: /);
  const french = await client.api('/api/me/git', { method: 'PUT', body: { name: 'Ada', email: 'ada@' }, lang: 'fr' });
  assert.equal(french.status, 400);
  assert.match(french.body.error.message, /^Requête invalide : email : /);
  const longName = await client.api('/api/me/git', { method: 'PUT', body: { name: 'x'.repeat(101), email: '' } });
  assert.equal(longName.status, 400);
  assert.equal(longName.body.error.field, 'name');
  const noBody = await client.api('/api/me/git', { method: 'PUT' });
  assert.equal(noBody.status, 400);
  assert.equal((await client.me()).git.name, '', 'nothing saved by refused requests');

  const saved = await client.api('/api/me/git', { method: 'PUT', body: { name: 'Ada Lovelace', email: 'ada@example.org' } });
  assert.equal(saved.status, 200, saved.text);
  assert.deepEqual(saved.body.git, { name: 'Ada Lovelace', email: 'ada@example.org' });
  const me = await client.me();
  assert.equal(me.git.name, 'Ada Lovelace');
  assert.equal(me.git.email, 'ada@example.org');
  assert.equal(me.git.forgeUrl, `${server.url}/git/${client.id}`);
  // Another learner's settings are untouched.
  assert.equal((await learner().me()).git.name, '');
});

test('POST /api/me/git/token: a token git accepts; a new one revokes the old one on the forge (401)', async () => {
  const client = await newLearner();
  const started = await client.launch(lab); // seeds tp-datalab in the learner's forge
  try {
    const first = await client.api('/api/me/git/token', { method: 'POST' });
    assert.equal(first.status, 200, first.text);
    assert.match(first.body.token, /^[A-Za-z0-9_-]{20,}$/);
    const old: string = first.body.token;
    const remote = (token: string) => `http://${client.id}:${token}@127.0.0.1:${server.port}/git/${client.id}/tp-datalab.git`;

    const works = await hostGit(['ls-remote', remote(old)], { home });
    assert.equal(works.code, 0, works.stderr);
    assert.match(works.stdout, /\trefs\/heads\/main$/m);

    const second = await client.api('/api/me/git/token', { method: 'POST' });
    assert.equal(second.status, 200);
    const fresh: string = second.body.token;
    assert.notEqual(fresh, old);

    const revoked = await hostGit(['ls-remote', remote(old)], { home });
    assert.notEqual(revoked.code, 0, 'the old token no longer works');
    assert.match(revoked.stderr, /Authentication failed|401/, revoked.stderr);
    const refs = await fetch(`${server.url}/git/${client.id}/tp-datalab.git/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Basic ${Buffer.from(`${client.id}:${old}`).toString('base64')}` },
    });
    await refs.arrayBuffer();
    assert.equal(refs.status, 401, 'the forge answers 401 to the revoked token');

    const current = await hostGit(['ls-remote', remote(fresh)], { home });
    assert.equal(current.code, 0, current.stderr);
    assert.match(current.stdout, /\trefs\/heads\/main$/m);
  } finally {
    await client.deleteLab(started.id);
  }
});

test('secrets: saved, listed by name only, injected into the lab, never returned; bad names 400; other learners cannot touch them', async () => {
  const owner = await newLearner();
  const value = `v4lue-${randomBytes(12).toString('hex')}`;
  const other = `0ther-${randomBytes(12).toString('hex')}`;
  const put = await owner.api('/api/me/secrets/tp-secrets', { method: 'PUT', body: { vars: { MA_CLE: value, AUTRE: other } } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.body, { group: 'tp-secrets', names: ['AUTRE', 'MA_CLE'] });

  const list = await owner.api('/api/me/secrets');
  assert.equal(list.status, 200);
  assert.equal(list.body.groups.length, 1);
  assert.equal(list.body.groups[0].group, 'tp-secrets');
  assert.deepEqual(list.body.groups[0].names, ['AUTRE', 'MA_CLE']);
  assert.ok(Number.isFinite(Date.parse(list.body.groups[0].updatedAt)));

  // Saved for real: the lab launched with the group receives the values.
  const started = await owner.launch(lab, { secrets: 'tp-secrets' });
  try {
    const injected = await inLabOk(server, started.id, 'printf "%s|%s" "$MA_CLE" "$AUTRE"');
    assert.equal(injected.stdout, `${value}|${other}`);
    // Every read-only view a learner has, then a search of every response of this file.
    for (const path of ['/api/me', '/api/me/secrets', '/api/me/files', '/api/me/repos', `/api/labs/${started.id}`, '/api/me/repos/tp-datalab/tree', '/healthz', '/metrics']) {
      const response = await owner.api(path);
      assert.ok(response.status < 400, `${path}: ${response.status}`);
    }
  } finally {
    await owner.deleteLab(started.id);
  }

  // Bad names: the group (path) and the variables (body). (fetch itself resolves `..` segments.)
  for (const group of ['Bad_Name', '-leading-dash', 'x'.repeat(33), 'a%20b', 'a.b', '%2Fetc']) {
    const response = await owner.api(`/api/me/secrets/${group}`, { method: 'PUT', body: { vars: { OK: '1' } }, lang: 'en' });
    assert.equal(response.status, 400, `group ${group}: ${response.status} ${response.text}`);
    assert.equal(response.body.error.code, 'bad_request');
    assert.equal(response.body.error.field, 'group');
  }
  for (const vars of [{ '1ABC': 'x' }, { 'A-B': 'x' }, { 'A B': 'x' }, { [`A${'x'.repeat(64)}`]: 'x' }, { OK: 42 }, { OK: 'x'.repeat(8193) }]) {
    const response = await owner.api('/api/me/secrets/tp-secrets', { method: 'PUT', body: { vars } });
    assert.equal(response.status, 400, `vars ${JSON.stringify(vars).slice(0, 60)}: ${response.status}`);
    assert.equal(response.body.error.code, 'bad_request');
    assert.ok(response.body.error.field, 'the error names a field');
  }
  const unchanged = await owner.api('/api/me/secrets');
  assert.deepEqual(unchanged.body.groups.map((group: { names: string[] }) => group.names), [['AUTRE', 'MA_CLE']], 'refused writes changed nothing');

  // Another learner sees nothing and cannot delete.
  const intruder = await newLearner();
  const seen = await intruder.api('/api/me/secrets');
  assert.equal(seen.status, 200);
  assert.deepEqual(seen.body.groups, []);
  const deletion = await intruder.api('/api/me/secrets/tp-secrets', { method: 'DELETE' });
  assert.equal(deletion.status, 404, deletion.text);
  const anonymous = await intruder.api('/api/me/secrets/tp-secrets', { method: 'DELETE', cookie: null });
  assert.equal(anonymous.status, 401, anonymous.text);
  const intruderLab = await intruder.api('/api/labs', { method: 'POST', body: { lab, secrets: 'tp-secrets' } });
  assert.equal(intruderLab.status, 400, "another learner cannot launch with the owner's group");
  assert.equal(intruderLab.body.error.field, 'secrets');
  assert.equal((await owner.api('/api/me/secrets')).body.groups.length, 1, 'still there');

  // No response of this file ever carried a value.
  for (const client of clients) {
    for (const response of client.responses) {
      assert.ok(!response.text.includes(value) && !response.text.includes(other), `${response.method} ${response.path} returned a secret value`);
    }
  }

  const deleted = await owner.api('/api/me/secrets/tp-secrets', { method: 'DELETE' });
  assert.equal(deleted.status, 204);
  assert.deepEqual((await owner.api('/api/me/secrets')).body.groups, []);
  assert.equal((await owner.api('/api/me/secrets/tp-secrets', { method: 'DELETE' })).status, 404);
});

test('/api/me/files: upload, list, download (same bytes), delete; seen by a real S3 client; traversal keys 400; others see an empty bucket', async () => {
  const owner = await newLearner();
  const me = await owner.me();
  const bytes = randomBytes(200 * 1024 + 17);
  const upload = await owner.api('/api/me/files?key=tp/data.bin', { method: 'PUT', raw: bytes });
  assert.equal(upload.status, 201, upload.text);
  assert.deepEqual(upload.body, { key: 'tp/data.bin', size: bytes.length });

  const root = await owner.api('/api/me/files');
  assert.equal(root.status, 200);
  assert.equal(root.body.bucket, owner.id);
  assert.deepEqual(root.body.folders, ['tp/']);
  assert.deepEqual(root.body.files, []);
  const folder = await owner.api('/api/me/files?prefix=tp/');
  assert.equal(folder.body.files.length, 1);
  assert.equal(folder.body.files[0].key, 'tp/data.bin');
  assert.equal(folder.body.files[0].size, bytes.length);

  const download = await owner.download('tp/data.bin');
  assert.equal(download.status, 200);
  assert.ok(download.bytes.equals(bytes), 'the same bytes come back');

  // The same bucket through S3 with the credentials of /api/me.
  const s3 = new S3Client({
    endpoint: me.s3.endpoint,
    region: me.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: me.s3.accessKeyId, secretAccessKey: me.s3.secretAccessKey, sessionToken: me.s3.sessionToken },
  });
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: me.s3.bucket, Key: 'tp/data.bin' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(bytes), 'S3 reads what the page uploaded');
    await s3.send(new PutObjectCommand({ Bucket: me.s3.bucket, Key: 'tp/from-s3.csv', Body: 'a,b\n1,2\n' }));
  } finally {
    s3.destroy();
  }
  const both = await owner.api('/api/me/files?prefix=tp/');
  assert.deepEqual(both.body.files.map((file: { key: string }) => file.key).sort(), ['tp/data.bin', 'tp/from-s3.csv']);
  assert.equal((await owner.download('tp/from-s3.csv')).text, 'a,b\n1,2\n');

  // Keys that would leave the bucket, or name nothing a file browser can show.
  for (const key of ['../x', 'tp/../../x', '..', 'a/..', './a', 'a/./b', '/etc/passwd', '%2e%2e/x', 'a%00b']) {
    const query = `key=${key}`;
    const put = await owner.api(`/api/me/files?${query}`, { method: 'PUT', raw: 'x', lang: 'en' });
    assert.equal(put.status, 400, `PUT ${key}: ${put.status} ${put.text}`);
    assert.equal(put.body.error.field, 'key');
    assert.equal((await owner.api(`/api/me/files/content?${query}`)).status, 400, `GET ${key}`);
    assert.equal((await owner.api(`/api/me/files?${query}`, { method: 'DELETE' })).status, 400, `DELETE ${key}`);
  }
  assert.equal((await owner.api('/api/me/files?prefix=../')).status, 400);
  assert.equal((await owner.api('/api/me/files?key=')).status, 200, 'an empty key is just no key on a listing');

  // Another learner: an empty bucket of their own, and nothing of the owner's.
  const other = await newLearner();
  const theirs = await other.api('/api/me/files');
  assert.equal(theirs.status, 200);
  assert.equal(theirs.body.bucket, other.id);
  assert.deepEqual(theirs.body.folders, []);
  assert.deepEqual(theirs.body.files, []);
  assert.deepEqual((await other.api('/api/me/files?prefix=tp/')).body.files, []);
  assert.equal((await other.api('/api/me/files/content?key=tp/data.bin')).status, 404);
  assert.equal((await other.api('/api/me/files?key=tp/data.bin', { method: 'DELETE' })).status, 404);
  assert.equal((await owner.download('tp/data.bin')).status, 200, 'still there');

  const removed = await owner.api('/api/me/files?key=tp/data.bin', { method: 'DELETE' });
  assert.equal(removed.status, 204);
  assert.equal((await owner.api('/api/me/files/content?key=tp/data.bin')).status, 404);
  assert.deepEqual((await owner.api('/api/me/files?prefix=tp/')).body.files.map((file: { key: string }) => file.key), ['tp/from-s3.csv']);
});

test('/api/me/repos: the seeded tp-datalab appears once the lab launched; tree, file and log; another learner gets 404', async () => {
  const owner = await newLearner();
  assert.deepEqual((await owner.api('/api/me/repos')).body, { repos: [] });
  const started = await owner.launch(lab);
  try {
    const list = await owner.api('/api/me/repos');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.repos, [{ name: 'tp-datalab', cloneUrl: `${server.url}/git/${owner.id}/tp-datalab.git` }]);

    const tree = await owner.api('/api/me/repos/tp-datalab/tree');
    assert.equal(tree.status, 200, tree.text);
    const names = tree.body.entries.map((entry: { name: string }) => entry.name).sort();
    assert.deepEqual(names, readdirSync(join(repoLabsDir, lab, 'repos', 'tp-datalab')).sort(), 'the seed, file for file');
    const readmeEntry = tree.body.entries.find((entry: { name: string }) => entry.name === 'README.md');
    assert.equal(readmeEntry.path, 'README.md');
    assert.equal(readmeEntry.type, 'blob');

    const readme = readFileSync(join(repoLabsDir, lab, 'repos', 'tp-datalab', 'README.md'), 'utf8');
    const file = await owner.api('/api/me/repos/tp-datalab/file?path=README.md');
    assert.equal(file.status, 200, file.text);
    assert.equal(file.body.path, 'README.md');
    assert.equal(file.body.binary, false);
    assert.equal(file.body.content, readme);
    assert.equal(file.body.size, Buffer.byteLength(readme));

    const log = await owner.api('/api/me/repos/tp-datalab/log');
    assert.equal(log.status, 200);
    assert.ok(log.body.commits.length >= 1);
    const [commit] = log.body.commits;
    assert.match(commit.sha, /^[0-9a-f]{40}$/);
    assert.equal(typeof commit.subject, 'string');
    assert.equal(typeof commit.author, 'string');

    assert.equal((await owner.api('/api/me/repos/tp-datalab/file?path=missing.txt')).status, 404);
    assert.equal((await owner.api('/api/me/repos/tp-datalab/tree?path=../')).status, 400);
    assert.equal((await owner.api('/api/me/repos/no-such-repo/log')).status, 404);

    const other = await newLearner();
    assert.deepEqual((await other.api('/api/me/repos')).body, { repos: [] });
    for (const path of ['/api/me/repos/tp-datalab/tree', '/api/me/repos/tp-datalab/log', '/api/me/repos/tp-datalab/file?path=README.md']) {
      const response = await other.api(path);
      assert.equal(response.status, 404, `${path}: ${response.status}`);
      assert.equal(response.body.error.code, 'not_found');
    }
    assert.equal((await other.api('/api/me/repos/tp-datalab/log', { cookie: null })).status, 404, 'anonymous: 404 too');
  } finally {
    await owner.deleteLab(started.id);
  }
});

test('state-changing requests with a foreign Origin are refused (403) and change nothing', async () => {
  const client = await newLearner();
  await client.api('/api/me/git', { method: 'PUT', body: { name: 'Before', email: '' } });
  await client.api('/api/me/secrets/keep', { method: 'PUT', body: { vars: { KEEP: '1' } } });
  await client.api('/api/me/files?key=keep.txt', { method: 'PUT', raw: 'kept' });
  const started = await client.launch(lab);
  try {
    const headers = { origin: foreign };
    const attempts: [string, string, Record<string, unknown>][] = [
      ['POST', '/api/labs', { body: { lab } }],
      ['PUT', '/api/me/git', { body: { name: 'After', email: '' } }],
      ['POST', '/api/me/git/token', {}],
      ['PUT', '/api/me/secrets/evil', { body: { vars: { EVIL: '1' } } }],
      ['DELETE', '/api/me/secrets/keep', {}],
      ['PUT', '/api/me/files?key=evil.txt', { raw: 'evil' }],
      ['DELETE', '/api/me/files?key=keep.txt', {}],
      ['POST', `/api/labs/${started.id}/checks/made-file`, {}],
      ['DELETE', `/api/labs/${started.id}`, {}],
    ];
    for (const [method, path, init] of attempts) {
      for (const origin of [foreign, 'null', `http://127.0.0.1:${server.port + 1}`]) {
        const response = await client.api(path, { method, ...init, headers: { ...headers, origin }, lang: 'en' });
        assert.equal(response.status, 403, `${method} ${path} from ${origin}: ${response.status} ${response.text}`);
        assert.equal(response.body.error.code, 'cross_site');
        assert.equal(response.setCookie, undefined);
      }
    }
    const me = await client.me();
    assert.equal(me.git.name, 'Before');
    assert.equal(me.git.hasToken, false, 'no token was minted');
    assert.deepEqual((await client.api('/api/me/secrets')).body.groups.map((group: { group: string }) => group.group), ['keep']);
    assert.deepEqual((await client.api('/api/me/files')).body.files.map((file: { key: string }) => file.key), ['keep.txt']);
    assert.equal((await client.api(`/api/labs/${started.id}`)).body.status, 'running');
    assert.equal(server.sessions.all().filter((session) => session.learnerId === client.id).length, 1, 'no lab launched');
    // A learner without a cookie from a foreign page does not even get one.
    const anonymous = await client.api('/api/labs', { method: 'POST', body: { lab }, headers, cookie: null });
    assert.equal(anonymous.status, 403);
    assert.equal(anonymous.setCookie, undefined);

    // The lab server's own pages (same origin) are welcome.
    const same = await client.api('/api/me/git', { method: 'PUT', body: { name: 'After', email: '' }, headers: { origin: server.url } });
    assert.equal(same.status, 200, same.text);
    assert.equal((await client.me()).git.name, 'After');
  } finally {
    await client.deleteLab(started.id);
  }
});

test('POST /api/labs twice by a learner gives the same lab (200, a new working token); another learner gets another lab', async () => {
  const alice = await newLearner();
  const first = await alice.api('/api/labs', { method: 'POST', body: { lab } });
  assert.equal(first.status, 201, first.text);
  const second = await alice.api('/api/labs', { method: 'POST', body: { lab } });
  const bob = await newLearner();
  let bobLab: string | undefined;
  try {
    assert.equal(second.status, 200, second.text);
    assert.equal(second.body.id, first.body.id, 'the same lab');
    assert.equal(second.body.status, 'running');
    assert.match(second.body.token, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(second.body.token, first.body.token, 'a new token');
    const withNewToken = await alice.api(`/api/labs/${first.body.id}`, { token: second.body.token, cookie: null });
    assert.equal(withNewToken.status, 200, 'the new token works');
    const check = await alice.api(`/api/labs/${first.body.id}/checks/made-file`, { method: 'POST', token: second.body.token, cookie: null });
    assert.equal(check.status, 200);
    assert.equal(check.body.ok, false);
    assert.equal((await alice.api(`/api/labs/${first.body.id}`, { token: first.body.token, cookie: null })).status, 200, 'the first page keeps working');
    assert.equal(server.sessions.all().filter((session) => session.learnerId === alice.id).length, 1, 'one lab only');

    const other = await bob.api('/api/labs', { method: 'POST', body: { lab } });
    assert.equal(other.status, 201, other.text);
    bobLab = other.body.id;
    assert.notEqual(other.body.id, first.body.id, 'another learner, another lab');
    const intrusion = await bob.api(`/api/labs/${first.body.id}`);
    assert.equal(intrusion.status, 403, "bob's cookie does not open alice's lab");
    assert.equal((await bob.api(`/api/labs/${first.body.id}`, { method: 'DELETE' })).status, 403);
    assert.equal((await alice.api(`/api/labs/${first.body.id}`)).body.status, 'running', "alice's lab is still there");
  } finally {
    await alice.deleteLab(first.body.id);
    if (bobLab) await bob.deleteLab(bobLab);
  }
  const again = await alice.api('/api/labs', { method: 'POST', body: { lab } });
  assert.equal(again.status, 201, 'after deletion, a new lab');
  assert.notEqual(again.body.id, first.body.id);
  await alice.deleteLab(again.body.id);
});

test('in a real lab, aws and s3cmd reach Atelier with no flag; s3cmd asks no cloud metadata address', async () => {
  const ada = await newLearner();
  const started = await ada.api('/api/labs', { method: 'POST', body: { lab } });
  assert.equal(started.status, 201, started.text);
  try {
    await inLabOk(server, started.body.id, 'echo bonjour > hello.txt && aws s3 cp hello.txt "s3://$AWS_BUCKET/clients/hello.txt"', 60_000);
    const aws = await inLabOk(server, started.body.id, 'command -v aws; aws s3 ls "s3://$AWS_BUCKET/clients/"', 60_000);
    assert.match(aws.stdout, /^\/opt\/atelier\/python\/bin\/aws$/m, 'the lab environment\'s aws v1 comes first');
    assert.match(aws.stdout, /hello\.txt/, 'aws lists the bucket with no --endpoint-url');
    const s3cmd = await inLabOk(server, started.body.id, 's3cmd -d ls "s3://$AWS_BUCKET/clients/" 2>debug.txt; grep -c . debug.txt >/dev/null; cat debug.txt >&2', 60_000);
    assert.match(s3cmd.stdout, /clients\/hello\.txt/);
    assert.doesNotMatch(s3cmd.stderr, /169\.254\.169\.254|Could not refresh role/, 's3cmd does not try to refresh a cloud role');
    assert.match(s3cmd.stderr, /x-amz-security-token/, 'and still sends the session token (from the environment)');
    const boto3 = await inLabOk(server, started.body.id, `python3 -c 'import boto3; print(boto3.__version__)'`);
    assert.match(boto3.stdout, /^\d+\.\d+\.\d+$/m, 'python3 still has boto3');
  } finally {
    await ada.api(`/api/labs/${started.body.id}`, { method: 'DELETE' });
  }
});
