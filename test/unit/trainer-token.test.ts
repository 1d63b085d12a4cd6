/** The trainers' token: from ATELIER_TRAINER_TOKEN(_FILE), or made once in the data directory (0600). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.ts';
import { loadTrainerToken } from '../../server/http/trainer-auth.ts';

test('no setting: a token is made in keys/ (mode 0600) on first start, and the same one read after', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-trainer-'));
  try {
    const first = loadTrainerToken(undefined, join(dir, 'keys'));
    assert.equal(first.file, join(dir, 'keys', 'trainer-token'));
    assert.ok(first.token.length >= 32);
    assert.equal(statSync(first.file!).mode & 0o777, 0o600);
    assert.deepEqual(loadTrainerToken(undefined, join(dir, 'keys')), first);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file or a value; a short file refused; the variable is never quoted back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-trainer-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, 'a-long-enough-trainer-token\n');
    const config = loadConfig({ ATELIER_TRAINER_TOKEN_FILE: file });
    assert.deepEqual(config.trainerToken, { file });
    assert.equal(loadTrainerToken(config.trainerToken, dir).token, 'a-long-enough-trainer-token');
    assert.deepEqual(loadConfig({ ATELIER_TRAINER_TOKEN: 'another-long-token-value' }).trainerToken, { value: 'another-long-token-value' });
    assert.equal(loadConfig({}).trainerToken, undefined);
    writeFileSync(file, 'short\n');
    assert.throws(() => loadTrainerToken({ file }, dir), /shorter than 16/);
    assert.equal(readFileSync(file, 'utf8'), 'short\n', 'a configured file is never rewritten');
    assert.throws(
      () => loadConfig({ ATELIER_TRAINER_TOKEN: 'tiny-secret' }),
      (error: Error) => /ATELIER_TRAINER_TOKEN/.test(error.message) && !error.message.includes('tiny-secret'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
