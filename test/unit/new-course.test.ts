import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import rehypeStringify from 'rehype-stringify';
import remarkDirective from 'remark-directive';
import remarkGfm from 'remark-gfm';
import remarkMdx from 'remark-mdx';
import remarkParse from 'remark-parse';
import remarkRehype from 'remark-rehype';
import { unified } from 'unified';
import { VFile } from 'vfile';
import { newCourse, NewCourseError } from '../../server/cli/new-course.ts';
import { lintContent } from '../../server/cli/lint-content.ts';
import { loadLabs } from '../../server/labs/registry.ts';
import { atelierRemark } from '../../site/markdown/index.ts';

const projectRoot = join(import.meta.dirname, '..', '..');

/** A copy of the project's content and labs, so the new course is linted beside the real pages it links to. */
function project(): string {
  const root = mkdtempSync(join(tmpdir(), 'atelier-new-'));
  cpSync(join(projectRoot, 'content'), join(root, 'content'), { recursive: true });
  cpSync(join(projectRoot, 'labs'), join(root, 'labs'), { recursive: true });
  return root;
}

test('a new course is written in both languages with its lab, and lints clean', () => {
  const root = project();
  const files = newCourse(root, 'intro-python');
  assert.deepEqual(files, ['content/fr/intro-python/index.mdx', 'content/en/intro-python/index.mdx', 'labs/intro-python/lab.yaml']);
  assert.equal(readFileSync(join(root, 'labs/intro-python/lab.yaml'), 'utf8').split('\n')[0], '# yaml-language-server: $schema=../lab.schema.json');
  assert.deepEqual(lintContent(join(root, 'content'), { labsDir: join(root, 'labs') }), []);
});

test("the new course's pages compile with the site's Markdown pipeline: a launch card, a checked step and a ticked one", async () => {
  const root = project();
  newCourse(root, 'intro-python');
  const labs = loadLabs(join(root, 'labs'), root);
  assert.deepEqual(Object.keys(labs.get('intro-python')!.checks), ['made-folder']);
  for (const language of ['fr', 'en'] as const) {
    const path = join(root, 'content', language, 'intro-python', 'index.mdx');
    const source = readFileSync(path, 'utf8').replace(/^---\n[\s\S]*?\n---\n/, '');
    const html = String(
      await unified()
        .use(remarkParse)
        .use(remarkMdx)
        .use(remarkGfm)
        .use(remarkDirective)
        .use(atelierRemark, { labs })
        .use(remarkRehype)
        .use(rehypeStringify)
        .process(new VFile({ value: source, path })),
    );
    assert.match(html, /<atelier-launch[^>]*data-lab="intro-python"/);
    assert.match(html, /data-step="read-note"/);
    assert.match(html, /data-step="made-folder" data-check="made-folder"/);
    assert.match(html, /<atelier-run[^>]*data-command="mkdir -p ~\/work\/(premier-dossier|first-folder)"/);
  }
});

test('a bad name, a name the site uses and an existing course are refused, saying what to do', () => {
  const root = project();
  assert.throws(() => newCourse(root, 'Intro Python'), (error: Error) => error instanceof NewCourseError && /lower-case letters, digits and dashes/.test(error.message));
  assert.throws(() => newCourse(root, '../x'), NewCourseError);
  assert.throws(() => newCourse(root, 'account'), /taken by the site itself: choose another name/);
  assert.throws(() => newCourse(root, 'tools'), /taken by the site itself/);
  assert.throws(() => newCourse(root, 'datalab-tp'), /already exists \(content\/fr\/datalab-tp, content\/en\/datalab-tp\): choose another name/);
  assert.throws(() => newCourse(root, 'terminal-basics'), /already exists \(labs\/terminal-basics\)/);
  newCourse(root, 'intro-python');
  assert.throws(() => newCourse(root, 'intro-python'), /already exists/);
});
