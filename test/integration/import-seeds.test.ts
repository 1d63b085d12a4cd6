/**
 * The importer on the trainers' real pages (the seeds: two GitBook pages, one Quarto practical;
 * the project's own Quarto and GitBook pages where ../shared is not beside the clone): what each
 * report leaves to the author, that no text is lost, that the pages compile; then the CLI, and one
 * real `astro build` of imported pages in a content tree of their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importPage } from '../../server/import/index.ts';
import { compilePage } from '../../server/import/verify.ts';
import { main } from '../../server/cli/import.ts';

const root = join(import.meta.dirname, '..', '..');
const seedsDir = process.env.ATELIER_SEEDS_DIR ?? join(root, '..', 'shared', 'seeds');
const fixtures = join(root, 'test', 'fixtures', 'import');
const seedFile = (prefix: string) => (existsSync(seedsDir) ? readdirSync(seedsDir).find((name) => name.startsWith(`${prefix}_`)) : undefined);

interface Case {
  /** The page imported, and what the test calls it. */
  path: string;
  name: string;
  language: 'fr' | 'en';
  title: string;
  steps: number;
  /** The report's leftovers (line, construct): what the author fixes after importing it. */
  todo: [number, string][];
  /** What else that page pins of the mapping. */
  more?: (result: ReturnType<typeof importPage>) => void;
}

/** Seed 003's Quarto constructs, mapped: callout, details, spans, target links, shortcodes, the second h1. */
function practicalMapping(result: ReturnType<typeof importPage>): void {
  const page = result.pages.fr;
  assert.match(page, /^:::danger\[Enigme du Père Fouras\]$/m);
  assert.match(page, /^<details>\n {2}<summary>Détails<\/summary>$/m);
  assert.match(page, /Cliquez sur \*\*Generate token\*\*/);
  assert.doesNotMatch(page, /target=|green-button|\{\.|:warning:|:arrow_right:/);
  assert.match(page, /⚠️/);
  assert.match(page, /^## Behind the scene$/m);
  assert.equal(result.report.filter((entry) => entry.construct === 'link attributes {target="_blank"}').length, 15);
}

const seedCases = (names: string[]): Case[] => {
  const path = (prefix: string) => join(seedsDir, names.find((name) => name.startsWith(`${prefix}_`)) ?? `${prefix}_missing`);
  return [
    {
      path: path('000'),
      name: 'seed 000 (GitBook, EN)',
      language: 'en',
      title: 'Principles of Datalab',
      steps: 0,
      todo: [
        [42, 'image ../../.gitbook/assets/Screenshot from 2021-11-12 21-25-15.png'],
        [46, 'image ../../.gitbook/assets/Screenshot from 2021-11-12 21-25-27.png'],
      ],
    },
    {
      path: path('001'),
      name: 'seed 001 (GitBook, FR)',
      language: 'fr',
      title: 'Principes du Datalab',
      steps: 0,
      todo: [
        [38, 'image ./img/components.png'],
        [42, 'image ./img/catalog-high-level.png'],
      ],
    },
    { path: path('003'), name: 'seed 003 (Quarto, FR)', language: 'fr', title: 'Découverte du Datalab', steps: 64, todo: [[323, 'link data/.parquet']], more: practicalMapping },
  ];
};

/**
 * Where ../shared is not beside the clone, the project's own Quarto and GitBook pages stand in
 * for the seeds: the same assertions on pages whose leftovers are pinned here, never a skip.
 */
const fixtureCases: Case[] = [
  {
    path: join(fixtures, 'practical.qmd'),
    name: 'fixture practical.qmd (Quarto, FR)',
    language: 'fr',
    title: 'Premiers pas',
    steps: 3,
    todo: [
      [16, 'task item inside a task item'],
      [50, 'image img/absent.png'],
      [62, 'HTML <script>'],
      [73, 'link autre.qmd'],
    ],
  },
  {
    path: join(fixtures, 'book-page.md'),
    name: 'fixture book-page.md (GitBook, EN)',
    language: 'en',
    title: 'Getting started',
    steps: 2,
    todo: [
      [29, 'link next.md'],
      [38, '{% swagger method="get" path="/x" %}'],
      [42, 'GitBook tag {% include "x.md" %}'],
    ],
  },
];

const cases = existsSync(seedsDir) ? seedCases(readdirSync(seedsDir)) : fixtureCases;

for (const page of cases) {
  test(`${page.name}: the report's leftovers, no text lost, both pages compile`, async () => {
    const result = importPage(readFileSync(page.path, 'utf8'), { sourcePath: page.path, language: page.language });
    assert.equal(result.frontMatter.title, page.title);
    assert.deepEqual(result.report.filter((entry) => entry.level === 'todo').map((entry) => [entry.line, entry.construct]), page.todo);
    assert.deepEqual(result.report.filter((entry) => entry.construct === 'text'), [], 'no word of the source is missing');
    assert.ok(result.report.every((entry) => entry.line !== undefined), 'every entry has its source line');
    assert.equal([...result.pages[page.language].matchAll(/:step\{#[a-z0-9-]+\}/g)].length, page.steps);
    page.more?.(result);
    for (const language of ['fr', 'en'] as const) await compilePage(result.pages[language], join(root, 'content', language, `${result.slug}.mdx`));
  });
}

test('the CLI writes both pages, refuses to overwrite, and writes the report as JSON', async () => {
  const out = mkdtempSync(join(tmpdir(), 'atelier-import-'));
  try {
    const report = join(out, 'report.json');
    const log = console.log;
    const lines: string[] = [];
    console.log = (line: string) => lines.push(line);
    let code: number;
    try {
      code = await main([join(fixtures, 'practical.qmd'), '--slug', 'tp/premiers-pas', '--out', out, '--report', report]);
    } finally {
      console.log = log;
    }
    assert.equal(code, 0);
    assert.match(readFileSync(join(out, 'fr', 'tp', 'premiers-pas.mdx'), 'utf8'), /^title: Premiers pas$/m);
    assert.match(readFileSync(join(out, 'en', 'tp', 'premiers-pas.mdx'), 'utf8'), /^ {2}status: needed$/m);
    assert.ok(existsSync(join(out, 'en', 'tp', 'premiers-pas-images', 'schema.png')));
    const json = JSON.parse(readFileSync(report, 'utf8')) as { dialect: string; entries: { line: number; level: string; construct: string }[] };
    assert.equal(json.dialect, 'quarto');
    assert.ok(json.entries.some((entry) => entry.level === 'todo' && entry.construct === 'HTML <script>' && entry.line === 62));
    assert.ok(lines.some((line) => /practical\.qmd:62: todo: HTML <script>/.test(line)), 'the report is printed');
    const error = console.error;
    console.error = () => {};
    try {
      assert.equal(await main([join(fixtures, 'practical.qmd'), '--slug', 'tp/premiers-pas', '--out', out]), 1);
      assert.equal(await main([join(fixtures, 'practical.qmd'), '--lang', 'de']), 2);
    } finally {
      console.error = error;
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

/**
 * A project tree of its own under .astro/ (ignored by git; below the project, so node_modules
 * resolves as in the project): the site's sources by symlink, a content tree holding only the
 * imported pages. Astro builds it as it builds the site, Starlight's asides and tabs included.
 */
test('imported pages build with astro build: asides, tabs, details, steps, images', async () => {
  const project = join(root, '.astro', `import-build-${process.pid}`);
  rmSync(project, { recursive: true, force: true });
  mkdirSync(join(project, 'site', 'content'), { recursive: true });
  try {
    for (const entry of ['astro.config.mjs', 'package.json', 'tsconfig.json', 'i18n', 'labs', 'server']) symlinkSync(join(root, entry), join(project, entry));
    for (const entry of readdirSync(join(root, 'site'))) if (entry !== 'content') symlinkSync(join(root, 'site', entry), join(project, 'site', entry));
    symlinkSync(join(root, 'site', 'content', 'i18n'), join(project, 'site', 'content', 'i18n'));
    symlinkSync(join('..', '..', 'content'), join(project, 'site', 'content', 'docs'));
    const sources = [join(fixtures, 'practical.qmd'), join(fixtures, 'book-page.md')];
    const seed = seedFile('003');
    if (seed) sources.push(join(seedsDir, seed));
    const slugs: string[] = [];
    for (const source of sources) {
      const result = importPage(readFileSync(source, 'utf8'), { sourcePath: source, language: 'fr' });
      slugs.push(result.slug);
      for (const language of ['fr', 'en'] as const) {
        mkdirSync(join(project, 'content', language, result.assetFolder), { recursive: true });
        writeFileSync(join(project, 'content', language, `${result.slug}.mdx`), result.pages[language]);
        for (const asset of result.assets) copyFileSync(asset.from, join(project, 'content', language, result.assetFolder, asset.name));
      }
    }
    await promisify(execFile)(process.execPath, [join(root, 'node_modules', 'astro', 'bin', 'astro.mjs'), 'build'], { cwd: project, maxBuffer: 64 * 1024 * 1024 });
    const built = (language: string, slug: string) => readFileSync(join(project, 'dist', language, slug, 'index.html'), 'utf8');
    const practical = built('fr', 'premiers-pas');
    assert.match(practical, /starlight-aside--tip/);
    assert.match(practical, /<starlight-tabs/);
    assert.match(practical, /<details><summary>Solution<\/summary>/);
    assert.match(practical, /data-step="ouvrez-le-terminal-2"/);
    assert.match(practical, /<img[^>]+alt="Un schéma"/);
    assert.match(built('en', 'premiers-pas'), /starlight-aside--caution[\s\S]*Page to translate/);
    assert.match(built('en', 'getting-started'), /<starlight-tabs[\s\S]*Linux[\s\S]*Windows/);
    if (seed) assert.equal([...built('fr', 'decouverte-du-datalab').matchAll(/<li[^>]+data-step=/g)].length, 64);
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});
