import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { parseBasicAuth, tokenOf, authenticate } from '../../server/forge/auth.ts';
import { parseForgeRoute, ForgeRouteError, isForgeRequest, forgeUrlFor } from '../../server/forge/handler.ts';
import { parseCgiHeaders } from '../../server/forge/http-backend.ts';
import { isBinary } from '../../server/forge/browse.ts';
import { isSafeRef, isValidLearnerId, normalizeTreePath, parseRepoName } from '../../server/forge/names.ts';
import { PushCommandReader, refusalReport } from '../../server/forge/receive-pack.ts';
import { RequestSlots } from '../../server/forge/slots.ts';
import { formatBytes, remoteLanguages, remoteMessage } from '../../server/forge/messages.ts';
import { loadConfig } from '../../server/config.ts';

const b64 = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`;
const fakeReq = (authorization?: string, url = '/git/a/r.git/info/refs'): IncomingMessage => ({ headers: { authorization }, url }) as unknown as IncomingMessage;

test('Basic auth: token as password (any user) or as user name with an empty password', async () => {
  assert.deepEqual(parseBasicAuth(b64('me:tok')), { user: 'me', password: 'tok' });
  assert.deepEqual(parseBasicAuth(b64('tok:')), { user: 'tok', password: '' });
  assert.deepEqual(parseBasicAuth(b64('a:b:c')), { user: 'a', password: 'b:c' });
  assert.equal(parseBasicAuth(undefined), undefined);
  assert.equal(parseBasicAuth('Bearer tok'), undefined);
  assert.equal(parseBasicAuth('Basic !!!'), undefined);
  assert.equal(tokenOf({ user: 'me', password: 'tok' }), 'tok');
  assert.equal(tokenOf({ user: 'tok', password: '' }), 'tok');
  assert.equal(tokenOf({ user: '', password: '' }), undefined);

  const auth = { byToken: (token: string) => (token === 'good' ? { learnerId: 'alice' } : undefined) };
  assert.equal((await authenticate(fakeReq(b64('x:good')), auth))?.learnerId, 'alice');
  assert.equal((await authenticate(fakeReq(b64('good:')), auth))?.learnerId, 'alice');
  assert.equal((await authenticate(fakeReq(b64('good:x-oauth-basic')), auth))?.learnerId, 'alice', 'GitHub-style token:x-oauth-basic');
  assert.equal(await authenticate(fakeReq(b64('alice:bad')), auth), undefined);
  assert.equal(await authenticate(fakeReq(), auth), undefined);
});

test('routes: the three smart-HTTP endpoints, and nothing else', () => {
  assert.deepEqual(parseForgeRoute('GET', '/git/alice/tp.git/info/refs?service=git-upload-pack'), {
    learnerId: 'alice', repo: 'tp', action: 'info/refs', service: 'git-upload-pack', query: 'service=git-upload-pack',
  });
  assert.equal(parseForgeRoute('GET', '/git/alice/tp/info/refs?service=git-receive-pack').service, 'git-receive-pack');
  assert.equal(parseForgeRoute('POST', '/git/alice/tp.git/git-receive-pack').action, 'git-receive-pack');
  const status = (method: string, url: string): number => {
    try {
      parseForgeRoute(method, url);
      return 200;
    } catch (error) {
      assert.ok(error instanceof ForgeRouteError);
      return error.status;
    }
  };
  assert.equal(status('POST', '/git/alice/tp.git/info/refs?service=git-upload-pack'), 405);
  assert.equal(status('GET', '/git/alice/tp.git/git-upload-pack'), 405);
  assert.equal(status('GET', '/git/alice/tp.git/info/refs'), 403);
  assert.equal(status('GET', '/git/alice/tp.git/HEAD'), 404);
  assert.equal(status('GET', '/git/alice/tp.git'), 404);
  assert.equal(status('GET', '/git/alice/%2e%2e/info/refs?service=git-upload-pack'), 400);
  assert.equal(status('GET', '/git/alice/..%2Fbob/info/refs?service=git-upload-pack'), 400);
  assert.equal(status('GET', '/git/../tp.git/info/refs?service=git-upload-pack'), 400);
  assert.equal(status('GET', '/git/alice/%E0%A4%A/info/refs?service=git-upload-pack'), 400);
  assert.equal(status('GET', '/git/alice/-rf.git/info/refs?service=git-upload-pack'), 400);
  assert.equal(isForgeRequest(fakeReq(undefined, '/git/x')), true);
  assert.equal(isForgeRequest(fakeReq(undefined, '/gitx/x')), false);
  assert.equal(forgeUrlFor('https://atelier.example/', 'alice'), 'https://atelier.example/git/alice');
});

test('names: repositories, learner ids, tree paths, refs', () => {
  assert.equal(parseRepoName('tp-datalab.git'), 'tp-datalab');
  assert.equal(parseRepoName('TP_datalab.v2'), 'TP_datalab.v2');
  for (const bad of ['', '.git', '..', 'a..b', '.hidden', '-x', 'a/b', 'a b', 'x'.repeat(65), 'a.lock', 'a.']) assert.equal(parseRepoName(bad), undefined, bad);
  assert.equal(isValidLearnerId('alice'), true);
  assert.equal(isValidLearnerId('../x'), false);
  assert.equal(isValidLearnerId('.tmp'), false);
  assert.equal(normalizeTreePath('/src/a.py/'), 'src/a.py');
  assert.equal(normalizeTreePath(''), '');
  assert.equal(normalizeTreePath('a/../b'), undefined);
  assert.equal(normalizeTreePath('a//b'), undefined);
  assert.equal(normalizeTreePath('a\nb'), undefined);
  assert.equal(isSafeRef('main'), true);
  assert.equal(isSafeRef('main~2'), true);
  assert.equal(isSafeRef('feature/x'), true);
  assert.equal(isSafeRef('--output=x'), false);
  assert.equal(isSafeRef('a..b'), false);
  assert.equal(isSafeRef('main@{1}'), false);
});

test('CGI headers: Status and headers parsed, body start kept', () => {
  const parsed = parseCgiHeaders(Buffer.from('Status: 404 Not Found\r\nContent-Type: text/plain\r\nExpires: 0\r\n\r\nbody'));
  assert.equal(parsed?.status, 404);
  assert.deepEqual(parsed?.headers, [['Content-Type', 'text/plain'], ['Expires', '0']]);
  assert.equal(parsed?.rest.toString(), 'body');
  assert.equal(parseCgiHeaders(Buffer.from('Content-Type: x\n\n'))?.status, 200);
  assert.equal(parseCgiHeaders(Buffer.from('Content-Type: x\r\n')), undefined);
});

test('binary detection: NUL bytes, invalid UTF-8, a cut multi-byte character is not binary', () => {
  assert.equal(isBinary(Buffer.from('plain text\n'), false), false);
  assert.equal(isBinary(Buffer.from([0x41, 0, 0x42]), false), true);
  assert.equal(isBinary(Buffer.from([0xff, 0xfe, 0x41]), false), true);
  const cut = Buffer.from('é'.repeat(10)).subarray(0, 19);
  assert.equal(isBinary(cut, true), false);
  assert.equal(isBinary(cut, false), true);
});

const pkt = (line: string): string => (Buffer.byteLength(line) + 4).toString(16).padStart(4, '0') + line;
const zero = '0'.repeat(40);

test('push commands: refs and capabilities read from the body start, in any chunking, up to the flush', () => {
  const body = pkt(`${zero} ${'a'.repeat(40)} refs/heads/main\0 report-status side-band-64k agent=git/2.39\n`) + pkt(`${zero} ${'b'.repeat(40)} refs/tags/v1\n`) + '0000PACK\0\0\0\x02';
  for (const size of [1, 3, 7, body.length]) {
    const reader = new PushCommandReader();
    for (let offset = 0; offset < body.length; offset += size) reader.feed(Buffer.from(body.slice(offset, offset + size), 'latin1'));
    assert.equal(reader.done, true);
    assert.deepEqual(reader.commands.refs, ['refs/heads/main', 'refs/tags/v1'], `chunks of ${size}`);
    assert.deepEqual([...reader.commands.capabilities].sort(), ['agent=git/2.39', 'report-status', 'side-band-64k']);
  }
  const garbage = new PushCommandReader();
  garbage.feed(Buffer.from([0x1f, 0x8b, 8, 0])); // a gzip body: not read, nothing invented
  assert.equal(garbage.done, true);
  assert.deepEqual(garbage.commands.refs, []);
  const endless = new PushCommandReader();
  for (let i = 0; i < 16; i += 1) endless.feed(Buffer.from(pkt(`${zero} ${zero} refs/heads/${'x'.repeat(65_000)}\n`)));
  assert.equal(endless.done, false);
  endless.feed(Buffer.from(pkt(`${zero} ${zero} refs/heads/${'x'.repeat(65_000)}\n`)));
  assert.equal(endless.done, true, 'gives up past 1 MiB of commands');
  assert.equal(endless.commands.refs.length, 17);
});

test('refusal report: side-band messages then report-status, as receive-pack writes them', () => {
  const commands = { refs: ['refs/heads/main'], capabilities: new Set(['report-status', 'side-band-64k']) };
  const report = refusalReport(commands, ['Push refused: too large.'], 'push refused').toString('latin1');
  const inner = pkt('unpack push refused\n') + pkt('ng refs/heads/main push refused\n') + '0000';
  assert.equal(report, pkt('\x02Push refused: too large.\n') + pkt(`\x01${inner}`) + '0000');
  // Without side-band the messages cannot travel: the report alone.
  assert.equal(refusalReport({ refs: ['refs/heads/x'], capabilities: new Set(['report-status']) }, ['m'], 'no').toString(), pkt('unpack no\n') + pkt('ng refs/heads/x no\n') + '0000');
  // The old side-band: packets of at most 1000 bytes.
  const long = refusalReport({ refs: [], capabilities: new Set(['side-band']) }, ['x'.repeat(3000)], 'no');
  assert.equal(long.toString('latin1', 0, 4), '03e8');
});

test('request slots: a learner beyond their own slots is refused at once; a full forge makes others wait their turn', async () => {
  const slots = new RequestSlots({ perLearner: 2, total: 3, maxWaitMs: 200 });
  const a1 = await slots.acquire('a');
  const a2 = await slots.acquire('a');
  assert.equal(typeof a1, 'function');
  assert.equal(await slots.acquire('a'), 'learner-busy');
  const b1 = await slots.acquire('b');
  assert.equal(slots.running, 3);
  const waiting = slots.acquire('c');
  assert.equal(slots.waiting, 1);
  (a1 as () => void)();
  const c1 = await waiting;
  assert.equal(typeof c1, 'function', 'the waiter got the freed slot');
  assert.equal(await slots.acquire('d'), 'forge-busy', 'after maxWaitMs');
  const gone = new AbortController();
  const withdrawn = slots.acquire('e', gone.signal);
  gone.abort();
  assert.equal(await withdrawn, 'forge-busy');
  assert.equal(slots.waiting, 0);
  for (const release of [a2, b1, c1]) (release as () => void)();
  assert.equal(slots.running, 0);
  assert.equal(typeof (await slots.acquire('e')), 'function', "a withdrawn waiter's learner slot came back");
});

test("remote messages: git's Accept-Language picks the language, none or another gives both", () => {
  assert.deepEqual(remoteLanguages({ 'accept-language': 'fr-FR, *;q=0.9' }), ['fr']);
  assert.deepEqual(remoteLanguages({ 'accept-language': 'en, *;q=0.9' }), ['en']);
  assert.deepEqual(remoteLanguages({ 'accept-language': 'de-DE, en;q=0.5, *;q=0.1' }), ['en']);
  assert.deepEqual(remoteLanguages({ 'accept-language': 'de, *;q=0.9' }), ['fr', 'en']);
  assert.deepEqual(remoteLanguages({}), ['fr', 'en']);
  assert.equal(formatBytes(1024 ** 3, 'en'), '1 GiB');
  assert.equal(formatBytes(1.5 * 1024 ** 2, 'fr'), '1,5 Mio');
  const [fr, en] = remoteMessage('overQuota', {}, { maxBytes: 1024 ** 3, usedBytes: 900 * 1024 ** 2 });
  assert.match(fr!, /1 Gio.*900 Mio/);
  assert.match(en!, /1 GiB.*900 MiB/);
});

test('forge settings: defaults sized for a 200 MB repository, and read from the environment', () => {
  const defaults = loadConfig({}).forge;
  assert.ok(defaults.maxPushBytes >= 200e6 && defaults.maxBytesPerLearner >= defaults.maxPushBytes);
  assert.deepEqual(
    loadConfig({ ATELIER_FORGE_REQUEST_TIMEOUT: '5m', ATELIER_FORGE_MAX_PUSH: '1Gi', ATELIER_FORGE_MAX_BYTES: '2Gi', ATELIER_FORGE_MAX_REPOS: '7', ATELIER_FORGE_REQUESTS_PER_LEARNER: '2', ATELIER_FORGE_MAX_REQUESTS: '9', ATELIER_FORGE_MAX_DURATION: '2h' }).forge,
    { idleTimeoutMs: 300_000, maxDurationMs: 7_200_000, maxPushBytes: 1024 ** 3, maxBytesPerLearner: 2 * 1024 ** 3, maxRepositoriesPerLearner: 7, maxRequestsPerLearner: 2, maxRequests: 9 },
  );
  assert.throws(() => loadConfig({ ATELIER_FORGE_MAX_PUSH: 'lots' }), /ATELIER_FORGE_MAX_PUSH/);
});
