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
import { parseLab } from '../../server/labs/registry.ts';

const lab = parseLab(
  `id: demo
title: { fr: Démo, en: Demo }
checks:
  made-dir: { kind: file, path: ~/work/mon-dossier, type: dir }
`,
  'labs/demo/lab.yaml',
);
const labs = new Map([[lab.id, lab]]);

async function render(markdown: string, language: 'fr' | 'en' = 'fr'): Promise<string> {
  const file = new VFile({ value: markdown, path: `/project/content/${language}/tp/demo.mdx` });
  const result = await unified()
    .use(remarkParse)
    .use(remarkGfm)
    .use(remarkDirective)
    .use(atelierRemark, { labs })
    .use(remarkRehype)
    .use(rehypeStringify)
    .process(file);
  return String(result);
}

async function renderError(markdown: string): Promise<string> {
  try {
    await render(markdown);
  } catch (error) {
    return String((error as Error).message) + ' @' + String((error as { line?: number }).line);
  }
  assert.fail('expected the build to fail');
}

const page = `:::launch{lab="demo"}
Start it.
:::

- [ ] Show the folder \`pwd\` :step{#show-dir}
- [ ] Make it :check[made-dir]

\`\`\`bash run
mkdir mon-dossier
\`\`\`
`;

test('a launch block becomes a card (a named region) in the page language, with its intro kept', async () => {
  const fr = await render(page, 'fr');
  const en = await render(page, 'en');
  assert.match(fr, /<atelier-launch data-lab="demo"[^>]*role="region"[^>]*aria-label="Démo"/);
  assert.match(fr, /<p>Start it.<\/p>/);
  assert.match(fr, /data-action="launch">Lancer<\/button>/);
  // The running lab is in the dock: the card only offers to go there.
  assert.match(fr, /data-action="show" hidden>Aller au service<\/button>/);
  assert.doesNotMatch(fr, /data-action="delete"/);
  assert.match(en, /data-action="launch">Launch<\/button>/);
  assert.match(en, /aria-label="Demo"/);
});

test('task items get the same stable ids in French and English, whatever their wording', async () => {
  const fr = await render(page.replace('Show the folder', 'Affichez le dossier').replace('Make it', 'Créez-le'), 'fr');
  const en = await render(page, 'en');
  const ids = (html: string) => [...html.matchAll(/data-step="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(ids(fr), ['show-dir', 'made-dir']);
  assert.deepEqual(ids(en), ids(fr));
  assert.match(en, /<li class="task-list-item" data-step="made-dir" data-check="made-dir">/);
  assert.doesNotMatch(en, /:step/, 'the :step marker is consumed');
});

test("each step's checkbox is named by the step's words, not by its Check button", async () => {
  const html = await render(page, 'en');
  assert.match(html, /<li class="task-list-item" data-step="show-dir"><input type="checkbox" disabled aria-labelledby="step-label-show-dir"> <span id="step-label-show-dir" class="atelier-step__text">Show the folder <code>pwd<\/code><\/span><\/li>/);
  assert.match(html, /<span id="step-label-made-dir" class="atelier-step__text">Make it<\/span> <atelier-check /);
  assert.equal([...html.matchAll(/<input/g)].length, 2, 'one checkbox per step, none added by to-hast');
  // A loose list keeps the checkbox in the item's first paragraph, where the page's code finds it.
  const loose = await render(page.replace('\n- [ ] Make it', '\n\n- [ ] Make it'), 'en');
  assert.match(loose, /<li class="task-list-item" data-step="made-dir" data-check="made-dir">\n<p><input type="checkbox" disabled aria-labelledby="step-label-made-dir"> <span/);
});

test('ids do not depend on the position of the item', async () => {
  const reordered = page.replace(
    '- [ ] Show the folder `pwd` :step{#show-dir}\n- [ ] Make it :check[made-dir]',
    '- [ ] A new first step :step{#new-one}\n- [ ] Make it :check[made-dir]\n- [ ] Show the folder `pwd` :step{#show-dir}',
  );
  const html = await render(reordered, 'en');
  assert.deepEqual([...html.matchAll(/data-step="([^"]+)"/g)].map((m) => m[1]), ['new-one', 'made-dir', 'show-dir']);
});

test('a check becomes a localized button', async () => {
  assert.match(await render(page, 'fr'), /<atelier-check data-check="made-dir" class="atelier-check"><button type="button" class="atelier-check__button">Vérifier<\/button>/);
  assert.match(await render(page, 'en'), /class="atelier-check__button">Check<\/button>/);
});

test('a bash run block keeps its code and carries the command for the terminal', async () => {
  const html = await render(page, 'en');
  assert.match(html, /<atelier-run data-command="mkdir mon-dossier" class="atelier-run"><pre><code class="language-bash">mkdir mon-dossier\n<\/code><\/pre><button[^>]*>▶ Run in terminal<\/button>/);
  const plain = await render('```bash\nls\n```\n');
  assert.doesNotMatch(plain, /atelier-run/, 'only blocks marked run get a button');
});

test('build errors name the problem and the line', async () => {
  assert.match(await renderError(':::launch{lab="nope"}\nx\n:::\n'), /unknown lab "nope".*@1/);
  assert.match(await renderError(':::launch\nx\n:::\n'), /needs the lab to start/);
  assert.match(await renderError(':::launch{lab="demo"}\nx\n:::\n\n- [ ] a :check[nope]\n'), /unknown check "nope" for lab "demo".*@5/);
  assert.match(await renderError('- [ ] a :check[made-dir]\n'), /needs a :::launch block/);
  assert.match(await renderError('text\n\n- [ ] no id here\n'), /needs a stable id.*@3/);
  assert.match(await renderError('- [ ] a :step{#same}\n- [ ] b :step{#same}\n'), /used twice/);
  assert.match(await renderError('- [ ] a :step{#Bad_Id}\n'), /:step needs an id/);
  assert.match(await renderError('Just a paragraph :step{#x}\n'), /belongs at the end of a task item/);
});

test('plain lists are left alone', async () => {
  const html = await render('- one\n- two\n');
  assert.equal(html, '<ul>\n<li>one</li>\n<li>two</li>\n</ul>');
});
