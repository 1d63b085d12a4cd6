/**
 * Content linter: what the build would fail on one page at a time, and what it would let through
 * broken, reported for the whole tree at once, each problem as `file:line:column: what — how to fix`.
 *   - the French and English trees hold the same pages, whose two versions carry the same step
 *     ids (progress is shared across languages through those ids);
 *   - `:::launch` names a lab of labs/ (one per page) and a service of its catalogue,
 *     `:check[id]` a check of the page's lab, every task item has one id of its own, `:::hint`
 *     and `run` blocks are where they work (in a task item; on a page with a lab);
 *   - internal links (/fr/…, /en/…, relative, JSX href) reach a content page or one of the
 *     site's own, and `#anchors` a heading of it;
 *   - images have alt text; pages parse; labs load.
 * Pages are parsed as the build parses them (remark, with MDX, GFM and directives), never by
 * regular expressions over lines.
 * Usage: node server/cli/lint-content.ts [contentDir]   (exit 1 on problems)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import GithubSlugger from 'github-slugger';
import type { Code, Heading, Image, ListItem, Root } from 'mdast';
import type { ContainerDirective, LeafDirective, TextDirective } from 'mdast-util-directive';
import { toString } from 'mdast-util-to-string';
import remarkDirective from 'remark-directive';
import remarkGfm from 'remark-gfm';
import remarkMdx from 'remark-mdx';
import remarkParse from 'remark-parse';
import { unified } from 'unified';
import type { Node, Position } from 'unist';
import { visit } from 'unist-util-visit';
import { VFile } from 'vfile';
import { languages, type Language } from '../../i18n/index.ts';
import { appPages } from '../../site/app-pages.ts';
import { transformLabReference } from '../../site/markdown/lab-reference.ts';
import { pageContext } from '../../site/markdown/page-language.ts';
import { isRunBlock } from '../../site/markdown/run-blocks.ts';
import { learnerChecks } from '../../site/markdown/steps.ts';
import { LabDefinitionError, loadLabs } from '../labs/registry.ts';
import type { LabDefinition } from '../labs/schema.ts';

const projectRoot = join(import.meta.dirname, '..', '..');

export interface LintOptions {
  /** The labs pages launch; defaults to the project's labs/. */
  labsDir?: string;
  /** The site's own routes (site/pages), which links may reach beside content pages. */
  pagesDir?: string;
}

interface Page {
  language: Language;
  /** Path under the language folder, the same for both versions: `tp/terminal.mdx`. */
  path: string;
  /** As problems name it, from the project: `content/fr/tp/terminal.mdx`. */
  file: string;
  tree: Root;
  /** Ids a `#fragment` may target: its headings' slugs, as Starlight makes them. */
  anchors: Set<string>;
}

class Problems {
  readonly #found: { file: string; line: number; column: number; text: string }[] = [];
  add(file: string, at: Position | undefined, message: string, hint: string): void {
    const where = at ? `:${at.start.line}:${at.start.column}` : '';
    this.#found.push({ file, line: at?.start.line ?? 0, column: at?.start.column ?? 0, text: `${file}${where}: ${message} — ${hint}` });
  }
  /** A problem already written `file:line: what` (the lab registry's). */
  addWritten(text: string, hint: string): void {
    this.#found.push({ file: text, line: 0, column: 0, text: `${text} — ${hint}` });
  }
  /** By file, then in reading order. */
  get list(): string[] {
    const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return this.#found.toSorted((a, b) => order(a.file, b.file) || a.line - b.line || a.column - b.column).map((problem) => problem.text);
  }
}

function pagesOf(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((path) => /\.mdx?$/.test(path))
    .map((path) => path.split(sep).join('/'))
    .sort();
}

/**
 * Astro reads a page's YAML front matter before Markdown sees the rest; blank lines stand in for
 * it here, so positions stay those of the file.
 */
function withoutFrontMatter(source: string): string {
  const match = /^---\r?\n[\s\S]*?\r?\n---(?=\r?\n|$)/.exec(source);
  return match ? match[0].replace(/[^\n]/g, '') + source.slice(match[0].length) : source;
}

export function parsePage(source: string, mdx: boolean): Root {
  const processor = unified().use(remarkParse);
  if (mdx) processor.use(remarkMdx);
  return processor.use(remarkGfm).use(remarkDirective).parse(withoutFrontMatter(source));
}

/** The site path of a page: `tp/terminal.mdx` → `/fr/tp/terminal/`, `tp/index.mdx` → `/fr/tp/`. */
export function pageUrl(language: Language, path: string): string {
  const withoutExtension = path.replace(/\.mdx?$/, '');
  const route = withoutExtension === 'index' ? '' : withoutExtension.replace(/\/index$/, '');
  return `/${language}/${route ? `${route.toLowerCase()}/` : ''}`;
}

/**
 * The addresses of the site's own pages: each file of site/pages whose only parameter is the
 * language (`[lang]/join.astro` → /fr/join/, /en/join/), and the learner's pages that
 * `[lang]/[page].astro` makes from site/app-pages.ts.
 */
export function siteRoutes(pagesDir: string): string[] {
  const routes = languages.flatMap((language) => appPages.map((page) => `/${language}/${page}/`));
  if (!existsSync(pagesDir)) return routes;
  for (const path of readdirSync(pagesDir, { recursive: true, encoding: 'utf8' })) {
    if (!/\.(astro|mdx?)$/.test(path)) continue;
    const segments = path.split(sep).join('/').replace(/\.(astro|mdx?)$/, '').split('/');
    if (segments.at(-1) === 'index') segments.pop();
    if (segments.some((segment) => segment.startsWith('[') && segment !== '[lang]')) continue;
    const route = segments.join('/');
    const expanded = route.includes('[lang]') ? languages.map((language) => route.replace('[lang]', language)) : [route];
    routes.push(...expanded.map((each) => (each ? `/${each}/` : '/')));
  }
  return routes;
}

function headingSlugs(tree: Root): Set<string> {
  // Starlight's top-of-page target, beside the headings' ids (github-slugger, as Astro's rehypeHeadingIds).
  const slugs = new Set(['_top']);
  const slugger = new GithubSlugger();
  visit(tree, 'heading', (heading: Heading) => {
    slugs.add(slugger.slug(toString(heading)));
  });
  return slugs;
}

type Directive = ContainerDirective | LeafDirective | TextDirective;

function directives(tree: Node, name: string): Directive[] {
  const found: Directive[] = [];
  visit(tree, (node) => {
    const type = node.type;
    if ((type === 'containerDirective' || type === 'leafDirective' || type === 'textDirective') && (node as Directive).name === name) {
      found.push(node as Directive);
    }
  });
  return found;
}

/** An element of MDX (JSX), of which the linter reads attributes with a literal value. */
interface JsxElement extends Node {
  type: 'mdxJsxFlowElement' | 'mdxJsxTextElement';
  name: string | null;
  attributes: { type: string; name?: string; value?: unknown }[];
}

function jsxElements(tree: Root): JsxElement[] {
  const found: JsxElement[] = [];
  visit(tree, (node) => {
    if (node.type === 'mdxJsxFlowElement' || node.type === 'mdxJsxTextElement') found.push(node as JsxElement);
  });
  return found;
}

function literalAttribute(element: JsxElement, name: string): string | undefined {
  const attribute = element.attributes.find((candidate) => candidate.type === 'mdxJsxAttribute' && candidate.name === name);
  return typeof attribute?.value === 'string' ? attribute.value : undefined;
}

interface StepMark {
  id: string;
  at: Position | undefined;
  node: TextDirective;
}

function stepMarks(tree: Node): StepMark[] {
  const marks: StepMark[] = [];
  visit(tree, 'textDirective', (directive: TextDirective) => {
    if (directive.name === 'check') marks.push({ id: toString(directive).trim(), at: directive.position, node: directive });
    if (directive.name === 'step') marks.push({ id: directive.attributes?.id ?? '', at: directive.position, node: directive });
  });
  return marks;
}

/** Step ids of a page, in order: `:check[id]` and `:step{#id}`. */
export function stepIds(source: string, mdx = true): string[] {
  return stepMarks(parsePage(source, mdx)).map((mark) => mark.id);
}

function lintLabsAndSteps(page: Page, labs: Map<string, LabDefinition> | undefined, problems: Problems): void {
  const { file, tree } = page;
  let lab: LabDefinition | undefined;
  const launches = directives(tree, 'launch');
  for (const launch of launches) {
    if (launch.type !== 'containerDirective') {
      problems.add(file, launch.position, '`launch` is a block directive', 'write it with three colons: :::launch{lab="…"} … :::');
      continue;
    }
    const id = launch.attributes?.lab;
    if (!id) {
      problems.add(file, launch.position, ':::launch names no lab', 'add the lab to start, e.g. :::launch{lab="terminal-basics"}');
      continue;
    }
    if (!labs) continue;
    const found = labs.get(id);
    if (!found) {
      const known = [...labs.keys()].join(', ') || 'none';
      problems.add(file, launch.position, `unknown lab "${id}" in :::launch`, `use one of labs/ (${known}), or create labs/${id}/lab.yaml`);
      continue;
    }
    if (lab && lab.id !== found.id) {
      problems.add(file, launch.position, `this page already launches "${lab.id}", not also "${found.id}"`, 'a page launches one lab: split the page, or use one lab for both');
      continue;
    }
    lab = found;
    const service = launch.attributes?.service;
    if (service && !Object.hasOwn(found.catalog, service)) {
      problems.add(file, launch.position, `service "${service}" is not in the catalogue of lab "${found.id}"`, `use one of ${Object.keys(found.catalog).join(', ')}, or add it to catalog: in labs/${found.id}/lab.yaml`);
    }
  }
  const stepPattern = /^[a-z0-9][a-z0-9-]*$/;
  const seen = new Set<string>();
  const inTaskItems = new Set<Node>();
  visit(tree, 'listItem', (item: ListItem) => {
    if (typeof item.checked !== 'boolean') return;
    const marks = stepMarks(item);
    for (const mark of marks) inTaskItems.add(mark.node);
    for (const child of item.children) if (child.type === 'containerDirective' && child.name === 'hint') inTaskItems.add(child);
    if (marks.length === 0) {
      problems.add(file, item.position, 'this task item has no step id', 'end it with :check[id] (a check of the page\'s lab) or :step{#id}, the same id in both languages');
    } else if (marks.length > 1) {
      problems.add(file, marks[1]!.at, 'a task item carries one id', 'keep one :check[…] or one :step{#…}, and split the item if it is two steps');
    }
    for (const mark of marks) {
      if (seen.has(mark.id)) problems.add(file, mark.at, `step id "${mark.id}" is used twice on this page`, 'give each task item an id of its own');
      seen.add(mark.id);
    }
  });
  visit(tree, 'textDirective', (directive: TextDirective) => {
    if (directive.name !== 'check' && directive.name !== 'step') return;
    if (!inTaskItems.has(directive)) problems.add(file, directive.position, `:${directive.name} is outside a task item`, 'put it at the end of a task item: - [ ] What to do :step{#id}');
    if (directive.name === 'step') {
      const id = directive.attributes?.id ?? '';
      if (!stepPattern.test(id)) problems.add(file, directive.position, ':step has no valid id', 'write :step{#show-dir}: lower-case letters, digits and dashes');
      return;
    }
    const check = toString(directive).trim();
    if (!stepPattern.test(check)) {
      problems.add(file, directive.position, `:check[${check}] is not a check id`, 'write :check[made-dir]: the id of a check of the page\'s lab (lower-case letters, digits, dashes)');
    } else if (!learnerChecks.has(check)) {
      if (!lab && launches.length === 0) {
        problems.add(file, directive.position, `:check[${check}] on a page without a lab`, 'add a :::launch{lab="…"} block to the page (checks run in its lab), or make the step :step{#…}');
      } else if (lab && !Object.hasOwn(lab.checks, check)) {
        const known = Object.keys(lab.checks).join(', ') || 'none';
        problems.add(file, directive.position, `unknown check "${check}" for lab "${lab.id}"`, `use one of labs/${lab.id}/lab.yaml's checks (${known}), or add it under checks:`);
      }
    }
  });
  for (const hint of directives(tree, 'hint')) {
    if (!inTaskItems.has(hint)) problems.add(file, hint.position, ':::hint is not inside a task item', 'indent it under the task item it helps with (- [ ] …), after the item\'s first line');
  }
  if (launches.length === 0) {
    visit(tree, 'code', (code: Code) => {
      if (isRunBlock(code)) {
        problems.add(file, code.position, 'a `run` block on a page without a lab', 'add a :::launch{lab="…"} block to the page (the button types into its terminal), or drop `run` from the fence');
      }
    });
  }
}

function lintImages(page: Page, problems: Problems): void {
  visit(page.tree, 'image', (image: Image) => {
    if (!image.alt?.trim()) {
      problems.add(page.file, image.position, `image ${image.url} has no alt text`, 'describe what it shows for readers who cannot see it: ![What the image shows](…)');
    }
  });
  for (const element of jsxElements(page.tree)) {
    if (element.name !== 'img') continue;
    const hasAlt = element.attributes.some((attribute) => attribute.type === 'mdxJsxAttribute' && attribute.name === 'alt');
    if (!hasAlt) problems.add(page.file, element.position, '<img> has no alt attribute', 'add alt="what it shows" (alt="" only for a purely decorative image)');
  }
}

interface Link {
  url: string;
  at: Position | undefined;
}

function linksOf(tree: Root): Link[] {
  const links: Link[] = [];
  visit(tree, (node) => {
    if (node.type === 'link' || node.type === 'definition') links.push({ url: (node as { url: string }).url, at: node.position });
  });
  for (const element of jsxElements(tree)) {
    const href = literalAttribute(element, 'href');
    if (href !== undefined) links.push({ url: href, at: element.position });
  }
  return links;
}

function lintLinks(page: Page, pages: Map<string, Page | 'app'>, problems: Problems): void {
  const base = new URL(pageUrl(page.language, page.path), 'http://site.invalid');
  for (const { url, at } of linksOf(page.tree)) {
    // Another site (a scheme, or a protocol-relative //host) is not the linter's to check.
    if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')) continue;
    const resolved = new URL(url, base);
    const path = decodeURIComponent(resolved.pathname);
    const fragment = decodeURIComponent(resolved.hash.slice(1));
    // Only page routes: /api/, /git/ and the like are the server's, not the site's pages.
    if (!languages.some((language) => path === `/${language}` || path.startsWith(`/${language}/`))) continue;
    if (/\.mdx?$/.test(path)) {
      problems.add(page.file, at, `link to a source file: ${url}`, `link to the page's address instead, ${pageUrl(page.language, path.replace(/^\/[a-z]+\//, ''))} or a relative ../name/`);
      continue;
    }
    const target = pages.get(path.endsWith('/') ? path : `${path}/`);
    if (!target) {
      problems.add(page.file, at, `broken link: ${url} (${path} is no page)`, 'link to a page of content/ by its address, such as /fr/tp/terminal/ or ../terminal/ (pages end with /)');
      continue;
    }
    if (fragment && target !== 'app' && !target.anchors.has(fragment)) {
      const known = [...target.anchors].filter((anchor) => anchor !== '_top').join(', ') || 'none';
      problems.add(page.file, at, `broken anchor: #${fragment} is no heading of ${target.file}`, `use one of its headings' anchors (${known})`);
    }
  }
}

function lintTranslations(byPath: Map<string, Map<Language, Page>>, contentName: string, problems: Problems): void {
  for (const [path, versions] of [...byPath].sort(([a], [b]) => a.localeCompare(b))) {
    const present = languages.filter((language) => versions.has(language));
    for (const language of languages.filter((language) => !versions.has(language))) {
      const original = versions.get(present[0]!)!.file;
      const start = { line: 1, column: 1 };
      problems.add(original, { start, end: start }, `no ${language} version: ${contentName}/${language}/${path} is missing`, `translate the page into ${contentName}/${language}/${path}, with the same step ids`);
    }
    if (present.length < 2) continue;
    const [first, ...others] = present.map((language) => versions.get(language)!);
    const idsOf = (page: Page) => new Map(stepMarks(page.tree).map((mark) => [mark.id, mark.at]));
    const firstIds = idsOf(first!);
    for (const other of others) {
      const otherIds = idsOf(other);
      for (const [id, at] of otherIds) {
        if (!firstIds.has(id)) problems.add(other.file, at, `step id "${id}" is not in ${first!.file}`, `use the same ids in both languages (${first!.file} has: ${[...firstIds.keys()].sort().join(', ') || 'none'})`);
      }
      for (const [id, at] of firstIds) {
        if (!otherIds.has(id)) problems.add(first!.file, at, `step id "${id}" is not in ${other.file}`, `use the same ids in both languages (${other.file} has: ${[...otherIds.keys()].sort().join(', ') || 'none'})`);
      }
    }
  }
}

function loadLabsFor(labsDir: string, root: string, problems: Problems): Map<string, LabDefinition> | undefined {
  try {
    return loadLabs(labsDir, root);
  } catch (error) {
    if (!(error instanceof LabDefinitionError)) throw error;
    // Pages cannot be checked against labs that do not load: their own errors come first.
    for (const problem of error.problems) problems.addWritten(problem, 'fix the lab (its JSON Schema, labs/lab.schema.json, lets an editor show where)');
    return undefined;
  }
}

/** Problems name files from the content folder's parent (the project): `content/fr/…`, `labs/…`. */
export function lintContent(contentDir: string, options: LintOptions = {}): string[] {
  const problems = new Problems();
  const root = dirname(contentDir);
  const labs = loadLabsFor(options.labsDir ?? join(projectRoot, 'labs'), root, problems);
  const byPath = new Map<string, Map<Language, Page>>();
  const byUrl = new Map<string, Page | 'app'>(siteRoutes(options.pagesDir ?? join(projectRoot, 'site', 'pages')).map((route) => [route, 'app']));
  for (const language of languages) {
    for (const path of pagesOf(join(contentDir, language))) {
      const file = `${basename(contentDir)}/${language}/${path}`;
      let tree: Root;
      try {
        tree = parsePage(readFileSync(join(contentDir, language, path), 'utf8'), path.endsWith('.mdx'));
      } catch (error) {
        // micromark's syntax errors are VFileMessages, which carry where they are.
        const { place, reason } = error as { place?: Position | { line: number; column: number }; reason?: string };
        if (reason === undefined) throw error;
        const at = place && 'start' in place ? place : place ? { start: place, end: place } : undefined;
        problems.add(file, at, `does not parse: ${reason}`, 'fix the syntax there (in .mdx, a literal { or < is written \\{ or &lt;)');
        continue;
      }
      // The reference's sections are headings that links may target.
      transformLabReference(tree, new VFile({ path: join(contentDir, language, path) }), pageContext(join(contentDir, language, path)));
      const page: Page = { language, path, file, tree, anchors: headingSlugs(tree) };
      byUrl.set(pageUrl(language, path), page);
      if (!byPath.has(path)) byPath.set(path, new Map());
      byPath.get(path)!.set(language, page);
    }
  }
  lintTranslations(byPath, basename(contentDir), problems);
  for (const versions of byPath.values()) {
    for (const page of versions.values()) {
      lintLabsAndSteps(page, labs, problems);
      lintImages(page, problems);
      lintLinks(page, byUrl, problems);
    }
  }
  return problems.list;
}

if (import.meta.main) {
  const contentDir = process.argv[2] ?? join(projectRoot, 'content');
  const problems = lintContent(contentDir);
  const root = relative(process.cwd(), dirname(contentDir));
  for (const problem of problems) console.error(root ? `${root}/${problem}` : problem);
  if (problems.length === 0) console.log('Content: both languages complete, step ids consistent, labs, checks, links, anchors and images in order.');
  process.exit(problems.length > 0 ? 1 : 0);
}
