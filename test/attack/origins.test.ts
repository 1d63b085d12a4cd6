/**
 * Attacks on where learner bytes are served and on S3 keys: a learner's upload read as a page
 * of the site's own origin, S3 spoken to the site's origin, active content rendered inline
 * through a presigned URL's overrides, a leaked key or presigned URL that works for ever,
 * state-changing API calls from the S3 origin. Real server, real S3 client (@aws-sdk/client-s3).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Browser, rawRequest } from '../helpers/attack.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { sitePolicy } from '../../server/http/site-policy.ts';
import { rawLink, rawLinkSecret, rawLinkSeconds } from '../../server/http/repo-raw.ts';
import { loadOrCreateKey } from '../../server/learners/keys.ts';
import { projectRoot } from '../../server/config.ts';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { NodeHttpHandler } from '@smithy/node-http-handler';

let server: TestServer;
const presignMaxMs = 60_000;
const credentialTtlMs = 20 * 60_000;

before(async () => {
  server = await startTestServer({ config: { s3PresignMaxExpiry: presignMaxMs, s3CredentialTtl: credentialTtlMs } });
});

after(async () => {
  await server?.cleanup();
});

type Me = Awaited<ReturnType<Browser['me']>> & { s3: { expiresAt: string; rotatable?: boolean } };

async function learner(): Promise<{ browser: Browser; me: Me; s3: S3Client }> {
  const browser = new Browser(server);
  const me = (await browser.me()) as Me;
  return { browser, me, s3: s3Client(me.s3.endpoint, me.s3.region, me.s3) };
}

/** A GET as a browser's address bar sends it (no redirect followed), the whole answer read. */
async function get(url: string): Promise<{ status: number; headers: Headers; body: string }> {
  const response = await fetch(url, { redirect: 'manual' });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

const s3Client = (endpoint: string, region: string, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
  new S3Client({ endpoint, region, forcePathStyle: true, credentials, maxAttempts: 1 });

const errorCode = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    return (error as { Code?: string; name: string }).Code ?? (error as Error).name;
  }
};

test('S3 is not spoken on the site origin: a real client there is refused, the S3 origin serves it', async () => {
  const { me, s3 } = await learner();
  assert.notEqual(new URL(me.s3.endpoint).host, new URL(server.url).host, '/api/me gives an S3 origin of its own');
  assert.equal(me.s3.endpoint, server.s3Origin);
  const onSite = new S3Client({ endpoint: server.url, region: me.s3.region, forcePathStyle: true, credentials: me.s3, maxAttempts: 1 });
  const refused = await errorCode(onSite.send(new PutObjectCommand({ Bucket: me.s3.bucket, Key: 'diffusion/page.html', Body: '<script>1</script>', ContentType: 'text/html' })));
  assert.equal(refused, 'AccessDenied', 'a PUT through the site origin is refused');
  await s3.send(new PutObjectCommand({ Bucket: me.s3.bucket, Key: 'diffusion/page.html', Body: '<script>1</script>', ContentType: 'text/html' }));
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: me.s3.bucket }));
  assert.deepEqual(listed.Contents?.map((object) => object.Key), ['diffusion/page.html']);
  // Presigned reads too: the signed Host is the S3 origin's, and the site origin answers no object.
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: me.s3.bucket, Key: 'diffusion/page.html' }), { expiresIn: 60 });
  const path = url.slice(new URL(url).origin.length);
  const viaSite = await fetch(server.url + path);
  assert.equal(viaSite.status, 403);
  assert.doesNotMatch(await viaSite.text(), /<script>1<\/script>/);
});

test('objects are inert in a browser: nosniff, a sandbox CSP, and active types downloaded even when a presigned URL asks for inline', async () => {
  const { me, s3 } = await learner();
  const objects: [key: string, type: string, inline: boolean][] = [
    ['diffusion/evil.html', 'text/html', false],
    ['diffusion/evil.svg', 'image/svg+xml', false],
    ['diffusion/evil.xml', 'application/xml', false],
    ['diffusion/evil.xhtml', 'application/xhtml+xml', false],
    ['diffusion/doc.pdf', 'application/pdf', false],
    ['diffusion/blob', 'application/x-unknown', false],
    ['diffusion/plot.png', 'image/png', true],
    ['diffusion/notes.txt', 'text/plain; charset=utf-8', true],
    ['diffusion/people.csv', 'text/csv', true],
  ];
  for (const [key, type] of objects) await s3.send(new PutObjectCommand({ Bucket: me.s3.bucket, Key: key, Body: `<html><script>alert(1)</script></html>`, ContentType: type }));
  for (const [key, , inline] of objects) {
    const plain = await get(await getSignedUrl(s3, new GetObjectCommand({ Bucket: me.s3.bucket, Key: key }), { expiresIn: 60 }));
    assert.equal(plain.status, 200, key);
    assert.equal(plain.headers.get('x-content-type-options'), 'nosniff', key);
    assert.match(String(plain.headers.get('content-security-policy')), /(^|;\s*)sandbox(;|$)/, `${key}: sandboxed`);
    assert.match(String(plain.headers.get('content-security-policy')), /default-src 'none'/, key);
    if (inline) assert.equal(plain.headers.get('content-disposition'), null, `${key} may show inline`);
    else assert.match(String(plain.headers.get('content-disposition')), /^attachment/, `${key} is downloaded`);
    // The signer asks for a page: the type changes, the page stays a download.
    const forced = await get(
      await getSignedUrl(s3, new GetObjectCommand({ Bucket: me.s3.bucket, Key: key, ResponseContentType: 'text/html', ResponseContentDisposition: 'inline' }), { expiresIn: 60 }),
    );
    assert.equal(forced.status, 200, key);
    assert.equal(forced.headers.get('content-type'), 'text/html', key);
    assert.match(String(forced.headers.get('content-disposition')), /^attachment/, `${key} as text/html inline is still downloaded`);
    assert.match(String(forced.headers.get('content-security-policy')), /(^|;\s*)sandbox(;|$)/, key);
  }
  // Errors echo learner-chosen keys: escaped, and sandboxed too (shown, so a dead link says why).
  const missing = await get(await getSignedUrl(s3, new GetObjectCommand({ Bucket: me.s3.bucket, Key: 'diffusion/<html:script xmlns:html="http://www.w3.org/1999/xhtml">' }), { expiresIn: 60 }));
  assert.equal(missing.status, 404);
  assert.match(String(missing.headers.get('content-security-policy')), /sandbox/);
  assert.equal(missing.headers.get('x-content-type-options'), 'nosniff');
  assert.doesNotMatch(missing.body, /<html:script/);
});

test('"My files" downloads are links to the S3 origin, never bytes from the site origin', async () => {
  const { browser, me } = await learner();
  const upload = await browser.api('/api/me/files?key=report.html', { method: 'PUT', raw: '<script>steal()</script>', headers: { 'content-type': 'text/html' } });
  assert.equal(upload.status, 201);
  const download = await browser.api('/api/me/files/content?key=report.html');
  assert.equal(download.status, 303);
  assert.doesNotMatch(String(download.body), /steal/, 'the site origin sends no byte of the object');
  const location = new URL(download.headers.get('location')!);
  assert.equal(location.origin, me.s3.endpoint, 'the link leads to the S3 origin');
  assert.ok(Number(location.searchParams.get('X-Amz-Expires')) <= 300, 'a short-lived link');
  const followed = await get(location.href);
  assert.equal(followed.status, 200);
  assert.equal(followed.body, '<script>steal()</script>');
  assert.match(String(followed.headers.get('content-disposition')), /^attachment; filename\*=UTF-8''report\.html$/);
  assert.match(String(followed.headers.get('content-security-policy')), /sandbox/);
});

test('new S3 keys: the old key and every URL presigned with it stop working at once; the new key works', async () => {
  const { browser, me, s3: oldClient } = await learner();
  assert.equal(me.s3.rotatable, true);
  await oldClient.send(new PutObjectCommand({ Bucket: me.s3.bucket, Key: 'data.csv', Body: 'a,b\n1,2\n' }));
  const leaked = await getSignedUrl(oldClient, new GetObjectCommand({ Bucket: me.s3.bucket, Key: 'data.csv' }), { expiresIn: 3600 });
  assert.equal((await get(leaked)).status, 200, 'the presigned URL works before');

  // Another site, or a page of the S3 origin, cannot rotate them for the learner.
  for (const origin of ['https://evil.example', server.s3Origin, 'null']) {
    const refused = await browser.api('/api/me/s3/keys', { method: 'POST', headers: { origin } });
    assert.equal(refused.status, 403, origin);
    assert.equal(refused.body.error.code, 'cross_site');
  }
  const rotated = await browser.api('/api/me/s3/keys', { method: 'POST', headers: { origin: server.url } });
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  assert.notEqual(rotated.body.s3.accessKeyId, me.s3.accessKeyId);
  assert.equal((await browser.me()).s3.accessKeyId, rotated.body.s3.accessKeyId, '/api/me gives the new keys');

  assert.equal(await errorCode(oldClient.send(new ListObjectsV2Command({ Bucket: me.s3.bucket }))), 'InvalidAccessKeyId', 'the old key is refused');
  const afterRotation = await get(leaked);
  assert.equal(afterRotation.status, 403, 'the leaked presigned URL is dead');
  assert.match(afterRotation.body, /<Code>InvalidAccessKeyId<\/Code>/);
  const newClient = s3Client(me.s3.endpoint, me.s3.region, rotated.body.s3);
  const object = await newClient.send(new GetObjectCommand({ Bucket: me.s3.bucket, Key: 'data.csv' }));
  assert.equal(await object.Body!.transformToString(), 'a,b\n1,2\n');
});

test('presigned URLs live no longer than ATELIER_S3_PRESIGN_MAX_EXPIRY, whatever X-Amz-Expires says', async () => {
  const { me, s3 } = await learner();
  await s3.send(new PutObjectCommand({ Bucket: me.s3.bucket, Key: 'diffusion/table.csv', Body: 'x\n' }));
  const read = new GetObjectCommand({ Bucket: me.s3.bucket, Key: 'diffusion/table.csv' });
  const fresh = await getSignedUrl(s3, read, { expiresIn: 7 * 24 * 3600 });
  assert.equal((await get(fresh)).status, 200);
  // Signed two minutes ago for a week: past the one-minute cap.
  const old = await getSignedUrl(s3, read, { expiresIn: 7 * 24 * 3600, signingDate: new Date(Date.now() - 2 * presignMaxMs) });
  const refused = await get(old);
  assert.equal(refused.status, 403);
  assert.match(refused.body, /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
  // Within the cap it still works.
  const recent = await getSignedUrl(s3, read, { expiresIn: 7 * 24 * 3600, signingDate: new Date(Date.now() - presignMaxMs / 2) });
  assert.equal((await get(recent)).status, 200);
});

test('learner S3 credentials last ATELIER_S3_CREDENTIAL_TTL', async () => {
  const { me } = await learner();
  const left = Date.parse(me.s3.expiresAt) - Date.now();
  assert.ok(left <= credentialTtlMs && left > credentialTtlMs - 60_000, `credentials expire in ${Math.round(left / 60_000)} min, not in the 20 min configured`);
});

test('state-changing API calls from the S3 origin or a sandboxed page are refused, with or without Origin', async () => {
  const { browser } = await learner();
  const calls: [string, string][] = [['POST', '/api/me/git/token'], ['POST', '/api/labs'], ['PUT', '/api/me/git'], ['POST', '/api/me/s3/keys'], ['PUT', '/api/me/files?key=x']];
  for (const [method, path] of calls) {
    for (const headers of [{ origin: server.s3Origin }, { origin: 'null' }, { 'sec-fetch-site': 'same-site' }, { 'sec-fetch-site': 'cross-site' }] as Record<string, string>[]) {
      const response = await browser.api(path, { method, body: {}, headers });
      assert.equal(response.status, 403, `${method} ${path} ${JSON.stringify(headers)}`);
      assert.equal(response.body.error.code, 'cross_site');
    }
  }
  const own = await browser.api('/api/me/git/token', { method: 'POST', headers: { origin: server.url, 'sec-fetch-site': 'same-origin' } });
  assert.equal(own.status, 200);
});

test('the site sends a strict Content-Security-Policy header and may not be framed', async () => {
  const page = await fetch(`${server.url}/fr/`);
  const policy = page.headers.get('content-security-policy') ?? '';
  assert.match(policy, /frame-ancestors 'none'/);
  assert.match(policy, /script-src 'self'/);
  assert.doesNotMatch(policy, /'unsafe-inline'[^;]*$|script-src[^;]*'unsafe-inline'/);
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  // A revalidated page keeps its policy: a 304's headers replace the cached ones.
  // (fetch would send its own cache headers: a raw request revalidates as a browser's reload does.)
  const revalidated = await rawRequest(server.url, { path: '/fr/', headers: { 'if-none-match': page.headers.get('etag') ?? '' } });
  assert.equal(revalidated.status, 304);
  assert.equal(revalidated.headers['content-security-policy'], undefined, 'a 304 does not replace the page policy');
  const api = await fetch(`${server.url}/api/me`);
  assert.match(api.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  // The real build: Astro's hashes of its inline scripts, no inline script otherwise.
  const dist = join(projectRoot, 'dist');
  if (existsSync(join(dist, 'fr', 'index.html'))) {
    const built = sitePolicy(dist);
    assert.match(built, /script-src 'self'( 'sha256-[A-Za-z0-9+/=]+')+/);
    assert.doesNotMatch(built, /script-src[^;]*'unsafe-inline'/);
    assert.match(built, /frame-ancestors 'none'/);
  }
});

test('labs still reach S3 through the gateway socket, whatever Host they send; the gateway serves no API', async () => {
  const { me, s3 } = await learner();
  await s3.send(new PutObjectCommand({ Bucket: me.s3.bucket, Key: 'lab/seen.txt', Body: 'from the browser side' }));
  const socketPath = join(server.config.dataDir, 'run', 'gateway.sock');
  // What a lab's forwarder does: every connection ends on the gateway socket.
  class GatewayAgent extends http.Agent {
    override createConnection(): net.Socket {
      return net.connect(socketPath);
    }
  }
  for (const endpoint of [`http://127.0.0.1:${server.port}`, server.url, server.s3Origin]) {
    const inLab = new S3Client({ endpoint, region: me.s3.region, forcePathStyle: true, credentials: me.s3, maxAttempts: 1, requestHandler: new NodeHttpHandler({ httpAgent: new GatewayAgent() }) });
    const object = await inLab.send(new GetObjectCommand({ Bucket: me.s3.bucket, Key: 'lab/seen.txt' }));
    assert.equal(await object.Body!.transformToString(), 'from the browser side', endpoint);
    inLab.destroy();
  }
  const api = await new Promise<number>((resolve, reject) => {
    http.get({ socketPath, path: '/api/me', headers: { host: new URL(server.url).host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
  assert.equal(api, 404);
});

/** Pushes `files` as the one commit of the learner's repository `name`, with real git. */
async function pushRepository(browser: Browser, learnerId: string, name: string, files: Record<string, string | Buffer>): Promise<void> {
  const { token } = (await browser.api('/api/me/git/token', { method: 'POST' })).body as { token: string };
  const work = mkdtempSync(join(tmpdir(), 'atelier-raw-'));
  try {
    // Asynchronous: the server answering the push runs in this process.
    const git = (...args: string[]) => promisify(execFile)('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, GIT_CONFIG_NOSYSTEM: '1' } });
    await git('init', '-q', '-b', 'main');
    for (const [path, content] of Object.entries(files)) writeFileSync(join(work, path), content);
    await git('add', '.');
    await git('commit', '-q', '-m', 'pages');
    const remote = new URL(`${server.url}/git/${learnerId}/${name}.git`);
    remote.username = learnerId;
    remote.password = token;
    await git('push', '-q', remote.href, 'main');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

test('raw files of "My repositories" are downloads from the S3 origin through short-lived signed links', async () => {
  const { browser, me } = await learner();
  await pushRepository(browser, me.learner.id, 'site', { 'index.html': '<script>fetch("/api/me")</script>', 'data.bin': Buffer.from([0, 1, 2, 255]) });
  // The page's JSON view stays text; the bytes come only as a link to the S3 origin.
  const link = await browser.api('/api/me/repos/site/raw?path=index.html');
  assert.equal(link.status, 303);
  const location = new URL(link.headers.get('location')!);
  assert.equal(location.origin, server.s3Origin);
  const raw = await get(location.href);
  assert.equal(raw.status, 200);
  assert.equal(raw.body, '<script>fetch("/api/me")</script>');
  assert.equal(raw.headers.get('content-type'), 'application/octet-stream');
  assert.match(raw.headers.get('content-disposition') ?? '', /^attachment; filename\*=UTF-8''index\.html$/);
  assert.match(raw.headers.get('content-security-policy') ?? '', /sandbox/);
  assert.equal(raw.headers.get('x-content-type-options'), 'nosniff');
  const binary = await fetch(new URL((await browser.api('/api/me/repos/site/raw?path=data.bin')).headers.get('location')!));
  assert.deepEqual([...Buffer.from(await binary.arrayBuffer())], [0, 1, 2, 255], 'binary files come whole');

  // A link names one file of one learner, and ends.
  const other = new URL(location.href);
  other.searchParams.set('path', 'data.bin');
  assert.equal((await get(other.href)).status, 403, 'another path, same signature');
  const expired = new URL(location.href);
  expired.searchParams.set('expires', String(Math.floor(Date.now() / 1000) - 1));
  assert.equal((await get(expired.href)).status, 403);
  // A link signed by the server that has run out (signed two lifetimes ago), in the learner's language.
  const secret = rawLinkSecret(loadOrCreateKey(join(server.config.dataDir, 'keys', 'cookie.key')));
  const stale = rawLink(server.s3Origin, secret, me.learner.id, 'site', 'index.html', Date.now() - 2 * rawLinkSeconds * 1000);
  for (const [lang, words] of [['fr', /a expiré/], ['en', /has expired/]] as const) {
    const answer = await fetch(stale, { headers: { 'accept-language': lang } });
    assert.equal(answer.status, 403);
    assert.match(await answer.text(), words, `an expired link says so (${lang})`);
  }
  assert.equal((await get(rawLink(server.s3Origin, secret, me.learner.id, 'site', 'index.html'))).status, 200, 'the same link, fresh, works');
  assert.equal((await get(`${server.s3Origin}/_repo/${me.learner.id}/site?path=index.html`)).status, 403, 'no signature');
  assert.equal((await get(`${server.url}/_repo/${me.learner.id}/site?path=index.html&expires=9999999999&signature=x`)).status, 404, 'the site origin serves no raw file');
  const stranger = new Browser(server);
  assert.equal((await stranger.api('/api/me/repos/site/raw?path=index.html')).status, 404, "another learner's repository and a missing one look the same");
  assert.equal((await browser.api('/api/me/repos/site/raw?path=missing.txt')).status, 404);
  assert.equal((await browser.api('/api/me/repos/site/raw?path=../x')).status, 400);
});

test('one learner cannot start hundreds of git processes through "My repositories" views and raw downloads', async () => {
  const { browser, me } = await learner();
  await pushRepository(browser, me.learner.id, 'big', { 'data.bin': Buffer.alloc(4 * 1024 * 1024, 7) });
  const views = await Promise.all(Array.from({ length: 40 }, () => browser.api('/api/me/repos/big/file?path=data.bin', { lang: 'en' })));
  const statuses = views.map((view) => view.status);
  assert.ok(statuses.includes(429), `beyond the learner's share, views are refused: ${statuses.join(' ')}`);
  assert.ok(statuses.filter((status) => status === 200).length >= 4, "the learner's share is served");
  const refusal = views.find((view) => view.status === 429)!;
  assert.equal(refusal.body.error.code, 'too_many_repository_views');
  assert.match(refusal.body.error.message, /at once|in progress/);
  // Raw downloads hold their slot while the bytes flow; past the share, the S3 origin says why.
  const link = (await browser.api('/api/me/repos/big/raw?path=data.bin')).headers.get('location')!;
  const downloads = await Promise.all(Array.from({ length: 20 }, () => fetch(link, { headers: { 'accept-language': 'fr' } }).then(async (response) => ({ status: response.status, text: response.status === 200 ? '' : await response.text(), size: response.status === 200 ? (await response.arrayBuffer()).byteLength : 0 }))));
  assert.ok(downloads.some((download) => download.status === 429 && /en cours/.test(download.text)), `raw downloads beyond the share: ${downloads.map((d) => d.status).join(' ')}`);
  assert.ok(downloads.filter((download) => download.status === 200).every((download) => download.size === 4 * 1024 * 1024), 'served downloads are whole');
  // Another learner is served meanwhile, and the slots come back once the views are over.
  const other = await learner();
  await pushRepository(other.browser, other.me.learner.id, 'mine', { 'a.txt': 'a' });
  assert.equal((await other.browser.api('/api/me/repos/mine/file?path=a.txt')).status, 200);
  assert.equal((await browser.api('/api/me/repos/big/file?path=data.bin')).status, 200, 'slots are released');
});
