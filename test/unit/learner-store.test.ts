import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sealer } from '../../server/learners/sealed.ts';
import { SqliteLearnerStore } from '../../server/learners/sqlite-store.ts';
import { startAnonymousPurge } from '../../server/learners/purge.ts';
import { DatabaseSync } from 'node:sqlite';

function open(dir: string, now = Date.now) {
  return new SqliteLearnerStore({ path: join(dir, 'learners.db'), sealer: Sealer.fromKeyFile(join(dir, 'secret.key')), now });
}

test('learner data survives closing and reopening the database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-store-'));
  let store = open(dir);
  const learner = store.create();
  store.setGit(learner.id, { name: 'Ada', email: 'ada@example.org' });
  const token = store.rotateGitToken(learner.id);
  store.putSecretGroup(learner.id, 'projet', { API_KEY: 'very-secret-value' });
  store.setProgress(learner.id, '/tp/terminal/', 'made-dir', true);
  const s3 = store.s3Credentials(learner.id);
  store.close();

  store = open(dir);
  assert.deepEqual(store.get(learner.id)?.git, { name: 'Ada', email: 'ada@example.org' });
  assert.equal(store.learnerByGitToken(token), learner.id);
  assert.equal(store.gitToken(learner.id), token);
  assert.deepEqual(store.secretGroup(learner.id, 'projet'), { API_KEY: 'very-secret-value' });
  assert.deepEqual(store.progress(learner.id, '/tp/terminal/'), ['made-dir']);
  assert.deepEqual(store.s3Credentials(learner.id), s3, 'unexpired credentials are reused');
  assert.equal(store.s3CredentialsByAccessKey(s3.accessKeyId)?.learnerId, learner.id);
  store.close();
});

test('secrets, tokens and S3 keys are not readable in the database file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-store-'));
  const store = open(dir);
  const learner = store.create();
  const token = store.rotateGitToken(learner.id);
  store.putSecretGroup(learner.id, 'projet', { API_KEY: 'very-secret-value' });
  const s3 = store.s3Credentials(learner.id);
  store.close();
  const files = readdirSync(dir).filter((file) => file.startsWith('learners.db'));
  const raw = files.map((file) => readFileSync(join(dir, file)).toString('latin1')).join('');
  assert.ok(raw.includes(learner.id), 'the check reads the right files');
  for (const secret of [token, 'very-secret-value', s3.secretAccessKey, s3.sessionToken]) assert.ok(!raw.includes(secret), secret);
});

test('a new git token revokes the previous one', () => {
  const store = open(mkdtempSync(join(tmpdir(), 'atelier-store-')));
  const learner = store.create();
  const first = store.rotateGitToken(learner.id);
  const second = store.rotateGitToken(learner.id);
  assert.notEqual(first, second);
  assert.equal(store.learnerByGitToken(first), undefined);
  assert.equal(store.learnerByGitToken(second), learner.id);
});

test('expired S3 credentials are replaced and no longer found', () => {
  let now = 1_000_000;
  const store = open(mkdtempSync(join(tmpdir(), 'atelier-store-')), () => now);
  const learner = store.create();
  const first = store.s3Credentials(learner.id);
  now = first.expiresAt + 1;
  const second = store.s3Credentials(learner.id);
  assert.notEqual(second.accessKeyId, first.accessKeyId);
  assert.equal(store.s3CredentialsByAccessKey(first.accessKeyId), undefined);
});

test('secret groups list names only and can be deleted', () => {
  const store = open(mkdtempSync(join(tmpdir(), 'atelier-store-')));
  const learner = store.create();
  const other = store.create();
  store.putSecretGroup(learner.id, 'b', { Z: '1', A: '2' });
  store.putSecretGroup(learner.id, 'a', { X: '3' });
  assert.deepEqual(store.secretGroups(learner.id).map(({ group, names }) => ({ group, names })), [
    { group: 'a', names: ['X'] },
    { group: 'b', names: ['A', 'Z'] },
  ]);
  assert.equal(store.secretGroup(other.id, 'a'), undefined, "another learner's groups are not theirs");
  assert.equal(store.deleteSecretGroup(learner.id, 'a'), true);
  assert.equal(store.deleteSecretGroup(learner.id, 'a'), false);
});

test('a learner is seen when created and when touched; the unseen are walked by last sighting, page by page', () => {
  let clock = 1_000_000;
  const store = open(mkdtempSync(join(tmpdir(), 'atelier-store-')), () => clock);
  const ids = Array.from({ length: 5 }, () => {
    clock += 1000;
    return store.create().id;
  });
  assert.equal(store.get(ids[0]!)?.lastSeenAt, 1_001_000);
  clock = 2_000_000;
  store.touch(ids[0]!);
  assert.equal(store.get(ids[0]!)?.lastSeenAt, 2_000_000);
  store.setProgress(ids[1]!, '/p/', 'step', true);
  store.setGit(ids[2]!, { name: 'Ada', email: '' });
  store.putSecretGroup(ids[3]!, 'g', { A: 'b' });

  const first = store.unseenLearners(1_500_000, undefined, 2);
  assert.deepEqual(first.map((learner) => [learner.id, learner.holdsData]), [[ids[1], true], [ids[2], true]], 'oldest first, the touched one is not unseen');
  const second = store.unseenLearners(1_500_000, first.at(-1), 2);
  assert.deepEqual(second.map((learner) => [learner.id, learner.holdsData]), [[ids[3], true], [ids[4], false]]);
  assert.deepEqual(store.unseenLearners(1_500_000, second.at(-1), 2), [], 'the walk ends');

  assert.equal(store.deleteIfIdle(ids[0]!, 1_500_000), false, 'seen since: kept');
  const s3 = store.s3Credentials(ids[4]!);
  const token = store.rotateGitToken(ids[4]!);
  assert.equal(store.deleteIfIdle(ids[4]!, 1_500_000), true);
  assert.equal(store.get(ids[4]!), undefined);
  assert.equal(store.s3CredentialsByAccessKey(s3.accessKeyId), undefined, 'credentials go with the learner');
  assert.equal(store.learnerByGitToken(token), undefined, 'and the git token');
  store.close();
});

test('a database of the previous schema is migrated: learners keep their data and are seen as of their creation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-store-'));
  const path = join(dir, 'learners.db');
  const old = new DatabaseSync(path);
  old.exec(`CREATE TABLE learners (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, git_name TEXT NOT NULL DEFAULT '', git_email TEXT NOT NULL DEFAULT '');
    CREATE TABLE git_tokens (learner_id TEXT PRIMARY KEY REFERENCES learners(id) ON DELETE CASCADE, token_hash TEXT NOT NULL UNIQUE, token_sealed TEXT NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE secret_groups (learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE, name TEXT NOT NULL, names TEXT NOT NULL, vars_sealed TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (learner_id, name));
    CREATE TABLE s3_credentials (access_key_id TEXT PRIMARY KEY, learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE, secret_sealed TEXT NOT NULL, session_token_hash TEXT NOT NULL, session_token_sealed TEXT NOT NULL, expires_at INTEGER NOT NULL);
    CREATE INDEX s3_credentials_by_learner ON s3_credentials(learner_id, expires_at);
    CREATE TABLE progress (learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE, page TEXT NOT NULL, step TEXT NOT NULL, done_at INTEGER NOT NULL, PRIMARY KEY (learner_id, page, step));
    INSERT INTO learners (id, created_at, git_name) VALUES ('uold00000001', 1234, 'Ada');
    PRAGMA user_version = 1;`);
  old.close();
  const store = open(dir);
  assert.deepEqual(store.get('uold00000001'), { id: 'uold00000001', createdAt: 1234, lastSeenAt: 1234, git: { name: 'Ada', email: '' } });
  store.close();
});

test('the purge deletes only unseen learners holding nothing anywhere and running no lab, a page per tick', async () => {
  let clock = 1_000_000;
  const store = open(mkdtempSync(join(tmpdir(), 'atelier-store-')), () => clock);
  const [empty, withProgress, withRepo, withLab, recent, another] = Array.from({ length: 6 }, () => store.create().id) as [string, string, string, string, string, string];
  store.setProgress(withProgress, '/p/', 'step', true);
  const removed: string[] = [];
  const looked: string[] = [];
  const purge = startAnonymousPurge({
    store,
    ttlMs: 3600_000,
    holdsData: async (id) => {
      looked.push(id);
      return id === withRepo;
    },
    inUse: (id) => id === withLab,
    remove: async (id) => void removed.push(id),
    log: (message, error) => assert.fail(`${message}: ${String(error)}`),
    pageSize: 4,
    intervalMs: 3600_000,
    now: () => clock,
  });
  try {
    assert.equal(await purge.tick(), 0, 'nobody is unseen for an hour yet');
    clock += 2 * 3600_000;
    store.touch(recent);
    const before = clock;
    // Five unseen learners (ids in random order) in pages of 4: the walk takes two ticks.
    const first = await purge.tick();
    assert.equal(first + (await purge.tick()), 2);
    assert.deepEqual(removed.sort(), [empty, another].sort());
    assert.equal(store.get(empty), undefined);
    for (const kept of [withProgress, withRepo, withLab, recent]) assert.ok(store.get(kept), kept);
    assert.ok(!looked.includes(withProgress), 'data in the store is enough: no directory is read');
    assert.ok(store.get(withRepo)!.lastSeenAt >= before, 'a learner found holding data is not looked at again before another TTL');
  } finally {
    purge.stop();
    store.close();
  }
});
