import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sealer } from '../../server/learners/sealed.ts';
import { SqliteLearnerStore } from '../../server/learners/sqlite-store.ts';

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
