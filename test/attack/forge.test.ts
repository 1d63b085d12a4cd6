/**
 * Attack suite, the forge: what one learner can do to the git server with real git and raw smart
 * HTTP — abandon clones, hold slow pushes, stall requests, fill their quota — must neither leave
 * git processes behind nor stop another learner's clone; refusals reach git as `remote:` text.
 * Run: node_modules/.bin/node --disable-warning=ExperimentalWarning --test test/attack/forge.test.ts
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RepositoryStore, type ForgeHandlerOptions } from '../../server/forge/index.ts';
import { basic, gitProcessesUnder, openRequest, pkt, runGit, sleep, startForge, waitFor, workingRepo, type TestForge } from '../helpers/forge.ts';

const alice = 'tok-alice-0123456789';
const bob = 'tok-bob-0123456789';
const tokens: Record<string, string> = { [alice]: 'alice', [bob]: 'bob' };
const MiB = 1024 * 1024;

let work: string;
let home: string;
const forges: TestForge[] = [];

before(() => {
  work = mkdtempSync(join(tmpdir(), 'atelier-forge-attack-'));
  home = join(work, 'home');
  mkdirSync(home);
});

after(() => {
  for (const forge of forges) forge.close();
  rmSync(work, { recursive: true, force: true });
});

/** A forge of its own (data under work/<name>) with these options. */
async function forgeWith(name: string, options: Omit<ForgeHandlerOptions, 'auth' | 'root'> = {}): Promise<{ forge: TestForge; root: string; store: RepositoryStore }> {
  const root = join(work, name);
  const store = new RepositoryStore(root);
  const forge = await startForge(tokens, { root, store, ...options });
  forges.push(forge);
  return { forge, root, store };
}

const remote = (forge: TestForge, token: string, learner: string, repo: string): string => `http://${token}@${forge.host}/git/${learner}/${repo}.git`;

async function mustGit(args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const result = await runGit(args, cwd, home, env);
  assert.equal(result.code, 0, `git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

test('40 clones abandoned mid-transfer leave no git process, and another learner clones at once', async () => {
  const { forge, root } = await forgeWith('abandon');
  const source = await workingRepo(work, home, 'abandon', { 'data.bin': randomBytes(24 * MiB) });
  await mustGit(['push', '-q', remote(forge, alice, 'alice', 'big'), 'main'], source);
  const bobs = await workingRepo(work, home, 'bobs', { 'hello.txt': 'hello\n' });
  await mustGit(['push', '-q', remote(forge, bob, 'bob', 'mine'), 'main'], bobs);
  const head = (await mustGit(['rev-parse', 'HEAD'], source)).trim();

  // What `git clone` sends (protocol v0), then the client vanishes without reading the pack.
  const want = pkt(`want ${head} side-band-64k ofs-delta\n`) + '0000' + pkt('done\n');
  const headers = { Authorization: basic('x', alice), 'Content-Type': 'application/x-git-upload-pack-request' };
  const statuses: number[] = [];
  // Four at a time: a learner's own slots (more at once are refused to that learner alone, below).
  for (let round = 0; round < 10; round += 1) {
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const { req, response } = openRequest(forge.port, 'POST', '/git/alice/big.git/git-upload-pack', headers);
        req.end(want);
        statuses.push((await response).statusCode ?? 0);
        await sleep(100); // pack-objects is writing
        req.destroy();
      }),
    );
    await waitFor(() => gitProcessesUnder(root).length === 0, 2000);
  }
  const served = statuses.filter((status) => status === 200).length;
  console.log(`abandoned clones: ${served} of 40 served, ${statuses.filter((status) => status === 503).length} answered 503`);
  assert.ok(!statuses.includes(503), 'the forge never fills up with abandoned clones');
  assert.ok(served >= 36, `the learner's own slots come back as the clones are abandoned (${served} of 40 served)`);

  const survivors = (await waitFor(() => gitProcessesUnder(root).length === 0, 10_000)) ? [] : gitProcessesUnder(root);
  console.log(`abandoned clones: ${survivors.length} git processes survive 10 s after 40 abandoned clones`);
  assert.deepEqual(survivors, [], 'every git process of an abandoned clone ends');

  const started = performance.now();
  const clone = await runGit(['clone', '-q', remote(forge, bob, 'bob', 'mine'), join(work, 'bob-after-abandon')], work, home);
  console.log(`abandoned clones: another learner's clone after them: exit ${clone.code} in ${(performance.now() - started).toFixed(0)} ms ${clone.stderr.trim()}`);
  assert.equal(clone.code, 0, clone.stderr);
});

test('32 slow pushes of one learner: that learner is refused beyond their slots, another learner clones', async () => {
  const { forge, root } = await forgeWith('slow', { limits: { maxRequestsPerLearner: 4, idleTimeoutMs: 30_000 } });
  const bobs = await workingRepo(work, home, 'slow-bob', { 'hello.txt': 'hello\n' });
  await mustGit(['push', '-q', remote(forge, bob, 'bob', 'mine'), 'main'], bobs);
  const alices = await workingRepo(work, home, 'slow-alice', { 'a.txt': 'a\n' });
  await mustGit(['push', '-q', remote(forge, alice, 'alice', 'slow'), 'main'], alices);

  const headers = { Authorization: basic('x', alice), 'Content-Type': 'application/x-git-receive-pack-request', 'Transfer-Encoding': 'chunked' };
  const pushes = Array.from({ length: 32 }, () => {
    const opened = openRequest(forge.port, 'POST', '/git/alice/slow.git/git-receive-pack', headers);
    opened.req.write('0fff'); // a long pkt-line announced, its bytes to come slowly
    return opened;
  });
  // Keep them progressing (a byte now and then): only the learner's slot limit may refuse them.
  const trickle = setInterval(() => {
    for (const { req } of pushes) if (!req.destroyed) req.write('a');
  }, 500);
  try {
    const statuses = await Promise.all(pushes.map(({ response }) => Promise.race([response.then((res) => res.statusCode ?? 0), sleep(3000).then(() => 0)])));
    const refused = statuses.filter((status) => status === 429).length;
    console.log(`slow pushes: ${refused} of 32 refused with 429, ${statuses.filter((status) => status !== 429).length} running`);
    assert.ok(refused >= 28, `beyond 4 slots the learner is refused (got ${statuses.join(',')})`);

    const started = performance.now();
    const clone = await runGit(['clone', '-q', remote(forge, bob, 'bob', 'mine'), join(work, 'bob-during-slow')], work, home);
    console.log(`slow pushes: another learner's clone meanwhile: exit ${clone.code} in ${(performance.now() - started).toFixed(0)} ms ${clone.stderr.trim()}`);
    assert.equal(clone.code, 0, clone.stderr);

    // The learner's own git sees why.
    const own = await runGit(['ls-remote', remote(forge, alice, 'alice', 'slow')], work, home);
    assert.notEqual(own.code, 0);
    assert.match(own.stderr, /remote: .*(4)/);
  } finally {
    clearInterval(trickle);
    for (const { req } of pushes) req.destroy();
  }
  assert.ok(await waitFor(() => gitProcessesUnder(root).length === 0, 10_000), 'the slow pushes leave no process');
});

test('a stalled request is cut after the idle limit with its processes; a slow but progressing one is not', async () => {
  const { forge, root } = await forgeWith('stall', { limits: { idleTimeoutMs: 1000 } });
  const dir = await workingRepo(work, home, 'stall', { 'a.txt': 'a\n' });
  await mustGit(['push', '-q', remote(forge, alice, 'alice', 'stall'), 'main'], dir);
  const headers = { Authorization: basic('x', alice), 'Content-Type': 'application/x-git-receive-pack-request', 'Transfer-Encoding': 'chunked' };

  const stalled = openRequest(forge.port, 'POST', '/git/alice/stall.git/git-receive-pack', headers);
  stalled.req.write('0fff');
  const progressing = openRequest(forge.port, 'POST', '/git/alice/stall.git/git-receive-pack', headers);
  progressing.req.write('0fff');
  let closedAt = 0;
  const started = Date.now();
  stalled.response.then((res) => res.on('close', () => (closedAt = Date.now()))).catch(() => (closedAt = Date.now()));
  stalled.req.on('close', () => (closedAt ||= Date.now()));
  const trickle = setInterval(() => progressing.req.write('a'), 300);
  try {
    await waitFor(() => closedAt !== 0, 6000);
    console.log(`stalled push: cut after ${closedAt ? closedAt - started : 'never (6 s)'} ms with a 1 s idle limit`);
    assert.ok(closedAt !== 0 && closedAt - started < 4000, 'the stalled request ends within a few seconds of the idle limit');
    assert.equal(progressing.req.destroyed, false, 'the progressing request (3 s, longer than the idle limit) is still open');
  } finally {
    clearInterval(trickle);
    progressing.req.destroy();
  }
  assert.ok(await waitFor(() => gitProcessesUnder(root).length === 0, 10_000), 'no process left');
});

test('a push over the push limit is refused in git terms and leaves no empty repository', async () => {
  const { forge, store, root } = await forgeWith('push-limit', { limits: { maxPushBytes: MiB } });
  const dir = await workingRepo(work, home, 'too-big', { 'data.bin': randomBytes(3 * MiB) });
  const english = await runGit(['push', remote(forge, alice, 'alice', 'too-big'), 'main'], dir, home, { LANGUAGE: 'en' });
  console.log(`push over the limit: exit ${english.code}, git says: ${JSON.stringify(english.stderr.trim())}`);
  assert.notEqual(english.code, 0);
  assert.match(english.stderr, /remote: .*1 MiB/);
  assert.match(english.stderr, /remote: .*push/i);
  assert.doesNotMatch(english.stderr, /remote: .*(poussée|dépasse)/, 'English only when git asks in English');
  assert.doesNotMatch(english.stderr, /connection reset|Broken pipe/i);
  assert.equal(store.exists('alice', 'too-big'), false, 'no empty repository left behind');
  assert.deepEqual(await store.list('alice'), []);

  const french = await runGit(['push', remote(forge, alice, 'alice', 'too-big'), 'main'], dir, home, { LANGUAGE: 'fr' });
  assert.notEqual(french.code, 0);
  assert.match(french.stderr, /remote: .*1 Mio/);
  // Without a language git sends no Accept-Language: both languages.
  const neither = await runGit(['push', remote(forge, alice, 'alice', 'too-big'), 'main'], dir, home);
  assert.match(neither.stderr, /remote: .*1 Mio/);
  assert.match(neither.stderr, /remote: .*1 MiB/);
  assert.ok(await waitFor(() => gitProcessesUnder(root).length === 0, 5000));
});

test('a refused or abandoned push leaves none of its objects behind to fill the quota', async () => {
  const { forge, root } = await forgeWith('leftovers', { limits: { maxPushBytes: MiB } });
  const dir = await workingRepo(work, home, 'leftovers', { 'a.txt': 'a\n' });
  await mustGit(['push', '-q', remote(forge, alice, 'alice', 'kept'), 'main'], dir);
  const objects = join(root, 'alice', 'kept.git', 'objects');
  const leftovers = (): string[] => readdirSync(objects, { recursive: true, encoding: 'utf8' }).filter((path) => /(^|\/)tmp_/.test(path));

  const big = await workingRepo(work, home, 'leftovers-big', { 'big.bin': randomBytes(3 * MiB) });
  const refused = await runGit(['push', '-f', remote(forge, alice, 'alice', 'kept'), 'main'], big, home);
  assert.notEqual(refused.code, 0);
  console.log(`refused push: ${leftovers().length} temporary files or directories left in the repository`);
  assert.deepEqual(leftovers(), []);

  // A push whose client vanishes halfway through the pack (receive-pack killed mid-way).
  const head = (await mustGit(['rev-parse', 'HEAD'], dir)).trim();
  const mid = await workingRepo(work, home, 'leftovers-mid', { 'mid.bin': randomBytes(1.5 * MiB) });
  const midHead = (await mustGit(['rev-parse', 'HEAD'], mid)).trim();
  const pack = execFileSync('git', ['pack-objects', '--revs', '--stdout', '-q'], { cwd: mid, input: `${midHead}\n`, maxBuffer: 64 * MiB });
  const pushing = openRequest(forge.port, 'POST', '/git/alice/kept.git/git-receive-pack', {
    Authorization: basic('x', alice),
    'Content-Type': 'application/x-git-receive-pack-request',
    'Transfer-Encoding': 'chunked',
  });
  pushing.req.write(pkt(`${head} ${midHead} refs/heads/main\0report-status side-band-64k\n`) + '0000');
  pushing.req.write(pack.subarray(0, pack.length / 2));
  assert.ok(await waitFor(() => leftovers().length > 0, 5000), 'receive-pack is storing the pack');
  pushing.req.destroy();
  assert.ok(await waitFor(() => gitProcessesUnder(root).length === 0, 5000));
  await waitFor(() => leftovers().length === 0, 2000);
  console.log(`abandoned push: ${leftovers().length} temporary files or directories left in the repository`);
  assert.deepEqual(leftovers(), []);
  assert.equal((await mustGit(['ls-remote', remote(forge, alice, 'alice', 'kept'), 'main'], work)).split('\t')[0], head, 'the branch did not move');
});

test("git's probe before a large push (a lone flush packet) never costs the push its new repository", async () => {
  const { forge, store } = await forgeWith('probe', { limits: { maxRequestsPerLearner: 64 } });
  // Beyond http.postBuffer git first sends a probe, then the push at once: the probe's empty
  // repository must not be tidied away under the push that follows.
  const results = await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const dir = await workingRepo(work, home, `probe-${i}`, { 'data.bin': randomBytes(200_000) });
      return runGit(['-c', 'http.postBuffer=65536', 'push', '-q', remote(forge, alice, 'alice', `probe-${i}`), 'main'], dir, home);
    }),
  );
  const failed = results.filter((result) => result.code !== 0);
  console.log(`probe then push: ${failed.length} of 12 pushes to new repositories failed ${failed[0]?.stderr.trim() ?? ''}`);
  assert.deepEqual(failed, []);
  for (let i = 0; i < 12; i += 1) assert.equal(await store.hasPath('alice', `probe-${i}`, 'data.bin'), true);
});

test('forge quotas: repository count and bytes on disk, refused with a remote: message', async () => {
  const { forge, store } = await forgeWith('quota', { limits: { maxRepositoriesPerLearner: 2, maxBytesPerLearner: 2 * MiB } });
  const small = await workingRepo(work, home, 'quota-small', { 'a.txt': 'a\n' });
  await mustGit(['push', '-q', remote(forge, alice, 'alice', 'one'), 'main'], small);
  await mustGit(['push', '-q', remote(forge, alice, 'alice', 'two'), 'main'], small);
  const third = await runGit(['push', remote(forge, alice, 'alice', 'three'), 'main'], small, home, { LANGUAGE: 'en' });
  console.log(`repository quota: exit ${third.code}, git says: ${JSON.stringify(third.stderr.trim())}`);
  assert.notEqual(third.code, 0);
  assert.match(third.stderr, /remote: .*2 repositories/);
  assert.equal(store.exists('alice', 'three'), false);

  // 3 MiB of incompressible data on top of a 2 MiB quota.
  const big = join(small, 'big.bin');
  writeFileSync(big, randomBytes(3 * MiB));
  await mustGit(['add', 'big.bin'], small);
  await mustGit(['commit', '-q', '-m', 'big'], small);
  const over = await runGit(['push', remote(forge, alice, 'alice', 'one'), 'main'], small, home, { LANGUAGE: 'en' });
  console.log(`size quota: exit ${over.code}, git says: ${JSON.stringify(over.stderr.trim())}`);
  assert.notEqual(over.code, 0);
  assert.match(over.stderr, /remote: .*2 MiB/);
  assert.equal(await store.hasPath('alice', 'one', 'big.bin'), false, 'the branch did not move');

  // Within the quota again (the big commit dropped), pushing works.
  await mustGit(['reset', '-q', '--hard', 'HEAD~1'], small);
  writeFileSync(join(small, 'b.txt'), 'b\n');
  await mustGit(['add', 'b.txt'], small);
  await mustGit(['commit', '-q', '-m', 'b'], small);
  await mustGit(['push', '-q', remote(forge, alice, 'alice', 'one'), 'main'], small);
  assert.equal(await store.hasPath('alice', 'one', 'b.txt'), true);
  // Bob's quota is his own.
  await mustGit(['push', '-q', remote(forge, bob, 'bob', 'one'), 'main'], small);
});

test('partial clone: --filter=blob:none is honoured, missing blobs are fetched on demand, costly filters refused', async () => {
  const { forge } = await forgeWith('filter');
  const dir = await workingRepo(work, home, 'filter', { 'data.txt': 'first version\n' });
  writeFileSync(join(dir, 'data.txt'), 'second version\n');
  await mustGit(['commit', '-q', '-am', 'second'], dir);
  await mustGit(['push', '-q', remote(forge, alice, 'alice', 'filter'), 'main'], dir);

  const target = join(work, 'filter-clone');
  const clone = await runGit(['clone', '--filter=blob:none', remote(forge, alice, 'alice', 'filter'), target], work, home);
  console.log(`partial clone: exit ${clone.code}, git says: ${JSON.stringify(clone.stderr.trim())}`);
  assert.equal(clone.code, 0, clone.stderr);
  assert.doesNotMatch(clone.stderr, /filtering not recognized/);
  const missing = (await mustGit(['rev-list', '--objects', '--all', '--missing=print'], target)).split('\n').filter((line) => line.startsWith('?'));
  assert.equal(missing.length, 1, 'the old version of data.txt was not downloaded');
  // Asking for it fetches it lazily (a want of a blob id: allowAnySHA1InWant).
  assert.equal(await mustGit(['show', 'HEAD~1:data.txt'], target), 'first version\n');
  assert.equal(existsSync(join(target, 'data.txt')), true);
  assert.ok(readdirSync(join(target, '.git', 'objects', 'pack')).some((name) => name.endsWith('.promisor')));

  // The filters of the big forges only: tree:0 and blob:limit, never the costly sparse:oid.
  await mustGit(['clone', '-q', '--filter=tree:0', remote(forge, alice, 'alice', 'filter'), join(work, 'filter-tree')], work);
  await mustGit(['clone', '-q', '--filter=blob:limit=1k', remote(forge, alice, 'alice', 'filter'), join(work, 'filter-limit')], work);
  const sparse = await runGit(['clone', '--filter=sparse:oid=main:data.txt', remote(forge, alice, 'alice', 'filter'), join(work, 'filter-sparse')], work, home);
  assert.notEqual(sparse.code, 0);
  assert.match(sparse.stderr, /filter 'sparse:oid' not supported/);
});
