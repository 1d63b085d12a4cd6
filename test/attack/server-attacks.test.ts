/**
 * Attack suite: the lab server's own surface, attacked from a second learner's browser session
 * (another cookie) and from no session at all: labs, terminals, the learner event stream, the
 * forge, the S3 endpoint, API parameters, socket.io frames, cross-site requests and malformed
 * bodies. Every attack must be refused with a clean answer and leave the server healthy: after
 * each group, /healthz answers and a fresh lab launches and runs `echo ok`.
 * Run: node_modules/.bin/node --disable-warning=ExperimentalWarning --test test/attack/server-attacks.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
  AbortMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { connectTerminal, type TerminalClient } from '../helpers/terminal.ts';
import {
  Browser,
  assertCleanError,
  assertHealthy,
  assertNoInternals,
  connectSocket,
  isRoot,
  rawRequest,
  refused,
  sleep,
  startAttackServer,
  type AttackServer,
} from '../helpers/attack.ts';

const run = promisify(execFile);
const evil = 'https://evil.example';
const secretContent = `private-${randomBytes(8).toString('hex')}`;

/** A lab with a check that ticks by itself when the learner's bucket changes, and a seeded repository. */
const forgeLab = `
id: forge-lab
title: { fr: Lab forge, en: Forge lab }
workspace: /home/onyxia/work
resources: { cpu: 0.5, memory: 128Mi, disk: 16Mi, pids: 64 }
ttl: 10m
idle: 10m
services:
  git: { repos: [ { name: tp, from: repos/tp } ] }
checks:
  uploaded: { kind: s3.object, key: attack/proof.txt }
  pushed: { kind: git.pushed, repo: tp, path: README.md }
  made-dir: { kind: file, path: ~/work/mon-dossier, type: dir }
`;

let server: AttackServer;
let alice: Browser;
let bob: Browser;
let aliceId: string;
let bobId: string;
let aliceLab: { id: string; token: string };
let bobLab: { id: string; token: string };

before(async () => {
  server = await startAttackServer({
    labs: { 'forge-lab': forgeLab },
    files: { 'forge-lab/repos/tp/README.md': '# TP\n' },
    uidBase: 300_000,
    cgroupName: 'atelier-attack-server',
  });
  alice = new Browser(server);
  bob = new Browser(server);
  aliceId = (await alice.me()).learner.id;
  bobId = (await bob.me()).learner.id;
  assert.notEqual(aliceId, bobId);
  aliceLab = await alice.launch('forge-lab');
  bobLab = await bob.launch('forge-lab');
});

after(async () => {
  await server?.cleanup();
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function s3For(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string; region: string }): S3Client {
  return new S3Client({
    endpoint: server.s3Origin,
    region: credentials.region,
    forcePathStyle: true,
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken },
    maxAttempts: 1,
  });
}

async function s3Error(promise: Promise<unknown>, what: string): Promise<{ name: string; status: number | undefined }> {
  return promise.then(
    (value) => assert.fail(`${what}: succeeded (${JSON.stringify(value).slice(0, 200)})`),
    (error: Error & { $metadata?: { httpStatusCode?: number }; Code?: string }) => ({ name: error.name, status: error.$metadata?.httpStatusCode }),
  );
}

/** The `atelier_learner` cookie of a browser, split into its learner id and signature. */
function cookieParts(browser: Browser): { value: string; signature: string } {
  const raw = decodeURIComponent(/^atelier_learner=(.*)$/.exec(browser.cookie ?? '')?.[1] ?? '');
  const dot = raw.lastIndexOf('.');
  return { value: raw.slice(0, dot), signature: raw.slice(dot + 1) };
}

describe('server attacks (attack suite)', { skip: !isRoot && 'needs root (the local driver runs labs as their own uid)' }, () => {
  it("learner B cannot read, check or delete learner A's lab, nor pass for A", async () => {
    const base = `/api/labs/${aliceLab.id}`;
    const attempts: Array<[string, string, { token?: string; cookie?: boolean }]> = [
      ['GET', base, { cookie: true }],
      ['DELETE', base, { cookie: true }],
      ['POST', `${base}/checks/uploaded`, { cookie: true }],
      ['GET', base, { cookie: true, token: bobLab.token }],
      ['DELETE', base, { cookie: true, token: bobLab.token }],
      ['POST', `${base}/checks/made-dir`, { cookie: true, token: bobLab.token }],
      ['GET', base, { token: 'x'.repeat(43) }],
      ['DELETE', base, { token: aliceLab.token.slice(0, -1) + (aliceLab.token.endsWith('A') ? 'B' : 'A') }],
      ['GET', base, {}],
      ['DELETE', base, {}],
      ['POST', `${base}/checks/uploaded`, {}],
      ['GET', `/api/labs/${bobLab.id}`, { token: aliceLab.token }],
    ];
    for (const [method, url, how] of attempts) {
      const response = await (how.cookie ? bob : new Browser(server)).api(url, { method, ...(how.token ? { token: how.token } : {}) });
      assertCleanError(response, [401, 403, 404], `${method} ${url} ${JSON.stringify(Object.keys(how))}`);
    }
    // Someone else's lab id in a Bearer header with a malformed token: still refused.
    for (const header of [`Bearer ${aliceLab.token} x`, `Basic ${aliceLab.token}`, `Bearer`, `Bearer ${'A'.repeat(5000)}`]) {
      const response = await bob.api(base, { headers: { authorization: header } });
      assertCleanError(response, [400, 401, 403, 404], `authorization ${header.slice(0, 20)}`);
    }
    // A's lab is untouched.
    const mine = await alice.api(base);
    assert.equal(mine.status, 200);
    assert.equal(mine.body.status, 'running');
    assert.equal(JSON.stringify(mine.body).includes(aliceLab.token), false, 'GET shows the token');

    // A cookie naming A without A's signature makes a brand-new learner, never A.
    const { value, signature } = cookieParts(alice);
    assert.equal(value, aliceId);
    const bobSignature = cookieParts(bob).signature;
    for (const forged of [aliceId, `${aliceId}.${bobSignature}`, `${aliceId}.${signature.slice(0, -2)}`, `s:${aliceId}.${signature}x`]) {
      const impostor = new Browser(server);
      impostor.cookie = `atelier_learner=${encodeURIComponent(forged)}`;
      const me = await impostor.api('/api/me');
      assert.equal(me.status, 200);
      assert.notEqual(me.body.learner.id, aliceId, `forged cookie ${forged} became learner A`);
      assertCleanError(await impostor.api(base), [401, 403, 404], 'forged cookie on A lab');
      assert.deepEqual((await impostor.api('/api/me/secrets')).body, { groups: [] });
    }
    await assertHealthy(server);
  });

  it("B's terminal socket on A's lab is refused, whatever B sends", async () => {
    const cases: Array<[string, Record<string, unknown>, Record<string, string>?]> = [
      ["B's token", { lab: aliceLab.id, token: bobLab.token }],
      ['no token', { lab: aliceLab.id }],
      ['empty token', { lab: aliceLab.id, token: '' }],
      ['wrong token', { lab: aliceLab.id, token: 'x'.repeat(43) }],
      ['number token', { lab: aliceLab.id, token: 12345 }],
      ['object token', { lab: aliceLab.id, token: { $ne: '' } }],
      ['array token', { lab: aliceLab.id, token: [aliceLab.token.slice(0, 10)] }],
      ['huge token', { lab: aliceLab.id, token: 'y'.repeat(100_000) }],
      ['object lab', { lab: { toString: null }, token: bobLab.token }],
      ["B's cookie, no token", { lab: aliceLab.id }, { cookie: bob.cookie! }],
      // Cookies never open a terminal (a cross-site WebSocket would carry them): only the token does.
      ["A's own cookie instead of a token", { lab: aliceLab.id, token: '' }, { cookie: alice.cookie! }],
      ['traversal lab id', { lab: `../${aliceLab.id}`, token: bobLab.token }],
    ];
    for (const [what, auth, headers] of cases) {
      const error = await refused(connectSocket(server.url, '/terminal', { auth: { cols: 80, rows: 24, ...auth }, ...(headers ? { headers } : {}) }), what);
      assert.ok(['unauthorized', 'forbidden', 'bad_request', 'lab_gone'].includes(error.data?.code ?? ''), `${what}: refused with ${JSON.stringify(error.data ?? error.message)}`);
    }
    // The main namespace refuses everyone, even A with A's token.
    await refused(connectSocket(server.url, '/', { auth: { lab: aliceLab.id, token: aliceLab.token } }), 'main namespace');
    await refused(connectSocket(server.url, '/admin', { auth: { lab: aliceLab.id, token: aliceLab.token } }), 'unknown namespace');
    await assertHealthy(server);
  });

  it("B's cookie on /learner never receives A's `passed` events", async () => {
    // Refusals first: no cookie, a forged or re-signed cookie.
    await refused(connectSocket(server.url, '/learner'), 'no cookie');
    const { signature } = cookieParts(alice);
    for (const cookie of [
      `atelier_learner=${aliceId}`,
      `atelier_learner=${encodeURIComponent(`${aliceId}.${cookieParts(bob).signature}`)}`,
      `atelier_learner=${encodeURIComponent(`${aliceId}.${signature}`)}x`,
    ]) {
      await refused(connectSocket(server.url, '/learner', { headers: { cookie } }), `cookie ${cookie}`);
    }

    const aliceEvents: unknown[] = [];
    const bobEvents: unknown[] = [];
    const aliceSocket = await connectSocket(server.url, '/learner', { headers: { cookie: alice.cookie! } });
    const bobSocket = await connectSocket(server.url, '/learner', { headers: { cookie: bob.cookie! } });
    // Two cookies, a forged one for A and B's own: at best B gets in, as B.
    const mixed = await connectSocket(server.url, '/learner', {
      headers: { cookie: `atelier_learner=${encodeURIComponent(`${aliceId}.${cookieParts(bob).signature}`)}; ${bob.cookie}; ${alice.cookie!.replace(/\.[^.]*$/, '.forged')}` },
    }).catch(() => undefined);
    try {
      aliceSocket.onAny((...args) => aliceEvents.push(args));
      bobSocket.onAny((...args) => bobEvents.push(args));
      mixed?.onAny((...args) => bobEvents.push(args));
      // Bob tries to join Alice's room and to emit on her behalf.
      bobSocket.emit('join', aliceId);
      bobSocket.emit('passed', { lab: 'forge-lab', check: 'uploaded' });
      const upload = await alice.api('/api/me/files?key=attack/proof.txt', { method: 'PUT', raw: 'proof', headers: { 'content-type': 'text/plain' } });
      assert.equal(upload.status, 201, JSON.stringify(upload.body));
      const deadline = Date.now() + 8_000;
      while (aliceEvents.length === 0 && Date.now() < deadline) await sleep(50);
      assert.deepEqual(aliceEvents, [['passed', { lab: 'forge-lab', check: 'uploaded' }]], 'A hears her own step pass');
      await sleep(500);
      assert.deepEqual(bobEvents, [], 'B heard A');
    } finally {
      aliceSocket.close();
      bobSocket.close();
      mixed?.close();
    }
    await assertHealthy(server);
  });

  it("forge: B's token on A's repository is 404, no token 401, traversal in names refused", async () => {
    const aliceToken = (await alice.api('/api/me/git/token', { method: 'POST' })).body.token as string;
    const bobToken = (await bob.api('/api/me/git/token', { method: 'POST' })).body.token as string;
    assert.ok(aliceToken && bobToken && aliceToken !== bobToken);
    const refs = (owner: string, repo = 'tp', service = 'git-upload-pack') => `/git/${owner}/${repo}.git/info/refs?service=${service}`;

    const own = await rawRequest(server.url, { path: refs(aliceId), headers: { authorization: basic('alice', aliceToken) } });
    assert.equal(own.status, 200, 'A reads her own repository');
    assert.match(own.body, /refs\/heads\/main/);

    const cases: Array<[string, string, Record<string, string>, number[]]> = [
      ["B's token", refs(aliceId), { authorization: basic('bob', bobToken) }, [404]],
      ["B's token as user name", refs(aliceId), { authorization: basic(bobToken, '') }, [404]],
      ["B's token, push", refs(aliceId, 'tp', 'git-receive-pack'), { authorization: basic('bob', bobToken) }, [404]],
      ["B's token, a repository A does not have", refs(aliceId, 'new-one', 'git-receive-pack'), { authorization: basic('bob', bobToken) }, [404]],
      ['no token', refs(aliceId), {}, [401]],
      ['wrong token', refs(aliceId), { authorization: basic('alice', 'x'.repeat(40)) }, [401]],
      ["A's id as password", refs(aliceId), { authorization: basic(aliceId, aliceId) }, [401]],
      ['Bearer instead of Basic', refs(aliceId), { authorization: `Bearer ${bobToken}` }, [401]],
    ];
    const traversals = [
      `/git/${aliceId}/..%2f${bobId}/tp.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/..%2f${aliceId}%2ftp.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/%2e%2e/${aliceId}/tp.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/../${aliceId}/tp.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/%2E%2E%2F${aliceId}%2Ftp.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/..%5c${aliceId}%5ctp.git/info/refs?service=git-upload-pack`,
      `/git/%2e%2e/${aliceId}/tp.git/info/refs?service=git-upload-pack`,
      `/git/%2f${aliceId}/tp.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/%2fetc%2fpasswd/info/refs?service=git-upload-pack`,
      `/git/${bobId}/tp.git/..%2f..%2f${aliceId}%2ftp.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/tp.git%00/info/refs?service=git-upload-pack`,
      `/git/${aliceId}%00${bobId}/tp.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/tp.git/info/refs/../../../${aliceId}/tp.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/tp.git/HEAD`,
      `/git/${bobId}/tp.git/config`,
      `/git/${bobId}/tp.git/objects/info/packs`,
      `/git/${bobId}/tp.git/info/refs`,
      `/git/${bobId}/tp.git/info/refs?service=git-upload-archive`,
      `/git/${bobId}/%ff.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/-u.git/info/refs?service=git-upload-pack`,
      `/git/${bobId}/tp.lock/info/refs?service=git-upload-pack`,
    ];
    for (const target of traversals) cases.push([`traversal ${target}`, target, { authorization: basic('bob', bobToken) }, [400, 403, 404, 405]]);
    for (const [what, target, headers, statuses] of cases) {
      const response = await rawRequest(server.url, { path: target, headers });
      assert.ok(statuses.includes(response.status), `${what}: ${response.status} ${response.body.slice(0, 200)}`);
      assert.doesNotMatch(response.body, /refs\/heads|# service=|\[core\]|ref: refs/, `${what}: repository content in the answer`);
      assertNoInternals(response.body, what);
    }
    // B's push attempt created nothing in A's forge.
    assert.deepEqual((await alice.api('/api/me/repos')).body.repos.map((repo: { name: string }) => repo.name), ['tp']);

    // A pushes symlinks pointing at host files: the forge and its browser never follow them.
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-attack-git-'));
    try {
      const git = (...args: string[]) => run('git', args, { cwd: work, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: work } });
      await git('init', '--quiet', '-b', 'main');
      fs.symlinkSync('/etc/passwd', path.join(work, 'README.md'));
      fs.symlinkSync('/etc', path.join(work, 'etc'));
      fs.symlinkSync('../../../../../../../../etc/shadow', path.join(work, 'shadow'));
      await git('add', '-A');
      await git('-c', 'user.name=A', '-c', 'user.email=a@example.org', 'commit', '--quiet', '-m', 'links');
      const origin = server.url.replace('http://', `http://alice:${aliceToken}@`);
      await git('push', '--quiet', `${origin}/git/${aliceId}/links.git`, 'main');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    const file = await alice.api('/api/me/repos/links/file?path=README.md');
    assert.equal(file.status, 200, JSON.stringify(file.body));
    assert.equal(file.body.content, '/etc/passwd', 'the link is shown as a link, not followed');
    for (const target of ['etc', 'etc/passwd', 'etc/shadow', 'shadow']) {
      for (const view of ['tree', 'file']) {
        const response = await alice.api(`/api/me/repos/links/${view}?path=${encodeURIComponent(target)}`);
        assert.ok(response.status < 500, `${view} ${target}: ${response.status}`);
        const text = JSON.stringify(response.body);
        assert.doesNotMatch(text, /root:x:0|root:[*!]|"name":"(passwd|shadow|hostname)"/, `${view} ${target} followed the link: ${text.slice(0, 200)}`);
      }
    }
    // B sees none of it.
    assertCleanError(await bob.api('/api/me/repos/links/file?path=README.md'), [404], "B reads A's repository");
    assertCleanError(await new Browser(server).api('/api/me/repos/tp/tree'), [401, 404], 'no session reads a repository');
    await assertHealthy(server);
  });

  it("S3: B's credentials never read, write, copy or list A's private objects", async () => {
    const aliceMe = await alice.me();
    const bobMe = await bob.me();
    const a = s3For(aliceMe.s3);
    const b = s3For(bobMe.s3);
    const bucket = aliceMe.s3.bucket;
    try {
      await a.send(new PutObjectCommand({ Bucket: bucket, Key: 'private/secret.txt', Body: secretContent }));
      await a.send(new PutObjectCommand({ Bucket: bucket, Key: 'diffusion/shared.txt', Body: 'shared' }));
      // Control: diffusion/ is readable by B, as the datalab allows.
      const shared = await b.send(new GetObjectCommand({ Bucket: bucket, Key: 'diffusion/shared.txt' }));
      assert.equal(await shared.Body?.transformToString(), 'shared');

      const denied: Array<[string, () => Promise<unknown>]> = [
        ['GetObject private', () => b.send(new GetObjectCommand({ Bucket: bucket, Key: 'private/secret.txt' }))],
        ['HeadObject private', () => b.send(new HeadObjectCommand({ Bucket: bucket, Key: 'private/secret.txt' }))],
        ['PutObject private', () => b.send(new PutObjectCommand({ Bucket: bucket, Key: 'private/pwned.txt', Body: 'x' }))],
        ['PutObject diffusion (read-only for others)', () => b.send(new PutObjectCommand({ Bucket: bucket, Key: 'diffusion/pwned.txt', Body: 'x' }))],
        ['DeleteObject private', () => b.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'private/secret.txt' }))],
        ['DeleteObject diffusion', () => b.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'diffusion/shared.txt' }))],
        ['DeleteObjects', () => b.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'private/secret.txt' }] } }))],
        ['CopyObject from A private into B', () => b.send(new CopyObjectCommand({ Bucket: bobMe.s3.bucket, Key: 'stolen.txt', CopySource: `${bucket}/private/secret.txt` }))],
        ['CopyObject into A', () => b.send(new CopyObjectCommand({ Bucket: bucket, Key: 'private/pwned.txt', CopySource: `${bucket}/diffusion/shared.txt` }))],
        ['ListObjectsV2 private/', () => b.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'private/' }))],
        ['ListObjectsV2 p', () => b.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'p' }))],
        ['CreateMultipartUpload in A', () => b.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'private/mp.txt' }))],
      ];
      for (const [what, attempt] of denied) {
        const error = await s3Error(attempt(), what);
        assert.ok(error.name === 'AccessDenied' || error.status === 403, `${what}: ${error.name} ${error.status}`);
      }
      // diffusion/ spelled with a `..`: a different key, never the private one.
      const dotted = await s3Error(b.send(new GetObjectCommand({ Bucket: bucket, Key: 'diffusion/../private/secret.txt' })), 'diffusion/..');
      assert.ok([400, 403, 404].includes(dotted.status ?? 0), `diffusion/..: ${dotted.name} ${dotted.status}`);
      // A listing of A's whole bucket shows diffusion/ only.
      const listing = await b.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = [...(listing.Contents ?? []).map((object) => object.Key ?? ''), ...(listing.CommonPrefixes ?? []).map((prefix) => prefix.Prefix ?? '')];
      assert.ok(keys.every((key) => key.startsWith('diffusion/')), `B lists ${keys.join(', ')}`);
      // UploadPartCopy into B's own upload, from A's private object.
      const upload = await b.send(new CreateMultipartUploadCommand({ Bucket: bobMe.s3.bucket, Key: 'stolen-part.txt' }));
      const partCopy = await s3Error(
        b.send(new UploadPartCopyCommand({ Bucket: bobMe.s3.bucket, Key: 'stolen-part.txt', UploadId: upload.UploadId, PartNumber: 1, CopySource: `${bucket}/private/secret.txt` })),
        'UploadPartCopy',
      );
      assert.ok(partCopy.name === 'AccessDenied' || partCopy.status === 403, `UploadPartCopy: ${partCopy.name}`);
      await s3Error(
        b.send(new CompleteMultipartUploadCommand({ Bucket: bobMe.s3.bucket, Key: 'stolen-part.txt', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"x"' }] } })),
        'complete without parts',
      );
      await b.send(new AbortMultipartUploadCommand({ Bucket: bobMe.s3.bucket, Key: 'stolen-part.txt', UploadId: upload.UploadId })).catch(() => undefined);
      // B's own presigned URL for A's private object, and unsigned or half-signed requests.
      const presigned = await getSignedUrl(b, new GetObjectCommand({ Bucket: bucket, Key: 'private/secret.txt' }), { expiresIn: 60 });
      const viaUrl = await fetch(presigned);
      assert.equal(viaUrl.status, 403);
      for (const target of [`/${bucket}/private/secret.txt`, `/${bucket}/private/secret.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256`, `/${bucket}?list-type=2`]) {
        const response = await rawRequest(server.url, { path: target, headers: target.includes('X-Amz') ? {} : { authorization: `AWS4-HMAC-SHA256 Credential=${bobMe.s3.accessKeyId}/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}` } });
        assert.ok(response.status >= 400 && response.status < 500, `${target}: ${response.status}`);
        assert.ok(!response.body.includes(secretContent), `${target} leaked the object`);
      }
      const noSignature = await rawRequest(server.url, { path: `/${bucket}/private/secret.txt` });
      assert.ok(!noSignature.body.includes(secretContent) && noSignature.status === 404, `unsigned GET: ${noSignature.status}`);
      // Nothing of B's landed anywhere, and A's object is intact.
      assert.equal(await (await a.send(new GetObjectCommand({ Bucket: bucket, Key: 'private/secret.txt' }))).Body?.transformToString(), secretContent);
      const aliceKeys = ((await a.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((object) => object.Key).sort();
      assert.deepEqual(aliceKeys, ['attack/proof.txt', 'diffusion/shared.txt', 'private/secret.txt']);
      const bobKeys = ((await b.send(new ListObjectsV2Command({ Bucket: bobMe.s3.bucket }))).Contents ?? []).map((object) => object.Key);
      assert.deepEqual(bobKeys, []);
      // B's "My files" page shows B's bucket only, whatever the key says.
      for (const key of [`../${bucket}/private/secret.txt`, `/${bucket}/private/secret.txt`, 'private/secret.txt']) {
        const response = await bob.api(`/api/me/files/content?key=${encodeURIComponent(key)}`);
        assert.ok([400, 404].includes(response.status), `${key}: ${response.status}`);
        assert.ok(!JSON.stringify(response.body).includes(secretContent));
      }
    } finally {
      a.destroy();
      b.destroy();
    }
    await assertHealthy(server);
  });

  it('path traversal in API parameters: 400/404 JSON, never a 500 or a file', async () => {
    const token = aliceLab.token;
    const attempts: Array<[string, string, { token?: string; body?: unknown; raw?: string }?]> = [
      ['POST', '/api/labs/..%2f..%2fetc/checks/x', { token }],
      ['POST', '/api/labs/..%2F..%2Fetc%2Fpasswd/checks/made-dir', { token }],
      ['POST', '/api/labs/%2e%2e/checks/made-dir', { token }],
      ['GET', '/api/labs/..%2f..%2fetc%2fpasswd', { token }],
      ['GET', '/api/labs/%00', { token }],
      ['GET', `/api/labs/${'a'.repeat(300)}`, { token }],
      ['POST', `/api/labs/${aliceLab.id}/checks/..%2f..%2fetc%2fpasswd`, { token }],
      ['POST', `/api/labs/${aliceLab.id}/checks/../../made-dir`, { token }],
      ['POST', `/api/labs/${aliceLab.id}/checks/__proto__`, { token }],
      ['POST', `/api/labs/${aliceLab.id}/checks/constructor`, { token }],
      ['POST', `/api/labs/${aliceLab.id}/checks/toString`, { token }],
      ['POST', `/api/labs/${aliceLab.id}/checks/made-dir%00`, { token }],
      ['GET', '/api/me/files?prefix=../'],
      ['GET', '/api/me/files?prefix=..%2f..%2f'],
      ['GET', '/api/me/files/content?key=../../x'],
      ['GET', '/api/me/files/content?key=/etc/passwd'],
      ['GET', '/api/me/files/content?key=..%2f..%2f..%2fetc%2fpasswd'],
      ['GET', '/api/me/files/content?key=diffusion/../../learners.db'],
      ['GET', '/api/me/files/content?key=a%00b'],
      ['GET', '/api/me/files/content?key=x&key=y'],
      ['GET', '/api/me/files/content?key[a]=x'],
      ['PUT', '/api/me/files?key=../../x', { raw: 'x' }],
      ['PUT', '/api/me/files?key=%2e%2e/%2e%2e/keys/cookie.key', { raw: 'x' }],
      ['DELETE', '/api/me/files?key=../../learners.db'],
      ['DELETE', '/api/me/files?key=.'],
      ['GET', '/api/me/repos/..%2f/tree?path=../../'],
      ['GET', '/api/me/repos/..%2f..%2f..%2fetc/tree'],
      ['GET', '/api/me/repos/.git/tree'],
      ['GET', '/api/me/repos/tp/tree?path=../../'],
      ['GET', '/api/me/repos/tp/tree?path=..'],
      ['GET', '/api/me/repos/tp/file?path=../../../etc/passwd'],
      ['GET', '/api/me/repos/tp/file?path=/etc/passwd'],
      ['GET', '/api/me/repos/tp/file?path=--output=/tmp/atelier-pwned'],
      ['GET', '/api/me/repos/tp/file?path=HEAD:../../config'],
      ['GET', '/api/me/repos/tp/log?path=../../'],
      ['GET', `/api/me/repos/..%2f..%2f${bobId}%2ftp/tree`],
      ['PUT', '/api/me/secrets/..%2f..%2fx', { body: { vars: { A: 'b' } } }],
      ['PUT', '/api/me/secrets/a%2fb', { body: { vars: { A: 'b' } } }],
      ['PUT', '/api/me/secrets/..', { body: { vars: { A: 'b' } } }],
      ['PUT', '/api/me/secrets/__proto__', { body: { vars: { A: 'b' } } }],
      ['DELETE', '/api/me/secrets/..%2f..%2fx'],
      ['DELETE', '/api/me/secrets/a%2fb'],
      ['GET', '/api/me/secrets/..%2f..%2f'],
      ['GET', '/api/..%2f..%2fetc%2fpasswd'],
      ['GET', '/api/%2e%2e/%2e%2e/package.json'],
    ];
    for (const [method, url, init] of attempts) {
      // Sent byte for byte: fetch would resolve `..` and `%2e%2e` before the server saw them.
      const body = init?.raw ?? (init?.body === undefined ? undefined : JSON.stringify(init.body));
      const response = await rawRequest(server.url, {
        method,
        path: url,
        headers: {
          cookie: alice.cookie!,
          ...(init?.token ? { authorization: `Bearer ${init.token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': init?.raw === undefined ? 'application/json' : 'text/plain' }),
        },
        ...(body === undefined ? {} : { body }),
      });
      assertCleanError(response, [400, 401, 403, 404, 405], `${method} ${url}`);
      assert.ok(!response.body.includes('root:x:0'), `${method} ${url} served a file`);
    }
    assert.equal(fs.existsSync('/tmp/atelier-pwned'), false);
    // The listing takes no `key`: it shows the caller's own bucket root, nothing above it.
    const listing = await alice.api('/api/me/files?key=../../x');
    assert.equal(listing.status, 200);
    assert.equal(listing.body.bucket, aliceId);
    assert.equal(listing.body.prefix, '');
    // A's secrets and files are as they were: none of the traversals wrote anything.
    assert.deepEqual((await alice.api('/api/me/secrets')).body, { groups: [] });
    // The site's static files: no way out of the built site.
    const projectName = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')).name as string;
    for (const target of [
      '/..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/fr/..%2f..%2f..%2f..%2f..%2fetc/passwd',
      '/fr/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json',
      '/../../../../etc/passwd',
      '/fr/../../../../etc/passwd',
      '/%252e%252e/%252e%252e/etc/passwd',
      '/..\\..\\..\\etc\\passwd',
      '/fr/%00../../etc/passwd',
      '//etc/passwd',
      '/.%2e/.%2e/.%2e/etc/passwd',
    ]) {
      const response = await rawRequest(server.url, { path: target });
      assert.ok(response.status >= 300 && response.status < 500, `${target}: ${response.status}`);
      assert.doesNotMatch(response.body, /root:x:0|root:[*!]:/, `${target} served /etc/passwd`);
      assert.ok(!response.body.includes(`"name": "${projectName}"`), `${target} served the project's package.json`);
    }
    await assertHealthy(server);
  });

  it('oversized and malformed socket.io messages on /terminal: ignored or dropped, the server stays up', async () => {
    const victim = await connectTerminal(server.url, { lab: bobLab.id, token: bobLab.token, terminal: 'bystander' });
    const fuzz = await connectTerminal(server.url, { lab: aliceLab.id, token: aliceLab.token, terminal: 'fuzz', cols: 80, rows: 24 });
    const echo = async (client: TerminalClient, n: number) => {
      const from = client.output().length;
      client.type(`echo "alive-$((${n}+0))"\r`);
      await client.waitFor(new RegExp(`alive-${n}\\r?\\n`), 5_000, from);
    };
    try {
      await Promise.all([victim.screen, fuzz.screen]);
      const socket = fuzz.socket;
      socket.emit('input', `echo ${'z'.repeat(17 * 1024)}\r`);
      for (const value of [42, -1, null, true, {}, [], ['echo pwned\r'], { toString: 'x' }, { length: 3 }, Buffer.from('echo binary-pwned\r'), new Uint8Array(8), 1e308]) {
        socket.emit('input', value);
      }
      for (const value of [
        { cols: Number.NaN, rows: Number.NaN },
        { cols: -1, rows: -1 },
        { cols: 0, rows: 0 },
        { cols: 1e9, rows: 1e9 },
        { cols: 2 ** 31, rows: 2 ** 31 },
        { cols: Infinity, rows: 24 },
        { cols: '132', rows: '43' },
        { cols: 80.5, rows: 24.5 },
        { cols: [132], rows: [43] },
        { cols: { valueOf: 132 }, rows: 43 },
        [132, 43],
        'cols=132',
        null,
        42,
        { __proto__: { cols: 132, rows: 43 } },
        JSON.parse('{"__proto__": {"cols": 132, "rows": 43}}'),
      ]) {
        socket.emit('resize', value);
      }
      for (const value of [-1e9, Number.NaN, Infinity, -Infinity, '1e9', {}, [], null, 1e308, 2 ** 53]) socket.emit('ack', value);
      for (const event of ['exit', 'screen', 'output', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'x'.repeat(10_000), 'input\0', '']) {
        socket.emit(event, 'echo pwned\r', { cols: 1, rows: 1 });
      }
      socket.emit('input', 'echo with-callback-$((1+1))\r', () => undefined);
      await echo(fuzz, 7);
      const from = fuzz.output().length;
      fuzz.type('stty size\r');
      await fuzz.waitFor(/^24 80\r?$/m, 5_000, from);
      assert.doesNotMatch(fuzz.output(), /zzzzzzzzzzzzzzzz/, 'a 17 KiB input reached the shell');
      assert.doesNotMatch(fuzz.output(), /binary-pwned|\npwned/, 'non-string input reached the shell');

      // Handshakes with absurd sizes.
      for (const size of [{ cols: Number.NaN, rows: 24 }, { cols: -5, rows: -5 }, { cols: 1e9, rows: 1e9 }, { cols: '80', rows: '24' }, { cols: 80 }]) {
        const error = await refused(connectSocket(server.url, '/terminal', { auth: { lab: aliceLab.id, token: aliceLab.token, ...size } }), `size ${JSON.stringify(size)}`);
        assert.equal(error.data?.code, 'bad_request');
      }

      // A 10 MB message: over socket.io's maxHttpBufferSize, the connection is dropped.
      const big = await connectTerminal(server.url, { lab: aliceLab.id, token: aliceLab.token, terminal: 'big' });
      const dropped = new Promise<string>((resolve) => big.socket.once('disconnect', (reason) => resolve(reason)));
      big.socket.emit('input', 'x'.repeat(10 * 1024 * 1024));
      const reason = await Promise.race([dropped, sleep(10_000).then(() => 'still connected')]);
      assert.notEqual(reason, 'still connected', 'a 10 MB frame was accepted');
      big.close();

      // Raw engine.io frames no client library would send.
      const port = new URL(server.url).port;
      const raw = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
      const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
      raw.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        raw.once('message', () => resolve());
        raw.once('error', reject);
      });
      raw.send(`40/terminal,${JSON.stringify({ lab: aliceLab.id, token: aliceLab.token, terminal: 'raw', cols: 80, rows: 24 })}`);
      await sleep(200);
      for (const frame of [
        '42/terminal,[',
        '42/terminal,["input"',
        '42/terminal,{"input":"x"}',
        '42/terminal,["input","x"]]]]',
        '451-/terminal,["input",{"_placeholder":true,"num":99}]',
        '451-/terminal,["resize",{"_placeholder":true,"num":-1}]',
        '45999999999-/terminal,["input",{"_placeholder":true,"num":0}]',
        `42/terminal,["input",${'['.repeat(60_000)}${']'.repeat(60_000)}]`,
        '42/terminal,["__proto__",{"polluted":1}]',
        '42/terminal,["resize",{"__proto__":{"cols":3,"rows":3}}]',
        '49/terminal,x',
        '4',
        '9',
        '0',
        '1',
        '2probe',
        '\u0000\u0001\u0002',
        'x'.repeat(100_000),
      ]) {
        if (raw.readyState === WebSocket.OPEN) raw.send(frame);
      }
      if (raw.readyState === WebSocket.OPEN) raw.send(Buffer.from([0xff, 0xfe, 0x00, 0x01]));
      await Promise.race([closed, sleep(2_000)]);
      raw.terminate();
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'prototype polluted');

      // Everything else still works.
      await echo(victim, 8);
      const healthy = await connectTerminal(server.url, { lab: aliceLab.id, token: aliceLab.token, terminal: 'fuzz' });
      try {
        await healthy.screen;
        await echo(healthy, 9);
      } finally {
        healthy.close();
      }
    } finally {
      fuzz.close();
      victim.close();
    }
    await assertHealthy(server);
  });

  it("a deleted lab's token is refused over HTTP and on the socket", async () => {
    const carol = new Browser(server);
    const lab = await carol.launch('test-lab');
    const terminal = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'doomed' });
    await terminal.screen;
    const gone = await carol.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
    assert.equal(gone.status, 204);
    assert.deepEqual(await Promise.race([terminal.exited, sleep(5_000).then(() => 'no exit')]), { code: null, reason: 'lab_gone' });
    terminal.close();
    for (const [method, url] of [
      ['GET', `/api/labs/${lab.id}`],
      ['DELETE', `/api/labs/${lab.id}`],
      ['POST', `/api/labs/${lab.id}/checks/always-ok`],
    ] as const) {
      assertCleanError(await new Browser(server).api(url, { method, token: lab.token }), [401, 403, 404], `${method} with a dead token`);
      assertCleanError(await carol.api(url, { method }), [401, 403, 404], `${method} by the owner's cookie`);
    }
    const error = await refused(connectSocket(server.url, '/terminal', { auth: { lab: lab.id, token: lab.token, cols: 80, rows: 24 } }), 'dead token socket');
    assert.equal(error.data?.code, 'lab_gone');
    // The learner's next lab has a new id and token; the old token opens nothing.
    const next = await carol.launch('test-lab');
    assert.notEqual(next.id, lab.id);
    assertCleanError(await new Browser(server).api(`/api/labs/${next.id}`, { token: lab.token }), [401, 403], 'old token on the new lab');
    const old = await refused(connectSocket(server.url, '/terminal', { auth: { lab: next.id, token: lab.token, cols: 80, rows: 24 } }), 'old token on new lab socket');
    assert.equal(old.data?.code, 'forbidden');
    assert.equal((await carol.api(`/api/labs/${next.id}`, { method: 'DELETE', token: next.token })).status, 204);
    await assertHealthy(server);
  });

  it('cross-site requests from another origin are refused (HTTP and socket.io)', async () => {
    const before = (await alice.api('/api/me')).body;
    const secrets = await alice.api('/api/me/secrets/keep', { method: 'PUT', body: { vars: { KEEP: 'yes' } } });
    assert.equal(secrets.status, 200);
    const origins = [evil, 'null', `http://localhost:${server.port}.evil.example`, `http://evil.example:${server.port}`, 'http://localhost', 'file://', `ws://localhost:${server.port}`];
    const requests: Array<[string, string, { body?: unknown; raw?: string; token?: string; headers?: Record<string, string> }]> = [
      ['POST', '/api/labs', { body: { lab: 'test-lab' } }],
      ['POST', '/api/labs', { raw: '{"lab":"test-lab"}', headers: { 'content-type': 'text/plain' } }],
      ['PUT', '/api/me/git', { body: { name: 'Evil', email: 'evil@example.org' } }],
      ['POST', '/api/me/git/token', {}],
      ['PUT', '/api/me/secrets/keep', { body: { vars: { KEEP: 'no' } } }],
      ['DELETE', '/api/me/secrets/keep', {}],
      ['DELETE', '/api/me/secrets/x', {}],
      ['PUT', '/api/me/files?key=evil.txt', { raw: 'x', headers: { 'content-type': 'text/plain' } }],
      ['DELETE', '/api/me/files?key=attack/proof.txt', {}],
      ['DELETE', `/api/labs/${aliceLab.id}`, { token: aliceLab.token }],
      ['DELETE', `/api/labs/${aliceLab.id}`, {}],
      ['POST', `/api/labs/${aliceLab.id}/checks/made-dir`, { token: aliceLab.token }],
    ];
    for (const origin of origins) {
      for (const [method, url, init] of requests) {
        const response = await alice.api(url, { method, ...init, headers: { ...init.headers, origin } });
        assertCleanError(response, [403], `${method} ${url} from ${origin}`);
        assert.equal(response.headers.get('set-cookie'), null, 'a refused request set a cookie');
      }
    }
    // Nothing changed.
    const after = (await alice.api('/api/me')).body;
    assert.deepEqual(after.git, before.git);
    assert.deepEqual((await alice.api('/api/me/secrets')).body.groups.map((group: { group: string }) => group.group), ['keep']);
    assert.equal((await alice.api(`/api/labs/${aliceLab.id}`)).status, 200, 'the lab survived');
    assert.equal((await alice.api('/api/me/files/content?key=attack/proof.txt')).status, 303, 'the file survived (its download link is given)');
    // Same-origin requests still work (the guard is not just refusing everything).
    const sameOrigin = await alice.api('/api/me/git', { method: 'PUT', body: before.git.name === undefined ? { name: '', email: '' } : { name: before.git.name, email: before.git.email }, headers: { origin: server.url } });
    assert.equal(sameOrigin.status, 200);
    // No CORS opening: a foreign page cannot read the learner's credentials.
    for (const url of ['/api/me', '/api/me/secrets', `/api/labs/${aliceLab.id}`]) {
      const read = await alice.api(url, { headers: { origin: evil } });
      assert.equal(read.headers.get('access-control-allow-origin'), null, `${url} allows ${evil}`);
      const preflight = await rawRequest(server.url, { method: 'OPTIONS', path: url, headers: { origin: evil, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type' } });
      assert.equal(preflight.headers['access-control-allow-origin'], undefined, `preflight ${url}`);
      assert.equal(preflight.headers['access-control-allow-credentials'], undefined);
    }
    // socket.io: a handshake from another origin is refused on every namespace and transport.
    for (const origin of [evil, 'null', `http://localhost:${server.port}.evil.example`]) {
      await refused(connectSocket(server.url, '/terminal', { auth: { lab: aliceLab.id, token: aliceLab.token, cols: 80, rows: 24 }, headers: { origin } }), `terminal from ${origin}`);
      await refused(connectSocket(server.url, '/learner', { headers: { origin, cookie: alice.cookie! } }), `learner from ${origin}`);
      const polling = await rawRequest(server.url, { path: '/socket.io/?EIO=4&transport=polling', headers: { origin, cookie: alice.cookie! } });
      assert.ok(polling.status >= 400, `polling handshake from ${origin}: ${polling.status}`);
      assert.doesNotMatch(polling.body, /"sid"/);
    }
    // Control: the page's own origin connects.
    const own = await connectSocket(server.url, '/terminal', { auth: { lab: aliceLab.id, token: aliceLab.token, cols: 80, rows: 24 }, headers: { origin: server.url } });
    own.close();
    assert.equal((await alice.api('/api/me/secrets/keep', { method: 'DELETE' })).status, 204);
    await assertHealthy(server);
  });

  it('malformed JSON, wrong content types and oversized bodies: 400/413/415 JSON, no stack trace', async () => {
    const json = { 'content-type': 'application/json' };
    const cases: Array<[string, string, { raw?: string | Buffer; headers?: Record<string, string> }, number[]]> = [
      ['POST', '/api/labs', { raw: '{' }, [400]],
      ['POST', '/api/labs', { raw: '{"lab": "test-lab",}' }, [400]],
      ['POST', '/api/labs', { raw: "{'lab': 'test-lab'}" }, [400]],
      ['POST', '/api/labs', { raw: 'null' }, [400]],
      ['POST', '/api/labs', { raw: '[]' }, [400]],
      ['POST', '/api/labs', { raw: '"test-lab"' }, [400]],
      ['POST', '/api/labs', { raw: '123' }, [400]],
      ['POST', '/api/labs', { raw: '{"lab": {"$ne": null}}' }, [400]],
      ['POST', '/api/labs', { raw: '{"lab": ["test-lab"]}' }, [400]],
      ['POST', '/api/labs', { raw: '{"lab": "test-lab", "resources": {"memory": "1Ti", "cpu": 1e308}}' }, [400]],
      ['POST', '/api/labs', { raw: '{"lab": "test-lab", "resources": {"pids": 100000}}' }, [400]],
      ['POST', '/api/labs', { raw: '{"lab":"test-lab","__proto__":{"polluted":1}}' }, [400]],
      ['POST', '/api/labs', { raw: '{"lab":"test-lab","constructor":{"prototype":{"polluted":1}}}' }, [400]],
      ['POST', '/api/labs', { raw: `${'['.repeat(30_000)}${']'.repeat(30_000)}` }, [400]],
      ['POST', '/api/labs', { raw: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) }, [400]],
      ['POST', '/api/labs', { raw: '{"lab":"test-lab"}', headers: { 'content-type': 'text/plain' } }, [400, 415]],
      ['POST', '/api/labs', { raw: 'lab=test-lab', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, [400, 415]],
      ['POST', '/api/labs', { raw: '--x\r\nContent-Disposition: form-data; name="lab"\r\n\r\ntest-lab\r\n--x--\r\n', headers: { 'content-type': 'multipart/form-data; boundary=x' } }, [400, 415]],
      ['POST', '/api/labs', { raw: '{"lab":"test-lab"}', headers: { 'content-type': 'application/xml' } }, [400, 415]],
      ['POST', '/api/labs', { raw: '{"lab":"test-lab"}', headers: { 'content-type': '' } }, [400, 415]],
      ['POST', '/api/labs', { raw: `{"lab":"${'x'.repeat(1024 * 1024)}"}` }, [413]],
      ['PUT', '/api/me/git', { raw: `{"name":"${'x'.repeat(1024 * 1024)}","email":""}` }, [413]],
      ['PUT', '/api/me/git', { raw: '{"name": {"toString": 1}, "email": []}' }, [400]],
      ['PUT', '/api/me/git', { raw: '{"name": "x", "email": "not an email"}' }, [400]],
      ['PUT', '/api/me/secrets/big', { raw: JSON.stringify({ vars: Object.fromEntries(Array.from({ length: 60 }, (_, n) => [`V${n}`, 'x'])) }) }, [400]],
      ['PUT', '/api/me/secrets/big', { raw: JSON.stringify({ vars: { V: 'x'.repeat(9000) } }) }, [400]],
      ['PUT', '/api/me/secrets/big', { raw: JSON.stringify({ vars: { 'BAD NAME': 'x' } }) }, [400]],
      ['PUT', '/api/me/secrets/big', { raw: '{"vars": {"__proto__": "x"}}' }, [400]],
      ['PUT', '/api/me/secrets/big', { raw: '{"vars": []}' }, [400]],
      ['POST', `/api/labs/${aliceLab.id}/checks/made-dir`, { raw: '{', headers: { ...json, authorization: `Bearer ${aliceLab.token}` } }, [400]],
    ];
    for (const [method, url, init, statuses] of cases) {
      const headers = { ...json, ...init.headers };
      if (headers['content-type'] === '') delete (headers as Record<string, string>)['content-type'];
      const response = await rawRequest(server.url, { method, path: url, headers: { ...headers, ...(alice.cookie ? { cookie: alice.cookie } : {}) }, ...(init.raw === undefined ? {} : { body: init.raw }) });
      const label = `${method} ${url} ${String(init.raw).slice(0, 40)} (${headers['content-type'] ?? 'no type'})`;
      assert.match(String(response.headers['content-type']), /application\/json/, `${label}: not JSON`);
      assertCleanError(response, statuses, label);
    }
    // A 1 MB body streamed without a length.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(server.url);
      import('node:http').then(({ request }) => {
        const req = request({ host: hostname, port, method: 'POST', path: '/api/labs', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.write('{"lab":"');
        for (let n = 0; n < 16; n++) req.write('x'.repeat(64 * 1024));
        req.end('"}');
      }, reject);
    }).catch((error: Error) => ({ status: 413, body: `{"error":{"code":"too_large","message":"${error.message}"}}` }));
    assertCleanError(chunked, [413], 'chunked 1 MB');
    // URLs fastify cannot decode.
    for (const target of ['/api/labs/%E0%A4%A', '/api/labs/%', '/api/me/files/content?key=%E0%A4%A', '/api/labs/x?%%%']) {
      const response = await rawRequest(server.url, { path: target });
      assert.ok(response.status >= 400 && response.status < 500, `${target}: ${response.status}`);
      assertNoInternals(response.body, target);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'prototype polluted');
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    await assertHealthy(server);
  });
});
