/**
 * The forge against real git: a real HTTP server on 127.0.0.1:0 hosting the handler, git clients
 * started as child processes (asynchronously: the server runs in this process).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createForgeHandler, forgeUrlFor, isForgeRequest, RepositoryStore, type ForgeEvent } from '../../server/forge/index.ts';
import { basic, rawRequest, runGit, workingRepo, type GitRun } from '../helpers/forge.ts';

const tokens: Record<string, string> = { 'tok-alice-0123456789': 'alice', 'tok-bob-0123456789': 'bob' };
const alice = 'tok-alice-0123456789';
const bob = 'tok-bob-0123456789';
const seedDir = join(import.meta.dirname, '..', '..', 'labs', 'datalab-discovery', 'repos', 'tp-datalab');

let work: string;
let dataRoot: string;
let store: RepositoryStore;
let server: Server;
let host: string;
/** Every request the server saw (method, url, headers) and every git event. */
const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
const events: ForgeEvent[] = [];

function listen(handler: ReturnType<typeof createForgeHandler>): Promise<Server> {
  const httpServer = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (isForgeRequest(req)) handler(req, res);
    else {
      res.statusCode = 418;
      res.end();
    }
  });
  return new Promise((resolve) => httpServer.listen(0, '127.0.0.1', () => resolve(httpServer)));
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'atelier-forge-test-'));
  dataRoot = join(work, 'data');
  store = new RepositoryStore(dataRoot);
  const handler = createForgeHandler({
    root: dataRoot,
    store,
    auth: { byToken: (token) => (tokens[token] ? { learnerId: tokens[token] } : undefined) },
    onRequest: (event) => events.push(event),
  });
  server = await listen(handler);
  const port = (server.address() as AddressInfo).port;
  host = `127.0.0.1:${port}`;
  mkdirSync(join(work, 'home'));
});

after(() => {
  server.closeAllConnections();
  server.close();
  rmSync(work, { recursive: true, force: true });
});

/** git in a clean environment (no user config, no prompt unless asked). */
const run = (args: string[], cwd: string, env: Record<string, string> = {}): Promise<GitRun> => runGit(args, cwd, join(work, 'home'), env);

async function ok(args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const result = await run(args, cwd, env);
  assert.equal(result.code, 0, `git ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** A fresh working repository with one committed file. */
const newWorkingRepo = (label: string, files: Record<string, string | Buffer> = { 'hello.txt': 'hello\n' }, branch = 'main'): Promise<string> =>
  workingRepo(work, join(work, 'home'), label, files, branch);

function url(token: string | undefined, learner: string, repo: string, user?: string): string {
  const credentials = token === undefined ? '' : user === undefined ? `${token}@` : `${user}:${token}@`;
  return `http://${credentials}${host}/git/${learner}/${repo}`;
}

/** A raw HTTP request: the path is sent exactly as given (no normalisation). */
async function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const response = await rawRequest((server.address() as AddressInfo).port, method, path, headers, body);
  return { ...response, body: response.body.toString('utf8') };
}

/** The first reported event (from index `from`) matching, waiting for it up to 5 s. */
async function eventMatching(from: number, predicate: (event: ForgeEvent) => boolean): Promise<ForgeEvent | undefined> {
  const started = Date.now();
  while (Date.now() - started < 5000) {
    const found = events.slice(from).find(predicate);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return undefined;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

test('forgeUrl: <origin>/git/<learnerId>, and isForgeRequest matches /git/ only', async () => {
  assert.equal(forgeUrlFor('http://x:1/', 'alice'), 'http://x:1/git/alice');
  const response = await raw('GET', '/api/me');
  assert.equal(response.status, 418);
});

test('token as user name (http://TOKEN@host): push creates the repository, clone and fetch work', async () => {
  assert.equal(store.exists('alice', 'first'), false);
  const dir = await newWorkingRepo('first');
  const remote = url(alice, 'alice', 'first.git');
  await ok(['push', '-q', remote, 'main'], dir);
  assert.equal(store.exists('alice', 'first'), true, 'created on first push');
  assert.equal((await store.list('alice')).some((repo) => repo.name === 'first'), true);
  // git sent "TOKEN:" (empty password) after the 401.
  assert.ok(seen.some((r) => r.url.startsWith('/git/alice/first.git/') && r.headers.authorization === basic(alice, '')));

  const clone = join(work, 'first-clone');
  await ok(['clone', '-q', remote, clone], work);
  assert.equal(readFileSync(join(clone, 'hello.txt'), 'utf8'), 'hello\n');

  writeFileSync(join(dir, 'second.txt'), 'two\n');
  await ok(['add', 'second.txt'], dir);
  await ok(['commit', '-q', '-m', 'second'], dir);
  await ok(['push', '-q', remote, 'main'], dir);
  await ok(['fetch', '-q', 'origin'], clone);
  assert.equal((await ok(['log', '--format=%s', '-1', 'origin/main'], clone)).trim(), 'second');
});

test('user:TOKEN form: clone, push, fetch', async () => {
  const dir = await newWorkingRepo('userpass');
  const remote = url(alice, 'alice', 'userpass.git', 'anyone');
  await ok(['push', '-q', remote, 'main'], dir);
  const clone = join(work, 'userpass-clone');
  await ok(['clone', '-q', remote, clone], work);
  writeFileSync(join(clone, 'from-clone.txt'), 'x\n');
  await ok(['add', '.'], clone);
  await ok(['commit', '-q', '-m', 'from clone'], clone);
  await ok(['push', '-q', 'origin', 'main'], clone);
  await ok(['fetch', '-q', remote, 'main'], dir);
  assert.equal((await ok(['log', '--format=%s', '-1', 'FETCH_HEAD'], dir)).trim(), 'from clone');
  assert.ok(seen.some((r) => r.headers.authorization === basic('anyone', alice)));
});

test('credential prompt: GIT_ASKPASS answering the token works; without it git fails with 401', async () => {
  const dir = await newWorkingRepo('askpass');
  const log = join(work, 'askpass.log');
  const script = join(work, 'askpass.sh');
  writeFileSync(script, `#!/bin/sh\necho "$1" >> '${log}'\ncase "$1" in\n  Username*) echo learner ;;\n  *) echo '${alice}' ;;\nesac\n`);
  chmodSync(script, 0o755);
  const remote = url(undefined, 'alice', 'askpass.git');
  await ok(['push', '-q', remote, 'main'], dir, { GIT_ASKPASS: script });
  const prompts = readFileSync(log, 'utf8');
  assert.match(prompts, /Username/);
  assert.match(prompts, /Password/);
  await ok(['clone', '-q', remote, join(work, 'askpass-clone')], work, { GIT_ASKPASS: script });
  assert.ok(existsSync(join(work, 'askpass-clone', 'hello.txt')));

  // No credentials and no way to ask: git fails on the 401.
  const denied = await run(['clone', '-q', remote, join(work, 'askpass-denied')], work);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /could not read Username|Authentication failed|terminal prompts disabled/);
});

test('wrong or missing token → 401 with WWW-Authenticate, and git fails', async () => {
  const none = await raw('GET', '/git/alice/first.git/info/refs?service=git-upload-pack');
  assert.equal(none.status, 401);
  assert.match(String(none.headers['www-authenticate']), /^Basic realm="Atelier forge"/);
  const wrong = await raw('GET', '/git/alice/first.git/info/refs?service=git-upload-pack', { Authorization: basic('alice', 'nope') });
  assert.equal(wrong.status, 401);
  const garbage = await raw('POST', '/git/alice/first.git/git-receive-pack', { Authorization: 'Basic !!!' });
  assert.equal(garbage.status, 401);
  const good = await raw('GET', '/git/alice/first.git/info/refs?service=git-upload-pack', { Authorization: basic('x', alice) });
  assert.equal(good.status, 200);
  assert.equal(good.headers['content-type'], 'application/x-git-upload-pack-advertisement');

  const cloneFail = await run(['clone', '-q', url('wrong-token', 'alice', 'first.git', 'alice'), join(work, 'wrong-clone')], work);
  assert.notEqual(cloneFail.code, 0);
  assert.match(cloneFail.stderr, /Authentication failed/);
  // TOKEN@host with a wrong token: the empty-password attempt is refused, then git wants a password.
  const before = seen.length;
  const userOnly = await run(['clone', '-q', url('wrong-token', 'alice', 'first.git'), join(work, 'wrong-clone-2')], work);
  assert.notEqual(userOnly.code, 0);
  assert.match(userOnly.stderr, /could not read Password|Authentication failed/);
  assert.ok(seen.slice(before).some((r) => r.headers.authorization === basic('wrong-token', '')));
  assert.equal(existsSync(join(work, 'wrong-clone')) || existsSync(join(work, 'wrong-clone-2')), false);
  const dir = await newWorkingRepo('wrongpush');
  const pushFail = await run(['push', url('wrong-token', 'alice', 'wrongpush.git', 'alice'), 'main'], dir);
  assert.notEqual(pushFail.code, 0);
  assert.equal(store.exists('alice', 'wrongpush'), false, 'no repository created without auth');
});

test("learner A's token on B's repository → 404 (clone and push), nothing created for B", async () => {
  const bobDir = await newWorkingRepo('bobs');
  await ok(['push', '-q', url(bob, 'bob', 'bobs.git'), 'main'], bobDir);
  const existing = await raw('GET', '/git/bob/bobs.git/info/refs?service=git-upload-pack', { Authorization: basic('alice', alice) });
  const missing = await raw('GET', '/git/bob/nothing.git/info/refs?service=git-upload-pack', { Authorization: basic('alice', alice) });
  assert.equal(existing.status, 404);
  assert.equal(missing.status, 404);
  assert.equal(existing.body, missing.body, 'the same answer whether it exists or not');

  const clone = await run(['clone', '-q', url(alice, 'bob', 'bobs.git'), join(work, 'steal')], work);
  assert.notEqual(clone.code, 0);
  assert.match(clone.stderr, /not found|404/);
  const dir = await newWorkingRepo('intrude');
  const push = await run(['push', url(alice, 'bob', 'planted.git'), 'main'], dir);
  assert.notEqual(push.code, 0);
  assert.equal(store.exists('bob', 'planted'), false);
  const overwrite = await run(['push', '--force', url(alice, 'bob', 'bobs.git'), 'main'], dir);
  assert.notEqual(overwrite.code, 0);
  assert.equal((await store.log('bob', 'bobs', 'main', 5))[0]?.subject, 'bobs: first commit');
});

test('protocol v2 clone and gzip-encoded request bodies', async () => {
  // 40 branches on 40 commits: the clone's want list exceeds 1 KiB, so git gzips the request.
  const dir = await newWorkingRepo('many');
  for (let i = 0; i < 40; i += 1) {
    await ok(['commit', '-q', '--allow-empty', '-m', `c${i}`], dir);
    await ok(['branch', `b${i}`], dir);
  }
  const remote = url(alice, 'alice', 'many.git');
  await ok(['push', '-q', remote, '--all'], dir);

  const before = seen.length;
  await ok(['-c', 'protocol.version=2', 'clone', '-q', remote, join(work, 'many-v2')], work);
  const v2 = seen.slice(before);
  assert.ok(v2.some((r) => r.headers['git-protocol'] === 'version=2'), 'Git-Protocol header sent');
  assert.ok(v2.some((r) => r.method === 'POST' && r.url.endsWith('/git-upload-pack')));
  assert.equal((await ok(['branch', '-r'], join(work, 'many-v2'))).split('\n').filter((l) => /origin\/b\d+/.test(l)).length, 40);
  // The server answered in v2 (its capability advertisement says so).
  const advert = await raw('GET', '/git/alice/many.git/info/refs?service=git-upload-pack', { Authorization: basic('x', alice), 'Git-Protocol': 'version=2' });
  assert.match(advert.body, /version 2/);

  const before0 = seen.length;
  await ok(['-c', 'protocol.version=0', 'clone', '-q', '--mirror', remote, join(work, 'many-v0.git')], work);
  const gzipped = seen.slice(before0).filter((r) => r.method === 'POST' && r.headers['content-encoding'] === 'gzip');
  assert.ok(gzipped.length > 0, 'a gzip body went through');
  assert.equal((await ok(['for-each-ref', '--format=%(refname)', 'refs/heads/'], join(work, 'many-v0.git'))).trim().split('\n').length, 41);
});

test('a 5 MB incompressible push round-trips (chunked body), sha256 equal', async () => {
  const data = randomBytes(5 * 1024 * 1024);
  const dir = await newWorkingRepo('big', { 'data.bin': data });
  const remote = url(alice, 'alice', 'big.git');
  const before = seen.length;
  await ok(['push', '-q', remote, 'main'], dir);
  const posts = seen.slice(before).filter((r) => r.method === 'POST');
  assert.ok(posts.some((r) => r.headers['transfer-encoding'] === 'chunked' && r.headers['content-length'] === undefined), 'large pushes are chunked (no Content-Length)');
  const clone = join(work, 'big-clone');
  await ok(['clone', '-q', remote, clone], work);
  assert.equal(sha256(readFileSync(join(clone, 'data.bin'))), sha256(data));
  const file = await store.readFile('alice', 'big', 'main', 'data.bin', 4096);
  assert.equal(file?.binary, true);
  assert.equal(file?.truncated, true);
  assert.equal(file?.content, undefined);
  assert.equal(file?.size, data.length);
});

test('a push over the size limit is refused in git terms and leaves nothing; a declared body far beyond it gets 413 at once', async () => {
  const limitedRoot = join(work, 'limited');
  const limited = await listen(
    createForgeHandler({ root: limitedRoot, auth: { byToken: (token) => (tokens[token] ? { learnerId: tokens[token] } : undefined) }, limits: { maxPushBytes: 1024 * 1024 } }),
  );
  try {
    const port = (limited.address() as AddressInfo).port;
    const dir = await newWorkingRepo('limited', { 'data.bin': randomBytes(3 * 1024 * 1024) });
    const result = await run(['push', `http://${alice}@127.0.0.1:${port}/git/alice/limited.git`, 'main'], dir);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /! \[remote rejected\] main -> main/);
    assert.equal(new RepositoryStore(limitedRoot).exists('alice', 'limited'), false);
    const declared = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/git/alice/limited.git/git-receive-pack', headers: { Authorization: basic('x', alice), 'Content-Length': String(100 * 1024 * 1024) } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('0000');
    });
    assert.equal(declared, 413);
  } finally {
    limited.closeAllConnections();
    limited.close();
  }
});

test('a seeded repository is clonable with its files; seeding again keeps it', async () => {
  assert.equal(await store.ensureFromSeed('alice', 'tp-datalab', seedDir), true);
  assert.equal(await store.ensureFromSeed('alice', 'tp-datalab', seedDir), false);
  const clone = join(work, 'tp-clone');
  await ok(['clone', '-q', url(alice, 'alice', 'tp-datalab.git'), clone], work);
  for (const name of readdirSync(seedDir)) {
    assert.deepEqual(readFileSync(join(clone, name)), readFileSync(join(seedDir, name)), name);
  }
  assert.equal((await ok(['rev-parse', '--abbrev-ref', 'HEAD'], clone)).trim(), 'main');
  assert.equal((await ok(['log', '--oneline'], clone)).trim().split('\n').length, 1);
});

test('path traversal in repository names and learner ids is refused; nothing escapes the root', async () => {
  const auth = { Authorization: basic('x', alice) };
  const attempts = [
    '/git/alice/../bob/bobs.git/info/refs?service=git-upload-pack',
    '/git/alice/%2e%2e/bob/bobs.git/info/refs?service=git-upload-pack',
    '/git/alice/%2E%2E%2Fbob%2Fbobs.git/info/refs?service=git-upload-pack',
    '/git/alice/..%2f..%2fescape.git/info/refs?service=git-receive-pack',
    '/git/%2e%2e/alice/first.git/info/refs?service=git-upload-pack',
    '/git/alice/%2Fetc%2Fpasswd/info/refs?service=git-upload-pack',
    '/git/alice//etc/passwd/info/refs?service=git-receive-pack',
    '/git/alice/first.git/../../bob/bobs.git/info/refs?service=git-upload-pack',
    '/git/alice/first.git/objects/info/packs',
    '/git/alice/first.git/HEAD',
    '/git/alice/first.git/info/refs',
    '/git/alice/.git/info/refs?service=git-receive-pack',
    '/git/alice/a%00b.git/info/refs?service=git-receive-pack',
    '/git/alice/%zz.git/info/refs?service=git-receive-pack',
  ];
  for (const path of attempts) {
    const response = await raw('GET', path, auth);
    assert.ok([400, 403, 404].includes(response.status), `${path} → ${response.status}`);
  }
  const post = await raw('POST', '/git/alice/..%2fescape.git/git-receive-pack', auth);
  assert.equal(post.status, 400);

  const dir = await newWorkingRepo('escape');
  const push = await run(['push', `http://${alice}@${host}/git/alice/..%2F..%2Fescape.git`, 'main'], dir);
  assert.notEqual(push.code, 0);
  assert.equal(existsSync(join(work, 'escape.git')), false);
  assert.equal(existsSync(join(dataRoot, 'escape.git')), false);
  assert.deepEqual(readdirSync(dataRoot).filter((name) => !name.startsWith('.')).sort(), ['alice', 'bob']);
  await assert.rejects(() => store.ensureFromSeed('alice', '../../escape', seedDir));
  assert.equal(await store.hasPath('../bob', 'bobs', 'hello.txt'), false);
  assert.equal(await store.tree('alice', '..', 'HEAD'), undefined);
});

test('hasPath: false before the push, true after; content regex; any ref reachable from main', async () => {
  const dir = await newWorkingRepo('check');
  const remote = url(alice, 'alice', 'tp-check.git');
  await ok(['push', '-q', remote, 'main'], dir);
  assert.equal(await store.hasPath('alice', 'tp-check', 'ex0.ipynb'), false);
  assert.equal(await store.hasPath('alice', 'nope', 'ex0.ipynb'), false);

  writeFileSync(join(dir, 'ex0.ipynb'), JSON.stringify({ cells: [{ source: ['def carre(x):\n', '    return x * x'] }] }));
  await ok(['add', 'ex0.ipynb'], dir);
  await ok(['commit', '-q', '-m', 'création fichier tp'], dir);
  assert.equal(await store.hasPath('alice', 'tp-check', 'ex0.ipynb'), false, 'committed but not pushed');
  await ok(['push', '-q', remote, 'main'], dir);
  assert.equal(await store.hasPath('alice', 'tp-check', 'ex0.ipynb'), true);
  assert.equal(await store.hasPath('alice', 'tp-check', 'ex0.ipynb', { contentRegex: /def \w+\(/ }), true);
  assert.equal(await store.hasPath('alice', 'tp-check', 'ex0.ipynb', { contentRegex: 'import pandas' }), false);
  assert.equal(await store.hasPath('bob', 'tp-check', 'ex0.ipynb'), false);

  // Only on another branch: not reachable from the default branch.
  await ok(['checkout', '-q', '-b', 'side'], dir);
  writeFileSync(join(dir, 'side.txt'), 'side\n');
  await ok(['add', 'side.txt'], dir);
  await ok(['commit', '-q', '-m', 'side'], dir);
  await ok(['push', '-q', remote, 'side'], dir);
  assert.equal(await store.hasPath('alice', 'tp-check', 'side.txt'), false);
  assert.equal(await store.hasPath('alice', 'tp-check', 'side.txt', { ref: 'side' }), true);
});

test('a first push of master makes master the default branch (clone checks it out)', async () => {
  const dir = await newWorkingRepo('master', { 'm.txt': 'm\n' }, 'master');
  const remote = url(alice, 'alice', 'on-master.git');
  await ok(['push', '-q', remote, 'master'], dir);
  const clone = join(work, 'master-clone');
  const result = await run(['clone', remote, clone], work);
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /nonexistent ref/);
  assert.equal(readFileSync(join(clone, 'm.txt'), 'utf8'), 'm\n');
  assert.equal((await store.list('alice')).find((repo) => repo.name === 'on-master')?.defaultBranch, 'master');
  assert.equal(await store.hasPath('alice', 'on-master', 'm.txt'), true);
});

test('browse: tree, log and readFile at a ref; unsafe refs and paths give nothing', async () => {
  const dir = await newWorkingRepo('browse', {
    'README.md': '# Titre\n',
    'src/main.py': 'print("héllo")\n',
    'src/deep/x.txt': 'x\n',
    'img.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1]),
  });
  writeFileSync(join(dir, 'README.md'), '# Titre\n\nDeuxième version.\n');
  await ok(['commit', '-q', '-am', 'Deuxième commit'], dir);
  await ok(['push', '-q', url(alice, 'alice', 'browse.git'), 'main'], dir);

  const root = await store.tree('alice', 'browse', 'main', '');
  assert.deepEqual(root?.map((entry) => `${entry.type}:${entry.path}`), ['tree:src', 'blob:README.md', 'blob:img.png']);
  assert.equal(root?.find((entry) => entry.name === 'README.md')?.size, Buffer.byteLength('# Titre\n\nDeuxième version.\n'));
  const src = await store.tree('alice', 'browse', 'main', 'src/');
  assert.deepEqual(src?.map((entry) => entry.path), ['src/deep', 'src/main.py']);
  assert.equal(await store.tree('alice', 'browse', 'main', 'README.md'), undefined, 'a file is not a directory');
  assert.equal(await store.tree('alice', 'browse', 'no-such-branch', ''), undefined);

  const log = await store.log('alice', 'browse', 'main', 10);
  assert.deepEqual(log.map((commit) => commit.subject), ['Deuxième commit', 'browse: first commit']);
  assert.equal(log[0]?.parents[0], log[1]?.oid);
  assert.deepEqual(log[1]?.parents, []);
  assert.equal(log[0]?.authorName, 'Student');
  assert.equal((await store.log('alice', 'browse', 'main', 1)).length, 1);
  const previous = await store.readFile('alice', 'browse', `${log[1]?.oid}`, 'README.md');
  assert.equal(previous?.content, '# Titre\n');
  assert.equal((await store.readFile('alice', 'browse', 'main~1', 'README.md'))?.content, '# Titre\n');

  const text = await store.readFile('alice', 'browse', 'main', 'src/main.py');
  assert.equal(text?.content, 'print("héllo")\n');
  assert.equal(text?.binary, false);
  const png = await store.readFile('alice', 'browse', 'main', 'img.png');
  assert.equal(png?.binary, true);
  assert.equal(png?.content, undefined);
  assert.equal(await store.readFile('alice', 'browse', 'main', 'src'), undefined, 'a directory is not a file');
  assert.equal(await store.readFile('alice', 'browse', 'main', '../../etc/passwd'), undefined);
  assert.equal(await store.readFile('alice', 'browse', '--output=owned.txt', 'README.md'), undefined);
  assert.equal(await store.readFile('alice', 'browse', 'main..HEAD', 'README.md'), undefined);
  assert.deepEqual(await store.log('alice', 'browse', '--all', 5), []);
});

test("git's stderr never reaches the client; every git request is reported", async () => {
  await store.ensureFromSeed('alice', 'misc', seedDir);
  const from = events.length;
  const response = await raw(
    'POST',
    '/git/alice/misc.git/git-upload-pack',
    { Authorization: basic('x', alice), 'Content-Type': 'application/x-git-upload-pack-request' },
    'garbage that is not pkt-line',
  );
  const event = await eventMatching(from, (e) => e.repo === 'misc' && e.action === 'git-upload-pack');
  assert.ok(event, 'reported');
  assert.equal(event?.outcome.ok, false);
  assert.match(event?.outcome.stderr ?? '', /fatal|error/i, 'git complained on stderr');
  assert.doesNotMatch(response.body, /fatal|protocol error|bad line/i);
});

test('requests are reported with their size (the 5 MB push above)', () => {
  assert.ok(events.some((e) => e.action === 'git-receive-pack' && e.outcome.ok && e.outcome.requestBytes > 5 * 1024 * 1024));
});

test('a client that goes away mid-push stops git at once', async () => {
  await store.ensureFromSeed('alice', 'misc', seedDir);
  const count = events.length;
  const port = (server.address() as AddressInfo).port;
  const req = request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/git/alice/misc.git/git-receive-pack',
    headers: { Authorization: basic('x', alice), 'Content-Type': 'application/x-git-receive-pack-request', 'Transfer-Encoding': 'chunked' },
  });
  req.on('error', () => {});
  req.write('00');
  await new Promise((resolve) => setTimeout(resolve, 200));
  req.destroy();
  const event = await eventMatching(count, (e) => e.repo === 'misc' && e.action === 'git-receive-pack');
  assert.equal(event?.outcome.reason, 'aborted', 'reported within 5 s, not left running until the 60 s timeout');
});
