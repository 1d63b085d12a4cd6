/**
 * The notebook check without a lab: its schema, the answer line the server accepts from the scan,
 * and the sentence a failure says in each language, for each thing the scan can find.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translator } from '../../i18n/index.ts';
import { checkDefinition, type NotebookCheck } from '../../server/labs/schema.ts';
import { describeScan, notebookExpected, parseScan } from '../../server/checks/index.ts';
import type { ScanAnswer } from '../../server/checks/notebook.ts';

const fr = { t: translator('fr'), language: 'fr' as const };
const en = { t: translator('en'), language: 'en' as const };
const workspace = '/home/onyxia/work';

function notebook(value: object): NotebookCheck {
  const parsed = checkDefinition.parse({ kind: 'notebook', ...value });
  assert.equal(parsed.kind, 'notebook');
  return parsed as NotebookCheck;
}

const readsCsv = notebook({ source: 'read_csv\\(\\s*["\']s3://', cell: { fr: 'lit un CSV depuis s3://', en: 'reads a CSV from s3://' } });
const atPath = notebook({ path: { fr: '~/work/lecture.ipynb', en: '~/work/reading.ipynb' }, source: 'x', output: '^\\d+$' });

/** A scan that found notebooks and nothing matching; `extra` says what else it found. */
function scan(extra: Partial<Extract<ScanAnswer, { notebooks: number }>> = {}): ScanAnswer {
  return { notebooks: 1, read: 1, executed: 0, names: ['S3.ipynb'], tooLarge: [], unreadable: [], matched: null, near: null, partial: false, busiest: null, ...extra };
}

test('schema: a source pattern is required, path is a .ipynb (one or per language), unknown fields are refused', () => {
  assert.equal(readsCsv.path, undefined);
  assert.deepEqual(atPath.path, { fr: '~/work/lecture.ipynb', en: '~/work/reading.ipynb' });
  assert.equal(checkDefinition.safeParse({ kind: 'notebook' }).success, false, 'no source');
  assert.equal(checkDefinition.safeParse({ kind: 'notebook', source: '' }).success, false, 'empty source');
  assert.equal(checkDefinition.safeParse({ kind: 'notebook', source: '(' }).success, false, 'not a regular expression');
  assert.equal(checkDefinition.safeParse({ kind: 'notebook', source: 'x', output: '[' }).success, false, 'output not a regular expression');
  assert.equal(checkDefinition.safeParse({ kind: 'notebook', source: 'x', path: '~/work/notes.txt' }).success, false, 'not a notebook');
  assert.equal(checkDefinition.safeParse({ kind: 'notebook', source: 'x', path: 'work/a.ipynb' }).success, false, 'relative path');
  assert.equal(checkDefinition.safeParse({ kind: 'notebook', source: 'x', contains: 'y' }).success, false, 'unknown field');
  assert.equal(checkDefinition.safeParse({ kind: 'notebook', source: 'x'.repeat(1001) }).success, false, 'pattern too long');
});

test('expected: the lab’s own wording, else one naming the path or the workspace', () => {
  assert.equal(notebookExpected(atPath, en), 'an executed cell of ~/work/reading.ipynb doing what the step asks');
  assert.equal(notebookExpected(atPath, fr), "une cellule exécutée de ~/work/lecture.ipynb qui fait ce que demande l'étape");
  assert.equal(notebookExpected(notebook({ source: 'x', expect: { fr: 'une lecture', en: 'a read' } }), fr), 'une lecture');
});

test('sentences: no notebook, not run, no matching cell, with the count and the cell’s own words', () => {
  assert.equal(describeScan(scan({ notebooks: 0, read: 0, names: [] }), readsCsv, en, workspace), 'No notebook (.ipynb) in ~/work yet.');
  assert.equal(describeScan(scan({ notebooks: 0, read: 0, names: [] }), atPath, fr, workspace), 'Pas encore de notebook lecture.ipynb dans ~/work.');
  assert.equal(describeScan(scan(), readsCsv, en, workspace), 'S3.ipynb has no executed cell yet: run its cells, then save it (Ctrl+S).');
  assert.equal(describeScan(scan({ notebooks: 2, read: 2 }), readsCsv, fr, workspace), "Aucun de vos 2 notebooks n'a encore de cellule exécutée : exécutez les cellules, puis enregistrez (Ctrl+S).");
  assert.equal(describeScan(scan({ executed: 3, busiest: 'S3.ipynb' }), readsCsv, en, workspace), 'S3.ipynb has 3 executed cells, none of which reads a CSV from s3://.');
  assert.equal(describeScan(scan({ executed: 3, busiest: 'S3.ipynb' }), readsCsv, fr, workspace), 'S3.ipynb a 3 cellules exécutées, mais aucune ne lit un CSV depuis s3://.');
  assert.equal(describeScan(scan({ executed: 1, busiest: 'S3.ipynb' }), readsCsv, fr, workspace), "S3.ipynb a 1 cellule exécutée, et ce n'est pas une cellule qui lit un CSV depuis s3://.");
  assert.equal(
    describeScan(scan({ notebooks: 2, read: 2, executed: 5 }), notebook({ source: 'x' }), en, workspace),
    'Your 2 notebooks have 5 executed cells, none of which does what the step asks.',
  );
});

test('sentences: the matching cell failed, or showed something else; a notebook too large or not JSON', () => {
  const failed = scan({ executed: 2, near: { name: 'S3.ipynb', error: 'FileNotFoundError: atelier/diffusion/x.csv' } });
  assert.equal(describeScan(failed, readsCsv, en, workspace), 'In S3.ipynb, the cell for this step ran but ended with an error (FileNotFoundError: atelier/diffusion/x.csv).');
  assert.equal(describeScan(scan({ executed: 2, near: { name: 'S3.ipynb', error: null } }), readsCsv, fr, workspace), "Dans S3.ipynb, la cellule de cette étape s'est exécutée, mais sa sortie n'est pas celle qu'attend l'étape.");
  assert.equal(describeScan(scan({ read: 0, tooLarge: ['big.ipynb'] }), readsCsv, en, workspace), 'big.ipynb was not read: notebooks over 8 MiB are not checked.');
  assert.equal(describeScan(scan({ read: 0, unreadable: ['bad.ipynb'] }), readsCsv, fr, workspace), "bad.ipynb ne se lit pas comme un notebook : est-ce bien un .ipynb enregistré par Jupyter ?");
  assert.equal(describeScan(scan({ notebooks: 1, read: 0, outside: true }), atPath, en, workspace), '~/work/reading.ipynb leads outside your home folder.');
  assert.equal(describeScan({ error: 'pattern: bad escape' }, readsCsv, en, workspace), 'The check could not run (pattern: bad escape).');
  assert.equal(describeScan(scan({ matched: 'S3.ipynb', executed: 1 }), readsCsv, en, workspace), 'S3.ipynb has an executed cell that does it.');
});

test('the scan’s answer: only its last line, bounded and of the expected shape, is taken', () => {
  const line = JSON.stringify(scan({ executed: 1 }));
  assert.deepEqual(parseScan(`a warning\n${line}\n`), scan({ executed: 1 }));
  assert.equal(parseScan(''), undefined);
  assert.equal(parseScan('not json'), undefined);
  assert.equal(parseScan(JSON.stringify({ ...scan(), names: ['a', 'b', 'c', 'd'] })), undefined, 'more names than the scan lists');
  assert.equal(parseScan(JSON.stringify({ ...scan(), extra: 1 })), undefined, 'unknown field');
  assert.equal(parseScan(JSON.stringify({ ...scan(), executed: -1 })), undefined);
  assert.deepEqual(parseScan(`${'x'.repeat(1_000_000)}\n${line}`), scan({ executed: 1 }), 'only the tail is read');
  assert.equal(parseScan(`${line}${' '.repeat(10_000)}x`), undefined, 'a line longer than the bound is cut, so not JSON');
});
