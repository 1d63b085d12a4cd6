/**
 * The server's keys (server/learners/keys.ts): from ATELIER_SECRET_KEY_FILE, every key derived
 * by HKDF with its own label, the same on every replica and nothing written to disk; without
 * it, random files in keys/ kept across restarts; a missing, unreadable or short file refused
 * with a message naming the variable, never the file's content.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { minSecretBytes, SecretKeyFileError, serverKeys } from '../../server/learners/keys.ts';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'atelier-keys-'));
}

test('from a secret file: 32-byte keys, distinct by purpose, the same from the same secret, a trailing newline ignored, nothing on disk', () => {
  const dir = scratch();
  try {
    const secret = 'k'.repeat(20) + 'Zs9+/q0'.repeat(4);
    writeFileSync(join(dir, 'one'), secret);
    writeFileSync(join(dir, 'two'), `${secret}\n`);
    writeFileSync(join(dir, 'other'), `${secret.slice(1)}x`);
    const keysDir = join(dir, 'keys');
    const one = serverKeys({ keysDir, secretKeyFile: join(dir, 'one') });
    assert.equal(one.cookie.length, 32);
    assert.equal(one.sealing.length, 32);
    assert.notDeepEqual(one.cookie, one.sealing);
    assert.deepEqual(serverKeys({ keysDir, secretKeyFile: join(dir, 'two') }), one);
    const other = serverKeys({ keysDir, secretKeyFile: join(dir, 'other') });
    assert.notDeepEqual(other.cookie, one.cookie);
    assert.notDeepEqual(other.sealing, one.sealing);
    for (const key of [one.cookie, one.sealing]) assert.equal(key.includes(Buffer.from(secret.slice(0, 8))), false);
    assert.equal(existsSync(keysDir), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without a secret file: random key files in keys/, kept across restarts', () => {
  const dir = scratch();
  try {
    const first = serverKeys({ keysDir: dir });
    assert.deepEqual(readdirSync(dir).sort(), ['cookie.key', 'sealing.key']);
    assert.deepEqual(serverKeys({ keysDir: dir }), first);
    assert.notDeepEqual(first.cookie, first.sealing);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing, unreadable or short secret file is refused, naming the variable and never the content', () => {
  const dir = scratch();
  try {
    const short = 'tiny-but-secret-Value';
    writeFileSync(join(dir, 'short'), `${short}\n`);
    writeFileSync(join(dir, 'empty'), '\n');
    writeFileSync(join(dir, 'exact'), 'x'.repeat(minSecretBytes));
    const cases: [string, RegExp][] = [
      [join(dir, 'absent'), /ATELIER_SECRET_KEY_FILE cannot be read \(ENOENT\)/],
      [dir, /ATELIER_SECRET_KEY_FILE cannot be read \(EISDIR\)/],
      [join(dir, 'short'), /ATELIER_SECRET_KEY_FILE holds 21 bytes: at least 32/],
      [join(dir, 'empty'), /holds 0 bytes/],
    ];
    for (const [path, message] of cases) {
      assert.throws(
        () => serverKeys({ keysDir: join(dir, 'keys'), secretKeyFile: path }),
        (error: Error) => error instanceof SecretKeyFileError && error instanceof ConfigError && message.test(error.message) && !error.message.includes(short),
        path,
      );
    }
    assert.equal(serverKeys({ keysDir: join(dir, 'keys'), secretKeyFile: join(dir, 'exact') }).cookie.length, 32);
    if (process.getuid?.() !== 0) {
      chmodSync(join(dir, 'exact'), 0);
      assert.throws(() => serverKeys({ keysDir: dir, secretKeyFile: join(dir, 'exact') }), /cannot be read \(EACCES\)/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ATELIER_SECRET_KEY_FILE is read by the configuration as an absolute path; unset, there is none', () => {
  assert.equal(loadConfig({ ATELIER_SECRET_KEY_FILE: 'keys/secret' }).secretKeyFile, join(process.cwd(), 'keys/secret'));
  assert.equal(loadConfig({}).secretKeyFile, undefined);
});
