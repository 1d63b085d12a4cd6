import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { lintContent, stepIds } from '../../server/cli/lint-content.ts';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'atelier-content-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('step ids are read from checks and explicit ids', () => {
  assert.deepEqual(stepIds('- [ ] a :step{#show-dir}\n- [ ] b :check[made-dir]\n'), ['show-dir', 'made-dir']);
});

test('a page missing in one language is reported', () => {
  const root = tree({ 'fr/a.mdx': 'x', 'en/a.mdx': 'x', 'fr/tp/b.mdx': 'y' });
  assert.deepEqual(lintContent(root), ['en/tp/b.mdx: missing translation of fr/tp/b.mdx']);
});

test('different step ids between languages are reported, order aside', () => {
  const fr = '- [ ] a :step{#one}\n- [ ] b :check[two]\n';
  assert.deepEqual(lintContent(tree({ 'fr/a.mdx': fr, 'en/a.mdx': '- [ ] b :check[two]\n- [ ] a :step{#one}\n' })), []);
  const [problem] = lintContent(tree({ 'fr/a.mdx': fr, 'en/a.mdx': '- [ ] a :step{#uno}\n- [ ] b :check[two]\n' }));
  assert.match(problem!, /^a\.mdx: step ids differ between fr \(one, two\) and en \(two, uno\)$/);
});

test("the project's content passes the linter", () => {
  assert.deepEqual(lintContent(join(import.meta.dirname, '..', '..', 'content')), []);
});
