/**
 * The parts of checks that need no lab: path resolution, file types from `stat -c %f`, remote
 * URLs, the lab schema of checks, and the wording of results in both languages (lab's own
 * `expect`/`hint` first, generic strings else; a failure is one sentence, then the hint).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translator } from '../../i18n/index.ts';
import { checkDefinition, labDefinition, type CheckDefinition } from '../../server/labs/schema.ts';
import { describeResult, fileExpected, nameAndFolder, repositoryUrl, resolveLabPath, shellExpected, typeFromMode } from '../../server/checks/index.ts';

const fr = { t: translator('fr'), language: 'fr' as const };
const en = { t: translator('en'), language: 'en' as const };
const check = (value: unknown): CheckDefinition => checkDefinition.parse(value);

test('~ is the lab user home; absolute paths stay as they are', () => {
  assert.equal(resolveLabPath('~'), '/home/onyxia');
  assert.equal(resolveLabPath('~/work/mon-dossier'), '/home/onyxia/work/mon-dossier');
  assert.equal(resolveLabPath('/tmp/x'), '/tmp/x');
  assert.equal(resolveLabPath('~other/x'), '~other/x', 'only ~ and ~/ expand');
});

test('file types come from the raw mode, whatever the lab locale', () => {
  assert.deepEqual(typeFromMode('41ed\n'), { kind: 'dir' });
  assert.deepEqual(typeFromMode('81a4'), { kind: 'file' });
  assert.deepEqual(typeFromMode('a1ff'), { kind: 'other', type: 'symlink' });
  assert.deepEqual(typeFromMode('11a4'), { kind: 'other', type: 'fifo' });
  assert.deepEqual(typeFromMode('21b6'), { kind: 'other', type: 'device' });
  assert.equal(typeFromMode('répertoire').kind, 'error');
});

test('expected: the lab’s own wording first, generic wording otherwise', () => {
  const withExpect = check({ kind: 'file', path: '~/work/d', type: 'dir', expect: { fr: 'un dossier d', en: 'a folder d' } });
  assert.equal(withExpect.kind === 'file' && fileExpected(withExpect, fr), 'un dossier d');
  assert.equal(withExpect.kind === 'file' && fileExpected(withExpect, en), 'a folder d');
  const bare = check({ kind: 'file', path: '~/work/d', type: 'dir' });
  assert.equal(bare.kind === 'file' && fileExpected(bare, fr), 'un dossier ~/work/d');
  const absent = check({ kind: 'file', path: '~/x', absent: true });
  assert.equal(absent.kind === 'file' && fileExpected(absent, en), 'nothing left at ~/x');
  const contains = check({ kind: 'file', path: '~/x', contains: '^a' });
  assert.equal(contains.kind === 'file' && fileExpected(contains, en), 'a file ~/x whose content matches ^a');
  const shell = check({ kind: 'shell', run: 'true' });
  assert.equal(shell.kind === 'shell' && shellExpected(shell, fr), 'la commande réussit');
});

test('results: a failure is the sentence of what was found, then the hint; a success says done', () => {
  const definition = check({ kind: 'file', path: '~/work/d', type: 'dir', hint: { fr: 'Tapez mkdir d', en: 'Type mkdir d' } });
  const found = translator('fr')('checks.file.missingDir', nameAndFolder('~/work/d'));
  assert.equal(found, 'Pas encore de dossier d dans ~/work.');
  const failed = describeResult('made-dir', definition, { ok: false, expected: 'un dossier ~/work/d', found }, fr);
  assert.deepEqual(failed, {
    check: 'made-dir',
    ok: false,
    expected: 'un dossier ~/work/d',
    found,
    hint: 'Tapez mkdir d',
    message: 'Pas encore de dossier d dans ~/work. Astuce : Tapez mkdir d',
  });
  const passed = describeResult('made-dir', definition, { ok: true, expected: 'a folder ~/work/d', found: '~/work/d is there.' }, en);
  assert.deepEqual(passed, { check: 'made-dir', ok: true, expected: 'a folder ~/work/d', found: '~/work/d is there.', message: 'Done' });
  const noHint = describeResult('x', check({ kind: 'shell', run: 'false' }), { ok: false, expected: 'e', found: 'The check’s command failed (status 1).' }, en);
  assert.equal(noHint.hint, undefined);
  assert.equal(noHint.message, 'The check’s command failed (status 1).');
});

test('sentences name the last part of a path and the folder it is in', () => {
  assert.deepEqual(nameAndFolder('~/work/mon-dossier/notes.txt'), { path: '~/work/mon-dossier/notes.txt', name: 'notes.txt', dir: '~/work/mon-dossier' });
  assert.deepEqual(nameAndFolder('~/work/d/'), { path: '~/work/d', name: 'd', dir: '~/work' });
  assert.deepEqual(nameAndFolder('/x'), { path: '/x', name: 'x', dir: '/' });
  assert.equal(translator('en')('checks.file.missingDir', nameAndFolder('~/work/my-folder')), 'No folder my-folder in ~/work yet.');
  assert.equal(translator('fr')('checks.file.stillThere', nameAndFolder('~/work/mon-fichier.txt')), 'mon-fichier.txt est toujours dans ~/work.');
});

test('a remote names a repository whatever its credentials, trailing slash or .git', () => {
  const forge = repositoryUrl('http://127.0.0.1:4321/git/uabc/tp-datalab.git');
  assert.equal(forge, 'http://127.0.0.1:4321/git/uabc/tp-datalab');
  assert.equal(repositoryUrl('http://uabc:atl_secret@127.0.0.1:4321/git/uabc/tp-datalab'), forge);
  assert.equal(repositoryUrl('http://127.0.0.1:4321/git/uabc/tp-datalab/'), forge);
  assert.notEqual(repositoryUrl('http://127.0.0.1:4321/git/uother/tp-datalab.git'), forge, "another learner's repository");
  assert.notEqual(repositoryUrl('http://127.0.0.1:4321/git/uabc/other.git'), forge, 'another repository');
  assert.equal(repositoryUrl('/home/onyxia/work/tp-datalab'), undefined, 'a local path is no forge URL');
  assert.equal(repositoryUrl('file:///srv/x.git'), undefined);
});

test('lab schema: per-language paths, preconditions naming another check, env checks that compare something', () => {
  const perLanguage = check({ kind: 'file', path: { fr: '~/work/mon-dossier', en: '~/work/my-folder' }, type: 'dir' });
  assert.equal(perLanguage.kind === 'file' && fileExpected(perLanguage, en), 'a folder ~/work/my-folder');
  assert.equal(perLanguage.kind === 'file' && fileExpected(perLanguage, fr), 'un dossier ~/work/mon-dossier');
  assert.throws(() => check({ kind: 'file', path: { fr: '~/x' } }), 'both languages or one string');
  assert.throws(() => check({ kind: 'file', path: { fr: 'relative', en: '~/x' } }), 'each language is a lab path');
  assert.throws(() => check({ kind: 'env' }), 'an env check compares account variables or a secret');
  assert.throws(() => check({ kind: 'env', account: ['HOME'] }), 'only variables the account provides');
  assert.throws(() => check({ kind: 'file', path: '~/x', sameAsShared: 'private/x' }), 'shared files live under diffusion/');
  const lab = (checks: Record<string, unknown>) => labDefinition.safeParse({ id: 'x', title: { fr: 'x', en: 'x' }, checks });
  assert.equal(lab({ a: { kind: 'file', path: '~/a' }, b: { kind: 'file', path: '~/a', absent: true, requires: { check: 'a', instance: 'new' } } }).success, true);
  assert.equal(lab({ b: { kind: 'file', path: '~/a', requires: { check: 'a', instance: 'new' } } }).success, false, 'an unknown check');
  assert.equal(lab({ b: { kind: 'file', path: '~/a', requires: { check: 'b', instance: 'same' } } }).success, false, 'itself');
  assert.equal(lab({ a: { kind: 'file', path: '~/a' }, b: { kind: 'file', path: '~/a', requires: { check: 'a', instance: 'later' } } }).success, false);
});
