/**
 * The parts of checks that need no lab: path resolution, file types from `stat -c %f`, and the
 * wording of results in both languages (lab's own `expect`/`hint` first, generic strings else).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translator } from '../../i18n/index.ts';
import { checkDefinition, type CheckDefinition } from '../../server/labs/schema.ts';
import { describeResult, fileExpected, resolveLabPath, shellExpected, typeFromMode } from '../../server/checks/index.ts';

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

test('results: a failure says what was expected and found, with the hint; a success says done', () => {
  const definition = check({ kind: 'file', path: '~/work/d', type: 'dir', hint: { fr: 'Tapez mkdir d', en: 'Type mkdir d' } });
  const failed = describeResult('made-dir', definition, { ok: false, expected: 'un dossier ~/work/d', found: 'rien à cet emplacement' }, fr);
  assert.deepEqual(failed, {
    check: 'made-dir',
    ok: false,
    expected: 'un dossier ~/work/d',
    found: 'rien à cet emplacement',
    hint: 'Tapez mkdir d',
    message: 'Pas encore : attendu un dossier ~/work/d, trouvé rien à cet emplacement. Indice : Tapez mkdir d',
  });
  const passed = describeResult('made-dir', definition, { ok: true, expected: 'a folder ~/work/d', found: 'a folder' }, en);
  assert.deepEqual(passed, { check: 'made-dir', ok: true, expected: 'a folder ~/work/d', found: 'a folder', message: 'Done' });
  const noHint = describeResult('x', check({ kind: 'shell', run: 'false' }), { ok: false, expected: 'e', found: 'f' }, en);
  assert.equal(noHint.hint, undefined);
  assert.equal(noHint.message, 'Not yet: expected e, found f.');
});
