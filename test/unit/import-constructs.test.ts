import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importPage, type ImportResult } from '../../server/import/index.ts';
import { detectDialect } from '../../server/import/dialect.ts';
import { parseSource } from '../../server/import/parse.ts';
import { missingWords, pageWords } from '../../server/import/text.ts';
import { parseMdx } from '../../server/import/write.ts';
import { compilePage } from '../../server/import/verify.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'import');
const root = join(import.meta.dirname, '..', '..');

function quarto(source: string): ImportResult {
  return importPage(source, { sourcePath: join(fixtures, 'page.qmd'), language: 'fr', slug: 'demo' });
}
function gitbook(source: string): ImportResult {
  return importPage(source, { sourcePath: join(fixtures, 'page.md'), from: 'gitbook', language: 'en', slug: 'demo' });
}
const body = (result: ImportResult, language: 'fr' | 'en' = 'fr') => result.pages[language].replace(/^---\n[\s\S]*?\n---\n\n/, '');
const entries = (result: ImportResult, construct: RegExp) => result.report.filter((entry) => construct.test(entry.construct));
/** What is left for the author, less the title these small pages without one all lack. */
const todos = (result: ImportResult) => result.report.filter((entry) => entry.level === 'todo' && entry.construct !== 'title');
const lost = (result: ImportResult) => result.report.filter((entry) => entry.construct === 'text');

test('the dialect is told by the extension, else by what only one dialect writes', () => {
  assert.equal(detectDialect('a.qmd', ''), 'quarto');
  assert.equal(detectDialect('a.txt', '::: {.callout-note}\nx\n:::\n'), 'quarto');
  assert.equal(detectDialect('a.txt', 'See [x](y){target="_blank"}'), 'quarto');
  assert.equal(detectDialect('a.md', '{% hint style="info" %}\nx\n{% endhint %}\n'), 'gitbook');
  assert.equal(detectDialect('a.md', '# Plain page'), 'gitbook');
});

test('task items become steps with ids from their words, unique on the page, the same in both languages', () => {
  const result = quarto('- [ ] Ouvrez le terminal\n- [x] Lisez la note\n- [ ] Ouvrez le terminal\n  - [ ] dedans\n');
  assert.match(result.pages.fr, /- \[ \] Ouvrez le terminal :step\{#ouvrez-le-terminal\}\n- \[ \] Lisez la note :step\{#lisez-la-note\}\n- \[ \] Ouvrez le terminal :step\{#ouvrez-le-terminal-2\}\n  - dedans/);
  assert.match(result.pages.en, /:step\{#ouvrez-le-terminal\}[\s\S]*:step\{#lisez-la-note\}[\s\S]*:step\{#ouvrez-le-terminal-2\}/);
  assert.deepEqual(entries(result, /inside a task item/).map((entry) => [entry.line, entry.level]), [[4, 'todo']]);
  assert.equal(entries(result, /checked task item/)[0]?.line, 2);
});

test('Quarto callouts become Starlight asides, titled by their heading or title attribute', () => {
  const result = quarto('::: {.callout-tip}\n## Astuce\nUn conseil.\n:::\n\n::: {.callout-important title="Énigme" icon="false"}\nQui suis-je ?\n:::\n\n::: callout-warning\nAttention.\n:::\n');
  assert.equal(body(result), ':::tip[Astuce]\nUn conseil.\n:::\n\n:::danger[Énigme]\nQui suis-je ?\n:::\n\n:::caution\nAttention.\n:::\n');
  assert.deepEqual(entries(result, /callout attributes/).map((entry) => [entry.line, entry.construct]), [[6, 'callout attributes icon="false"']]);
});

test('nested fenced divs: the inner callout stays inside, other divs keep their content', () => {
  const result = quarto(':::: {.columns}\n::: {.callout-note}\nDedans.\n:::\nAprès.\n::::\n');
  assert.equal(body(result), ':::note\nDedans.\n:::\n\nAprès.\n');
  assert.equal(entries(result, /fenced div/)[0]?.line, 1);
});

test('GitBook hints become asides by style; tabs become Starlight tabs with their import', () => {
  const result = gitbook('{% hint style="danger" %}\nNever.\n{% endhint %}\n\n{% tabs %}\n{% tab title="Linux" %}\nBash.\n{% endtab %}\n{% tab title="Windows" %}\nPowerShell.\n{% endtab %}\n{% endtabs %}\n');
  assert.match(result.pages.en, /^import \{ Tabs, TabItem \} from '@astrojs\/starlight\/components';$/m);
  assert.match(body(result, 'en'), /:::danger\nNever.\n:::/);
  assert.match(body(result, 'en'), /<Tabs>\n {2}<TabItem label="Linux">\n {4}Bash.\n {2}<\/TabItem>\n\n {2}<TabItem label="Windows">\n {4}PowerShell.\n {2}<\/TabItem>\n<\/Tabs>/);
  assert.deepEqual(todos(result), []);
});

test('GitBook embeds become links, content-refs keep their links, code titles go to the code block', () => {
  const result = gitbook('{% embed url="https://video.example/v" %}\n\n{% content-ref url="next.md" %}\n[next.md](next.md)\n{% endcontent-ref %}\n\n{% code title="a.sh" %}\n```bash\nls\n```\n{% endcode %}\n');
  assert.equal(body(result, 'en'), '[https://video.example/v](https://video.example/v)\n\n[next.md](next.md)\n\n```bash title="a.sh"\nls\n```\n');
  assert.deepEqual(entries(result, /^link /).map((entry) => [entry.line, entry.level]), [[4, 'todo']]);
});

test('a GitBook tag with no equivalent keeps its content; one inside a line is reported, kept as text', () => {
  const result = gitbook('{% swagger path="/x" %}\nAn API.\n{% endswagger %}\n\nA tag {% include "x.md" %} inline.\n');
  assert.match(body(result, 'en'), /^An API\.\n\nA tag \{% include "x\.md" %\} inline\.|^An API\.\n\nA tag \\\{% include "x\.md" %\} inline\./);
  assert.deepEqual(todos(result).map((entry) => entry.line), [1, 5]);
});

test('link braces are dropped (reported as info), spans become bold button names or plain text', () => {
  const result = quarto('Voir [le site](https://example.org){target="_blank"}.\n\nCliquez sur [Generate token]{.green-button}, [**OK**]{.green-button} ou [rien]{.autre}.\n');
  assert.equal(body(result), 'Voir [le site](https://example.org).\n\nCliquez sur **Generate token**, **OK** ou rien.\n');
  const target = entries(result, /link attributes/)[0]!;
  assert.equal(target.level, 'info');
  assert.equal(target.line, 1);
  assert.deepEqual(entries(result, /^span/).map((entry) => entry.line), [3, 3, 3]);
  assert.deepEqual(lost(result), []);
});

test('shortcodes become emoji in text, never in code', () => {
  const result = quarto(':warning: Attention :arrow_right: `:tada:` :not_an_emoji:\n');
  assert.equal(body(result), '⚠️ Attention ➡️ `:tada:` \\:not_an_emoji:\n');
});

test('code fences: language from braces, file name as title, cell options removed and reported', () => {
  const result = quarto('```{python}\n#| echo: false\n#| filename: carre.py\nx = 1\n```\n\n```bash {filename="run.sh"}\nls\n```\n\n```{.r}\nx\n```\n');
  assert.equal(body(result), '```python title="carre.py"\nx = 1\n```\n\n```bash title="run.sh"\nls\n```\n\n```r\nx\n```\n');
  assert.deepEqual(entries(result, /cell options|executable/).map((entry) => entry.line), [1, 1]);
});

test('Quarto shortcodes and raw blocks are kept visibly and left to the author', () => {
  const result = quarto('{{< video https://example.org/v.mp4 >}}\n\n```{=html}\n<b>x</b>\n```\n');
  assert.equal(body(result), '\\{\\{\\< video [https://example.org/v.mp4](https://example.org/v.mp4) >}}\n\n```html\n<b>x</b>\n```\n');
  assert.deepEqual(todos(result).map((entry) => [entry.line, entry.construct]), [[1, 'Quarto shortcode {{< video https://example.org/v.mp4 >}}'], [3, 'raw block ```{=html}']]);
});

test('headings: the first h1 is the title, others become h2, {#id} anchors go and in-page links follow', () => {
  const result = quarto('# Mon TP\n\n## Départ {#start}\n\nVoir [ici](#start).\n\n# Annexe\n');
  assert.match(result.pages.fr, /^---\ntitle: Mon TP\n---\n\n## Départ\n\nVoir \[ici\]\(#départ\)\.\n\n## Annexe\n$/);
  assert.equal(entries(result, /level-1/)[0]?.line, 7);
});

test('front matter: title and description kept, the tool\'s settings reported', () => {
  const result = quarto('---\ntitle: "TP"\ndescription: Court\nformat: html\n---\n\nTexte.\n');
  assert.match(result.pages.fr, /^---\ntitle: TP\ndescription: Court\n---\n/);
  assert.deepEqual(entries(result, /front matter/).map((entry) => [entry.line, entry.construct]), [[1, 'front matter format']]);
});

test('a page with no title takes one from its file name and says so', () => {
  const result = importPage('Texte.\n', { sourcePath: join(fixtures, 'mon-tp.qmd'), language: 'fr' });
  assert.equal(result.frontMatter.title, 'mon-tp');
  assert.equal(result.slug, 'mon-tp');
  assert.equal(entries(result, /^title$/)[0]?.level, 'todo');
});

test('<details> becomes JSX with its Markdown kept, and a summary when it had none', () => {
  const result = quarto('<details>\nPremier paragraphe.\n\n### Titre\n\n- un\n\n</details>\n\n<details>\n<summary>Solution</summary>\n\nTapez `ls`.\n</details>\n');
  assert.equal(body(result), '<details>\n  <summary>Détails</summary>\n\n  Premier paragraphe.\n\n  ### Titre\n\n  - un\n</details>\n\n<details>\n  <summary>Solution</summary>\n\n  Tapez `ls`.\n</details>\n');
  assert.match(body(result, 'en'), /<summary>Détails<\/summary>/, 'the other page is the same content, to translate');
});

test('<details> inside <details>, and HTML inside them, are converted too', async () => {
  const result = quarto('<details>\n<summary>Dehors</summary>\n\n<details>\n<summary>Dedans</summary>\n\nTexte.\n\n</details>\n\n<kbd>Q</kbd>\n\n</details>\n');
  assert.equal(body(result), '<details>\n  <summary>Dehors</summary>\n\n  <details>\n    <summary>Dedans</summary>\n\n    Texte.\n  </details>\n\n  <kbd>Q</kbd>\n</details>\n');
  await compilePage(result.pages.fr, join(root, 'content', 'fr', 'demo.mdx'));
});

test('HTML: comments become MDX comments, known elements JSX, scripts a visible code block; { and < are escaped', () => {
  const result = quarto('<!-- note -->\n\n<div class="box">Un { et < ici</div>\n\n<script>alert(1)</script>\n\nTexte { et < b.\n\nPress <kbd>Ctrl</kbd>.\n');
  assert.equal(body(result), '{/* note */}\n\n<div class="box">\n  Un \\{ et \\< ici\n</div>\n\n```html\n<script>alert(1)</script>\n```\n\nTexte \\{ et \\< b.\n\nPress <kbd>Ctrl</kbd>.\n');
  assert.deepEqual(todos(result).map((entry) => [entry.line, entry.construct]), [[5, 'HTML <script>']]);
});

test('an HTML image with a relative source is left to the author (only Markdown images are copied)', () => {
  const result = quarto('<p><img src="img/schema.png" alt="Schéma"></p>\n');
  assert.equal(body(result), '<p>\n  <img src="img/schema.png" alt="Schéma" />\n</p>\n');
  assert.deepEqual(todos(result).map((entry) => [entry.line, entry.construct]), [[1, 'HTML image img/schema.png']]);
});

test('images: one beside the source is copied beside the page, a missing one leaves a visible marker', () => {
  const result = quarto('![Un schéma](img/schema.png)\n\n![Absent](img/absent.png)\n\n![](https://example.org/x.png)\n');
  assert.deepEqual(result.assets, [{ from: join(fixtures, 'img', 'schema.png'), name: 'schema.png' }]);
  assert.equal(body(result), '![Un schéma](./demo-images/schema.png)\n\n**Image à ajouter :** Absent `img/absent.png`\n\n![](https://example.org/x.png)\n');
  assert.deepEqual(todos(result).map((entry) => [entry.line, entry.construct]), [[3, 'image img/absent.png'], [5, 'image https://example.org/x.png']]);
});

test('the other language\'s page is flagged in its front matter and says so in its own language', () => {
  const result = quarto('# Titre\n\n- [ ] Faites-le\n');
  assert.match(result.pages.en, /^---\ntitle: Titre\ntranslation:\n {2}from: fr\n {2}status: needed\n---\n\n:::caution\[Page to translate\]\nThis page is not translated yet: it holds the French version/);
  assert.doesNotMatch(result.pages.fr, /translation:/);
});

test('the text check finds a word that went missing, and accepts one the report removed', () => {
  const source = pageWords(parseSource('Un mot perdu.\n'));
  const output = pageWords(parseMdx('Un mot.\n'));
  assert.deepEqual(missingWords(source, [], output), ['perdu']);
  assert.deepEqual(missingWords(source, ['perdu'], output), []);
});

test('the fixture pages lose no text and compile with the site\'s Markdown plugins, in both languages', async () => {
  for (const name of ['practical.qmd', 'book-page.md']) {
    const result = importPage(readFileSync(join(fixtures, name), 'utf8'), { sourcePath: join(fixtures, name), language: 'fr' });
    assert.deepEqual(lost(result), [], name);
    for (const language of ['fr', 'en'] as const) await compilePage(result.pages[language], join(root, 'content', language, `${result.slug}.mdx`));
  }
});

test('the compile check fails as the build does, on a task item the importer did not make a step', async () => {
  await assert.rejects(compilePage('- [ ] Sans id\n', join(root, 'content', 'fr', 'x.mdx')), /stable id/);
});
