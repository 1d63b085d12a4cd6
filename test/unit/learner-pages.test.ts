/**
 * The pure parts of the learner pages: the learner-level check in Markdown, the nothing-running
 * verdict and its time left, byte and date formats per language, CSV reading, README choice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unified } from 'unified';
import remarkParse from 'remark-parse';
import remarkGfm from 'remark-gfm';
import remarkDirective from 'remark-directive';
import remarkRehype from 'remark-rehype';
import rehypeStringify from 'rehype-stringify';
import { VFile } from 'vfile';
import { atelierRemark } from '../../site/markdown/index.ts';
import { nothingRunningVerdict, timeLeft } from '../../server/http/my-labs.ts';
import { formatBytes, formatDate } from '../../i18n/format.ts';
import { parseCsv, previewKind } from '../../site/client/file-preview.ts';
import { findReadme } from '../../server/forge/readme.ts';
import type { Session } from '../../server/labs/sessions.ts';

async function render(markdown: string): Promise<string> {
  const file = new VFile({ value: markdown, path: '/project/content/fr/tp/cleanup.mdx' });
  const result = await unified().use(remarkParse).use(remarkGfm).use(remarkDirective).use(atelierRemark, { labs: new Map() }).use(remarkRehype).use(rehypeStringify).process(file);
  return String(result);
}

test(':check[nothing-running] is a check of the learner: accepted without a launch block, marked data-scope="learner"', async () => {
  const html = await render('- [ ] Plus rien ne tourne :check[nothing-running]\n');
  assert.match(html, /<li[^>]* data-step="nothing-running" data-check="nothing-running">/);
  assert.match(html, /<atelier-check data-check="nothing-running" data-scope="learner" class="atelier-check"><button type="button" class="atelier-check__button">Vérifier<\/button>/);
  await assert.rejects(render('- [ ] Autre :check[made-dir]\n'), /needs a :::launch block/, 'a lab check still needs its lab');
});

test('nothing-running: a sentence per language naming each service and its time left', () => {
  const now = Date.parse('2026-12-01T10:00:00Z');
  const session = (fr: string, en: string, leftMs: number) => ({ lab: { title: { fr, en } }, expiresAt: now + leftMs }) as unknown as Session;
  const labs = [session('Découverte du Datalab', 'Datalab discovery', 72 * 60_000 + 30_000), session('Premiers pas', 'First steps', 30_000)];
  assert.deepEqual(nothingRunningVerdict(labs, 'en', now), {
    ok: false,
    message: '2 services are still running: Datalab discovery (1 h 12 min left) and First steps (less than a minute left). Delete them in My services.',
  });
  assert.equal(
    nothingRunningVerdict(labs, 'fr', now).message,
    "2 services tournent encore : Découverte du Datalab (encore 1 h 12 min) et Premiers pas (encore moins d'une minute). Supprimez-les dans Mes services.",
  );
  assert.equal(nothingRunningVerdict([labs[0]!], 'fr', now).message, '1 service tourne encore : Découverte du Datalab (encore 1 h 12 min). Supprimez-le dans Mes services.');
  assert.equal(nothingRunningVerdict([], 'fr', now).ok, true);
  assert.equal(timeLeft(2 * 3600_000, 'fr'), '2 h');
  assert.equal(timeLeft(-5, 'en'), 'less than a minute');
});

test('sizes and dates in the page language: 512 Mio, 1,7 Kio; 512 MiB, 1.7 KiB', () => {
  assert.equal(formatBytes(512 * 1024 ** 2, 'fr'), '512 Mio');
  assert.equal(formatBytes(1.7 * 1024, 'fr'), '1,7 Kio');
  assert.equal(formatBytes(118, 'fr'), '118 o');
  assert.equal(formatBytes(512 * 1024 ** 2, 'en'), '512 MiB');
  assert.equal(formatBytes(1.7 * 1024, 'en'), '1.7 KiB');
  const date = new Date(2026, 11, 1, 11, 55).getTime();
  assert.equal(formatDate(date, 'fr'), '1 déc. 2026, 11:55');
  assert.match(formatDate(date, 'en'), /^Dec 1, 2026, 11:55\sAM$/);
});

test('CSV previews: quotes, doubled quotes, CRLF, the delimiter French files use, a row cap', () => {
  assert.deepEqual(parseCsv('a,b\r\n"1,5","dit ""oui"""\r\n3,4\r\n', 10), [['a', 'b'], ['1,5', 'dit "oui"'], ['3', '4']]);
  assert.deepEqual(parseCsv('code;nom\n01001;L\'Abergement\n', 10), [['code', 'nom'], ['01001', "L'Abergement"]]);
  assert.deepEqual(parseCsv('a\tb\n1\t2', 10), [['a', 'b'], ['1', '2']]);
  assert.equal(parseCsv('x\n'.repeat(1000), 21).length, 21);
  assert.deepEqual(parseCsv('"<script>alert(1)</script>",b\n', 2), [['<script>alert(1)</script>', 'b']], 'kept as text, never markup');
});

test('what a preview is and which README a folder shows', () => {
  assert.equal(previewKind('Initiation/communes.CSV'), 'csv');
  assert.equal(previewKind('resultats.parquet'), 'parquet');
  assert.equal(previewKind('photo.jpeg'), 'image');
  assert.equal(previewKind('page.html'), undefined, 'never rendered');
  assert.equal(previewKind('logo.svg'), undefined, 'never rendered');
  assert.equal(findReadme(['main.py', 'readme.txt', 'README.md']), 'README.md');
  assert.equal(findReadme(['README']), 'README');
  assert.equal(findReadme(['notes.md']), undefined);
});
