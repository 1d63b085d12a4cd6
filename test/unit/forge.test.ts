import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { parseBasicAuth, tokenOf, authenticate } from '../../server/forge/auth.ts';
import { parseForgeRoute, ForgeRouteError, isForgeRequest, forgeUrlFor } from '../../server/forge/handler.ts';
import { parseCgiHeaders } from '../../server/forge/http-backend.ts';
import { isBinary } from '../../server/forge/browse.ts';
import { isSafeRef, isValidLearnerId, normalizeTreePath, parseRepoName } from '../../server/forge/names.ts';

const b64 = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`;
const fakeReq = (authorization?: string, url = '/git/a/r.git/info/refs'): IncomingMessage => ({ headers: { authorization }, url }) as unknown as IncomingMessage;

test('Basic auth: token as password (any user) or as user name with an empty password', () => {
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
  assert.equal(authenticate(fakeReq(b64('x:good')), auth)?.learnerId, 'alice');
  assert.equal(authenticate(fakeReq(b64('good:')), auth)?.learnerId, 'alice');
  assert.equal(authenticate(fakeReq(b64('good:x-oauth-basic')), auth)?.learnerId, 'alice', 'GitHub-style token:x-oauth-basic');
  assert.equal(authenticate(fakeReq(b64('alice:bad')), auth), undefined);
  assert.equal(authenticate(fakeReq(), auth), undefined);
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
