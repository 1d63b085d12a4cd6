import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitConfig } from '../../server/learners/launch.ts';

function readWithGit(text: string, key: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'atelier-gitconfig-')), 'config');
  writeFileSync(file, text);
  return execFileSync('git', ['config', '-f', file, '--get', key], { encoding: 'utf8' }).replace(/\n$/, '');
}

test('the lab .gitconfig gives git the learner identity, whatever characters it holds', () => {
  const name = 'Ada "the first" Lovelace\\ \n[core]\n\tsshCommand = evil';
  const text = gitConfig({ GIT_USER_NAME: name, GIT_USER_MAIL: 'ada@example.org' });
  assert.equal(readWithGit(text, 'user.name'), name);
  assert.equal(readWithGit(text, 'user.email'), 'ada@example.org');
  assert.equal(readWithGit(text, 'credential.helper'), 'store');
  assert.throws(() => readWithGit(text, 'core.sshCommand'), 'no section can be injected');
});

test('without git settings there is no [user] section', () => {
  assert.doesNotMatch(gitConfig({}), /\[user\]/);
});
