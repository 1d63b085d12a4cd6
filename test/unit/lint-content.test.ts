import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { lintContent, pageUrl, siteRoutes, stepIds } from '../../server/cli/lint-content.ts';

const lab = `id: demo
title: { fr: Démo, en: Demo }
checks:
  made-dir: { kind: file, path: ~/work/x, type: dir }
`;

/** A project of its own: content/ and labs/demo, each test's files on top. */
function lint(files: Record<string, string>): string[] {
  const root = mkdtempSync(join(tmpdir(), 'atelier-content-'));
  for (const [path, text] of Object.entries({ 'labs/demo/lab.yaml': lab, ...files })) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return lintContent(join(root, 'content'), { labsDir: join(root, 'labs'), pagesDir: join(root, 'site', 'pages') });
}

/** The same page in both languages. */
function both(path: string, text: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [`content/fr/${path}`]: text, [`content/en/${path}`]: text, ...extra };
}

const front = '---\ntitle: Démo\n---\n';
const launch = ':::launch{lab="demo"}\nGo.\n:::\n\n';

test('step ids are read from checks and explicit ids, in MDX too', () => {
  assert.deepEqual(stepIds('- [ ] a :step{#show-dir}\n- [ ] b :check[made-dir]\n'), ['show-dir', 'made-dir']);
  assert.deepEqual(stepIds('import X from "x";\n\n<X />\n\n- [ ] a :step{#one}\n'), ['one']);
});

test('page addresses are those Starlight gives', () => {
  assert.equal(pageUrl('fr', 'tp/terminal.mdx'), '/fr/tp/terminal/');
  assert.equal(pageUrl('en', 'datalab-tp/index.mdx'), '/en/datalab-tp/');
  assert.equal(pageUrl('fr', 'index.mdx'), '/fr/');
});

test("the site's own pages are routes links may reach: those whose only parameter is the language, and the learner's pages", () => {
  const root = mkdtempSync(join(tmpdir(), 'atelier-pages-'));
  for (const path of ['[lang]/join.astro', '[lang]/trainer/index.astro', '[lang]/trainer/class.astro', '[lang]/[page].astro', '[lang]/repos/[repo].astro', 'robots.txt.ts']) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), '');
  }
  const routes = siteRoutes(root);
  for (const route of ['/fr/join/', '/en/join/', '/fr/trainer/', '/en/trainer/class/', '/fr/account/', '/en/forge/']) assert.ok(routes.includes(route), route);
  assert.ok(!routes.some((route) => route.includes('[') || route.includes('robots')), routes.join(' '));
  const problems = lint(both('a.mdx', '[join](/fr/join/) [trainer](/en/trainer/class/) [nope](/fr/trainer/nope/)\n', { 'site/pages/[lang]/join.astro': '', 'site/pages/[lang]/trainer/class.astro': '' }));
  assert.deepEqual(problems.filter((problem) => problem.startsWith('content/fr/')).map((problem) => problem.split(' — ')[0]), ['content/fr/a.mdx:1:49: broken link: /fr/trainer/nope/ (/fr/trainer/nope/ is no page)']);
});

test('a page well made passes, front matter, MDX, links, anchors and all', () => {
  const page = `${front}import { Card } from '@astrojs/starlight/components';\n\n${launch}## Make a folder\n\n- [ ] Make it :check[made-dir]\n- [ ] Look :step{#look}\n\n\`\`\`bash run\nmkdir x\n\`\`\`\n\nSee [above](#make-a-folder), [the other](../other/#second-part), [my files](/fr/files/), <a href="/en/b/other/">this</a> and ![a folder](./x.png).\n`;
  const other = `${front}# First\n\n## Second part\n`;
  assert.deepEqual(lint(both('b/page.mdx', page, both('b/other.mdx', other))), []);
});

test('a page missing in one language is reported', () => {
  assert.deepEqual(lint({ 'content/fr/a.mdx': 'x', 'content/en/a.mdx': 'x', 'content/fr/tp/b.mdx': 'y' }), [
    'content/fr/tp/b.mdx:1:1: no en version: content/en/tp/b.mdx is missing — translate the page into content/en/tp/b.mdx, with the same step ids',
  ]);
});

test('different step ids between languages are reported where they are, order aside', () => {
  const fr = '- [ ] a :step{#one}\n- [ ] b :step{#two}\n';
  assert.deepEqual(lint({ 'content/fr/a.mdx': fr, 'content/en/a.mdx': '- [ ] b :step{#two}\n- [ ] a :step{#one}\n' }), []);
  assert.deepEqual(lint({ 'content/fr/a.mdx': fr, 'content/en/a.mdx': '- [ ] a :step{#uno}\n- [ ] b :step{#two}\n' }), [
    'content/en/a.mdx:1:9: step id "uno" is not in content/fr/a.mdx — use the same ids in both languages (content/fr/a.mdx has: one, two)',
    'content/fr/a.mdx:1:9: step id "one" is not in content/en/a.mdx — use the same ids in both languages (content/en/a.mdx has: two, uno)',
  ]);
});

test('an unknown lab, a second lab and a service the lab does not offer are reported', () => {
  const problems = lint(
    both('a.mdx', `:::launch{lab="nope"}\nGo.\n:::\n\n${launch}:::launch{lab="demo" service="vscode"}\nAgain.\n:::\n\n:::launch\nNo lab.\n:::\n`, {
      'labs/other/lab.yaml': 'id: other\ntitle: { fr: A, en: B }\n',
    }),
  ).filter((problem) => problem.startsWith('content/fr/'));
  assert.deepEqual(problems, [
    'content/fr/a.mdx:1:1: unknown lab "nope" in :::launch — use one of labs/ (demo, other), or create labs/nope/lab.yaml',
    'content/fr/a.mdx:9:1: service "vscode" is not in the catalogue of lab "demo" — use one of terminal, or add it to catalog: in labs/demo/lab.yaml',
    'content/fr/a.mdx:13:1: :::launch names no lab — add the lab to start, e.g. :::launch{lab="terminal-basics"}',
  ]);
  const [second] = lint(both('a.mdx', `${launch}:::launch{lab="other"}\nGo.\n:::\n`, { 'labs/other/lab.yaml': 'id: other\ntitle: { fr: A, en: B }\n' }));
  assert.match(second!, /^content\/en\/a\.mdx:5:1: this page already launches "demo", not also "other" — /);
});

test('unknown checks, checks without a lab and task items without an id are reported', () => {
  const problems = lint(both('a.mdx', `${launch}- [ ] Make it :check[made-it]\n- [ ] Just words\n- [ ] Twice :step{#a} :step{#b}\n- [ ] Again :step{#a}\n\nA loose :step{#loose}.\n`));
  assert.deepEqual(
    problems.filter((problem) => problem.startsWith('content/fr/')),
    [
      'content/fr/a.mdx:5:15: unknown check "made-it" for lab "demo" — use one of labs/demo/lab.yaml\'s checks (made-dir), or add it under checks:',
      "content/fr/a.mdx:6:1: this task item has no step id — end it with :check[id] (a check of the page's lab) or :step{#id}, the same id in both languages",
      'content/fr/a.mdx:7:23: a task item carries one id — keep one :check[…] or one :step{#…}, and split the item if it is two steps',
      'content/fr/a.mdx:8:13: step id "a" is used twice on this page — give each task item an id of its own',
      'content/fr/a.mdx:10:9: :step is outside a task item — put it at the end of a task item: - [ ] What to do :step{#id}',
    ],
  );
  const [withoutLab, ...rest] = lint(both('a.mdx', '- [ ] Make it :check[made-dir]\n- [ ] Stop everything :check[nothing-running]\n'));
  assert.match(withoutLab!, /^content\/en\/a\.mdx:1:15: :check\[made-dir\] on a page without a lab — add a :::launch/);
  assert.equal(rest.length, 1, 'a learner check needs no lab; the English page has the same problem');
});

test('a hint outside a task item is reported', () => {
  const page = `${launch}- [ ] Make it :check[made-dir]\n\n  :::hint\n  Use mkdir.\n  :::\n\n:::hint\nLost.\n:::\n`;
  assert.deepEqual(lint(both('a.mdx', page)).filter((problem) => problem.startsWith('content/fr/')), [
    "content/fr/a.mdx:11:1: :::hint is not inside a task item — indent it under the task item it helps with (- [ ] …), after the item's first line",
  ]);
});

test('links may target the sections of the lab.yaml reference', () => {
  const page = '## Fields\n\n::lab-reference\n\n[resources](#resources) [checks](#checksname-kind-file) [nope](#nope)\n';
  assert.deepEqual(lint(both('a.mdx', page)).filter((problem) => problem.startsWith('content/fr/')).map((problem) => problem.split(' — ')[0]), [
    'content/fr/a.mdx:5:57: broken anchor: #nope is no heading of content/fr/a.mdx',
  ]);
});

test('a run block on a page without a lab is reported', () => {
  const page = '```bash run\nls\n```\n\n```bash\nls\n```\n';
  assert.deepEqual(lint(both('a.mdx', page)).filter((problem) => problem.startsWith('content/fr/')), [
    'content/fr/a.mdx:1:1: a `run` block on a page without a lab — add a :::launch{lab="…"} block to the page (the button types into its terminal), or drop `run` from the fence',
  ]);
  assert.deepEqual(lint(both('a.mdx', launch + page)), []);
});

test('broken internal links and anchors are reported, other sites and server routes are not', () => {
  const page = [
    '## Here',
    '',
    '[ok](#here) [gone](/fr/gone/) [relative](../nowhere/) [anchor](/fr/b/#nope) [source](./b.mdx)',
    '[ext](https://example.org/x) [api](/api/me) [mail](mailto:a@b.c) [top](#_top) [app](/fr/services/)',
    '',
    '[ref]: /en/missing/',
    '',
    '<a href="/fr/b/#elsewhere">jsx</a>',
    '',
  ].join('\n');
  const problems = lint(both('a/index.mdx', page, both('b.mdx', '## Real part\n'))).filter((problem) => problem.startsWith('content/fr/'));
  assert.deepEqual(problems, [
    'content/fr/a/index.mdx:3:13: broken link: /fr/gone/ (/fr/gone/ is no page) — link to a page of content/ by its address, such as /fr/tp/terminal/ or ../terminal/ (pages end with /)',
    'content/fr/a/index.mdx:3:31: broken link: ../nowhere/ (/fr/nowhere/ is no page) — link to a page of content/ by its address, such as /fr/tp/terminal/ or ../terminal/ (pages end with /)',
    'content/fr/a/index.mdx:3:55: broken anchor: #nope is no heading of content/fr/b.mdx — use one of its headings\' anchors (real-part)',
    "content/fr/a/index.mdx:3:77: link to a source file: ./b.mdx — link to the page's address instead, /fr/a/b/ or a relative ../name/",
    'content/fr/a/index.mdx:6:1: broken link: /en/missing/ (/en/missing/ is no page) — link to a page of content/ by its address, such as /fr/tp/terminal/ or ../terminal/ (pages end with /)',
    "content/fr/a/index.mdx:8:1: broken anchor: #elsewhere is no heading of content/fr/b.mdx — use one of its headings' anchors (real-part)",
  ]);
});

test('images without alt text are reported, in Markdown and in MDX', () => {
  const page = '![](./a.png)\n\n![A chart of the week](./b.png)\n\n<img src="/c.png" />\n\n<img src="/d.png" alt="" />\n';
  assert.deepEqual(lint(both('a.mdx', page)).filter((problem) => problem.startsWith('content/fr/')), [
    'content/fr/a.mdx:1:1: image ./a.png has no alt text — describe what it shows for readers who cannot see it: ![What the image shows](…)',
    'content/fr/a.mdx:5:1: <img> has no alt attribute — add alt="what it shows" (alt="" only for a purely decorative image)',
  ]);
});

test('a page that does not parse and a lab that does not load are reported with their place', () => {
  const [parse] = lint(both('a.mdx', `${front}Text with a {broken expression\n`));
  assert.match(parse!, /^content\/en\/a\.mdx:4:\d+: does not parse: .* — fix the syntax there/);
  const problems = lint(both('a.mdx', launch, { 'labs/demo/lab.yaml': 'id: demo\ntitle: { fr: Démo }\n' }));
  assert.deepEqual(problems, ['labs/demo/lab.yaml:2: title.en: Invalid input: expected string, received undefined — fix the lab (its JSON Schema, labs/lab.schema.json, lets an editor show where)']);
});

test("the project's content passes the linter", () => {
  assert.deepEqual(lintContent(join(import.meta.dirname, '..', '..', 'content')), []);
});
