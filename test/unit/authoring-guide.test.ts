/**
 * The authoring guide's examples are what they claim: its lab.yaml fragments are labs the server
 * accepts, and its page fragments build with the site's Markdown pipeline and the project's labs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Code } from 'mdast';
import rehypeStringify from 'rehype-stringify';
import remarkDirective from 'remark-directive';
import remarkGfm from 'remark-gfm';
import remarkMdx from 'remark-mdx';
import remarkParse from 'remark-parse';
import remarkRehype from 'remark-rehype';
import { unified } from 'unified';
import { visit } from 'unist-util-visit';
import { VFile } from 'vfile';
import { parsePage } from '../../server/cli/lint-content.ts';
import { parseLab } from '../../server/labs/registry.ts';
import { atelierRemark } from '../../site/markdown/index.ts';

const contentDir = join(import.meta.dirname, '..', '..', 'content');

function examples(language: string, lang: string): { page: string; line: number; value: string }[] {
  const found: { page: string; line: number; value: string }[] = [];
  for (const page of readdirSync(join(contentDir, language, 'authoring')).filter((name) => name.endsWith('.mdx'))) {
    visit(parsePage(readFileSync(join(contentDir, language, 'authoring', page), 'utf8'), true), 'code', (code: Code) => {
      if (code.lang === lang) found.push({ page: `${language}/authoring/${page}`, line: code.position!.start.line, value: code.value });
    });
  }
  return found;
}

for (const language of ['fr', 'en']) {
  test(`${language}: every lab.yaml example of the guide is a lab the server accepts`, () => {
    const labs = examples(language, 'yaml').filter((example) => !example.value.startsWith('---'));
    assert.ok(labs.length >= 10, 'the guide has its examples');
    for (const { page, line, value } of labs) {
      const source = /^id:/m.test(value) ? value : `id: demo\ntitle: { fr: Démo, en: Demo }\n${value}`;
      assert.doesNotThrow(() => parseLab(source, `${page}:${line}`), `${page}:${line}`);
    }
  });

  test(`${language}: every page example of the guide builds`, async () => {
    const pages = examples(language, 'mdx');
    assert.ok(pages.length >= 6, 'the guide has its examples');
    for (const { page, line, value } of pages) {
      // A fragment showing steps or a run block stands on a page that launches a lab.
      const source = value.includes(':::launch') ? value : `:::launch{lab="terminal-basics"}\nGo.\n:::\n\n${value}`;
      const file = new VFile({ value: source, path: join(contentDir, language, 'authoring', 'example.mdx') });
      const html = String(await unified().use(remarkParse).use(remarkMdx).use(remarkGfm).use(remarkDirective).use(atelierRemark).use(remarkRehype).use(rehypeStringify).process(file));
      assert.match(html, /<atelier-launch/, `${page}:${line}`);
    }
  });
}
