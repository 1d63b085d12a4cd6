/**
 * The site delivered as a production site, over real HTTP against a real server: the brotli and
 * gzip copies the build writes (site/build/precompress.ts) sent with the right headers and bytes
 * that decompress to the file; hashed assets immutable for a year; pages revalidated (no-cache,
 * ETag, 304); the API's larger answers compressed on the fly; and the forge and S3 left as they
 * are (git compresses its own packs; S3 bytes are the learner's).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { precompress } from '../../site/build/precompress.ts';
import { makeSiteDir, startTestServer, type TestServer } from '../helpers/server.ts';
import { LearnerClient, hostGit } from '../helpers/learner.ts';
import { basic, rawRequest, workingRepo } from '../helpers/forge.ts';

let server: TestServer;
let siteDir: string;
let home: string;
const page = 'fr/tp/demo/index.html';
const asset = '_astro/page.C0ffee12.js';
const font = 'fonts/cousine.woff2';

/** Text that compresses the way real pages do (repetitive markup), big enough to be worth it. */
function markup(label: string): string {
  return Array.from({ length: 400 }, (_, i) => `<li class="task-list-item" data-step="${label}-${i}">Étape ${i} : tapez <code>ls -la</code></li>`).join('\n');
}

before(async () => {
  siteDir = makeSiteDir();
  mkdirSync(join(siteDir, 'fr', 'tp', 'demo'), { recursive: true });
  writeFileSync(join(siteDir, page), `<!doctype html><html lang="fr"><title>Démo</title><ul>${markup('page')}</ul></html>`);
  mkdirSync(join(siteDir, '_astro'));
  writeFileSync(join(siteDir, asset), `export const steps = ${JSON.stringify(markup('js'))};`);
  mkdirSync(join(siteDir, 'fonts'));
  // Already compressed (random bytes stand for a woff2): no copy is kept, the file is sent as is.
  writeFileSync(join(siteDir, font), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
  precompress(siteDir);
  server = await startTestServer({ config: { siteDir } });
  home = mkdtempSync(join(tmpdir(), 'atelier-delivery-'));
});

after(async () => {
  await server?.cleanup();
  if (server) rmSync(server.config.dataDir, { recursive: true, force: true });
  rmSync(siteDir, { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => rawRequest(server.port, 'GET', path, headers);

test('a page: brotli when accepted, gzip otherwise, identity without; bytes decompress to the file; Vary, no-cache, ETag and the page CSP', async () => {
  const file = readFileSync(join(siteDir, page));
  const br = await get('/fr/tp/demo/', { 'accept-encoding': 'gzip, deflate, br' });
  assert.equal(br.status, 200);
  assert.equal(br.headers['content-encoding'], 'br');
  assert.match(String(br.headers['content-type']), /^text\/html/);
  assert.match(String(br.headers.vary), /accept-encoding/i);
  assert.equal(br.headers['cache-control'], 'no-cache');
  assert.ok(br.headers.etag, 'an ETag');
  assert.match(String(br.headers['content-security-policy']), /script-src 'self'/);
  assert.ok(br.body.length < file.length / 4, `${br.body.length} bytes sent for ${file.length}`);
  assert.deepEqual(brotliDecompressSync(br.body), file);

  const gz = await get('/fr/tp/demo/', { 'accept-encoding': 'gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(gz.body), file);
  assert.notEqual(gz.headers.etag, br.headers.etag, 'each encoding has its own validator');

  const plain = await get('/fr/tp/demo/', {});
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.match(String(plain.headers.vary), /accept-encoding/i);
  assert.deepEqual(plain.body, file);
});

test('a page revalidates: If-None-Match with its ETag answers 304 with no body and no policy of its own (the cached page keeps its CSP)', async () => {
  const first = await get('/fr/tp/demo/', { 'accept-encoding': 'br' });
  const again = await get('/fr/tp/demo/', { 'accept-encoding': 'br', 'if-none-match': String(first.headers.etag) });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  assert.equal(again.headers['content-security-policy'], undefined);
  const changed = await get('/fr/tp/demo/', { 'accept-encoding': 'br', 'if-none-match': 'W/"something-else"' });
  assert.equal(changed.status, 200);
});

test('hashed assets under /_astro/ are immutable for a year and compressed; an already compressed file (font) is sent as is, revalidated', async () => {
  const js = await get(`/${asset}`, { 'accept-encoding': 'br, gzip' });
  assert.equal(js.status, 200);
  assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(js.headers['content-encoding'], 'br');
  assert.match(String(js.headers['content-type']), /javascript/);
  assert.deepEqual(brotliDecompressSync(js.body), readFileSync(join(siteDir, asset)));

  const woff = await get(`/${font}`, { 'accept-encoding': 'br, gzip' });
  assert.equal(woff.status, 200);
  assert.equal(woff.headers['content-encoding'], undefined);
  assert.equal(woff.headers['cache-control'], 'no-cache');
  assert.deepEqual(woff.body, readFileSync(join(siteDir, font)));
});

test('the API: answers above 1 KiB compressed on the fly (brotli), small ones not; the 404 page keeps no-store', async () => {
  const metrics = await get('/metrics', { 'accept-encoding': 'br, gzip' });
  assert.equal(metrics.status, 200);
  assert.equal(metrics.headers['content-encoding'], 'br');
  assert.match(String(metrics.headers.vary), /accept-encoding/i);
  assert.match(brotliDecompressSync(metrics.body).toString('utf8'), /^# HELP /m);

  const health = await get('/healthz', { 'accept-encoding': 'br, gzip' });
  assert.equal(health.status, 200);
  assert.ok(health.body.length < 1024);
  assert.equal(health.headers['content-encoding'], undefined);

  const missing = await get('/fr/no-such-page/', { 'accept-encoding': 'br' });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['cache-control'], 'no-store');
});

test('git smart HTTP and S3 are never compressed by us, and both still work: a clone, a download with the same bytes', async () => {
  const learner = new LearnerClient(server.url);
  const me = await learner.me();
  const token = (await learner.api('/api/me/git/token', { method: 'POST' })).body.token as string;
  const remote = `http://x:${token}@127.0.0.1:${server.port}/git/${me.learner.id}/demo.git`;
  const work = await workingRepo(home, home, 'demo', { 'README.md': markup('readme') });
  const push = await hostGit(['push', remote, 'HEAD:main'], { cwd: work, home });
  assert.equal(push.code, 0, push.stderr);

  const refs = await get(`/git/${me.learner.id}/demo.git/info/refs?service=git-upload-pack`, {
    authorization: basic('x', token),
    'accept-encoding': 'br, gzip',
    'git-protocol': 'version=2',
  });
  assert.equal(refs.status, 200);
  assert.equal(refs.headers['content-encoding'], undefined);
  assert.match(refs.body.toString('utf8'), /version 2/);
  const clone = await hostGit(['clone', remote, join(home, 'clone')], { home });
  assert.equal(clone.code, 0, clone.stderr);
  assert.equal(readFileSync(join(home, 'clone', 'README.md'), 'utf8'), markup('readme'));

  const csv = `a,b\n${'1,2\n'.repeat(2000)}`;
  assert.equal((await learner.api('/api/me/files?key=tp/data.csv', { method: 'PUT', raw: csv, headers: { 'content-type': 'text/csv' } })).status, 201);
  const link = await learner.api('/api/me/files/content?key=tp/data.csv');
  assert.equal(link.status, 303);
  const url = new URL(link.headers.get('location')!);
  const object = await rawRequest(server.port, 'GET', url.pathname + url.search, { host: url.host, 'accept-encoding': 'br, gzip' });
  assert.equal(object.status, 200, object.body.toString('utf8'));
  assert.equal(object.headers['content-encoding'], undefined);
  assert.equal(object.body.toString('utf8'), csv);
});
