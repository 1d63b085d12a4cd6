/**
 * The importer: a trainer's Quarto or GitBook page as Atelier MDX, in both language folders (the
 * other language's page marked for translation), with a report of what it could not map.
 * One module per construct; this file runs them in order and checks that no text was lost.
 */
import type { Root, RootContent } from 'mdast';
import { toString } from 'mdast-util-to-string';
import { visit } from 'unist-util-visit';
import { stringify } from 'yaml';
import { languages, translator, type Language } from '../../i18n/index.ts';
import { transformHeadingAttributes, transformInlineAttributes } from './attributes.ts';
import { tabsImport, transformBlocks } from './blocks.ts';
import { transformCode } from './code.ts';
import type { ImportContext } from './context.ts';
import { detectDialect, type Dialect } from './dialect.ts';
import { transformShortcodes } from './emoji.ts';
import { transformHtml } from './html.ts';
import { transformMedia, type Asset } from './media.ts';
import { takeFrontMatter, type FrontMatter } from './page.ts';
import { parseSource, rewriteFences } from './parse.ts';
import { Report, type ReportEntry } from './report.ts';
import { transformTaskItems } from './steps.ts';
import { missingWords, pageWords, words } from './text.ts';
import { parseMdx, writeMdx } from './write.ts';

export interface ImportOptions {
  /** The source's path: its extension hints the dialect, its folder holds its images. */
  sourcePath: string;
  from?: Dialect;
  language: Language;
  /** The page's path under content/<language>/, without extension (e.g. `datalab-tp/discovery`). */
  slug?: string;
}

export interface ImportResult {
  dialect: Dialect;
  slug: string;
  frontMatter: FrontMatter;
  /** The MDX of each language's page; the other language's is marked for translation. */
  pages: Record<Language, string>;
  /** Images to copy into `assetFolder`, beside each page. */
  assets: Asset[];
  assetFolder: string;
  report: ReportEntry[];
}

export function slugify(text: string): string {
  return (
    text
      .normalize('NFD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60)
      .replace(/-+$/, '') || 'page'
  );
}

export function importPage(source: string, options: ImportOptions): ImportResult {
  const dialect = options.from ?? detectDialect(options.sourcePath, source);
  const prepared = rewriteFences(source.replace(/\r\n?/g, '\n'), dialect);
  const sourceWords = pageWords(parseSource(prepared));
  const tree = parseSource(prepared);
  const report = new Report();
  const context: ImportContext = {
    report,
    dialect,
    t: translator(options.language),
    lines: source.split(/\r?\n/),
    anchors: new Map(),
    usesTabs: false,
  };
  const fileName = options.sourcePath.split(/[\\/]/).pop()!.replace(/\.[^.]*$/, '');
  const frontMatter = takeFrontMatter(tree, context, fileName);
  const slug = options.slug ?? slugify(frontMatter.title);
  const assetFolder = `${slug.split('/').pop()}-images`;
  transformHeadingAttributes(tree, context);
  transformBlocks(tree, context);
  transformHtml(tree, context, parseSource);
  transformInlineAttributes(tree, context);
  transformShortcodes(tree);
  transformCode(tree, context);
  transformTaskItems(tree, context);
  const sourceDir = options.sourcePath.includes('/') ? options.sourcePath.replace(/[\\/][^\\/]*$/, '') : '.';
  const assets = transformMedia(tree, context, sourceDir, assetFolder);
  reportTemplateLeftovers(tree, context);

  const pages = {} as Record<Language, string>;
  for (const language of languages) {
    pages[language] = writeMdx(pageTree(tree, frontMatter, context, options.language, language));
  }
  const removed = report.entries.flatMap((entry) => words(entry.removed ?? ''));
  const lost = missingWords(sourceWords, removed, pageWords(parseMdx(pages[options.language])));
  if (lost.length) report.add(undefined, 'todo', 'text', `words of the source missing from the page, please report it: ${[...new Set(lost)].slice(0, 20).join(' ')}`);
  return { dialect, slug, frontMatter, pages, assets, assetFolder, report: report.sorted() };
}

function pageTree(tree: Root, frontMatter: FrontMatter, context: ImportContext, from: Language, language: Language): Root {
  const children = structuredClone(tree.children) as RootContent[];
  const data: Record<string, unknown> = { ...frontMatter };
  if (language !== from) {
    // The flag the content linter and authors look for; the aside is what a reader sees.
    data.translation = { from, status: 'needed' };
    const t = translator(language);
    children.unshift({
      type: 'containerDirective',
      name: 'caution',
      attributes: {},
      children: [
        { type: 'paragraph', data: { directiveLabel: true }, children: [{ type: 'text', value: t('import.translateTitle') }] },
        { type: 'paragraph', children: [{ type: 'text', value: t('import.translate', { language: t(`import.languageNames.${from}`) }) }] },
      ],
    });
  }
  const esm: RootContent[] = context.usesTabs ? [{ type: 'mdxjsEsm', value: tabsImport }] : [];
  return { type: 'root', children: [{ type: 'yaml', value: stringify(data).trimEnd() }, ...esm, ...children] };
}

/**
 * Template tags left in the text: GitBook's sharing a line with text (the prepass only rewrites
 * tags alone on their line) and Quarto's shortcodes (`{{< video … >}}`, `{{< include … >}}`),
 * which Quarto expands when it renders: kept as text, for the author.
 */
function reportTemplateLeftovers(tree: Root, context: ImportContext): void {
  // Over a block's whole text: a URL in a tag's arguments is a link node of its own (GFM).
  visit(tree, (node) => {
    if (node.type !== 'paragraph' && node.type !== 'heading' && node.type !== 'tableCell') return;
    const text = toString(node);
    const tag = /\{%-?\s*[\w-]+[^%]*%\}/.exec(text);
    if (tag) context.report.add(node, 'todo', `GitBook tag ${tag[0]}`, 'not alone on its line: kept as text; put it on a line of its own and import again');
    for (const [shortcode] of text.matchAll(/\{\{<\s*[\w-]+[^>]*>\}\}/g)) {
      context.report.add(node, 'todo', `Quarto shortcode ${shortcode}`, 'Quarto expands it when rendering; kept as text: write what it stood for');
    }
  });
}
