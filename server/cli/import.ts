/**
 * Imports a trainer's Quarto (.qmd) or GitBook (.md) page as Atelier MDX in both language folders.
 * Usage: npm run import -- <file> [--slug path/name] [--lang fr|en] [--from quarto|gitbook]
 *                                 [--out content] [--report report.json] [--force]
 * Prints the report (what it could not map, with source lines), compiles both pages with the
 * site's Markdown plugins, and exits 1 when a page does not compile.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isLanguage, languages } from '../../i18n/index.ts';
import { dialects, type Dialect } from '../import/dialect.ts';
import { importPage } from '../import/index.ts';
import { formatReport } from '../import/report.ts';
import { compilePage } from '../import/verify.ts';

const projectRoot = join(import.meta.dirname, '..', '..');

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      slug: { type: 'string' },
      lang: { type: 'string', default: 'fr' },
      from: { type: 'string' },
      out: { type: 'string', default: join(projectRoot, 'content') },
      report: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  const [file] = positionals;
  if (!file || positionals.length > 1) return usage('give one file to import');
  if (!isLanguage(values.lang)) return usage(`--lang is one of ${languages.join(', ')}`);
  if (values.from && !(dialects as readonly string[]).includes(values.from)) return usage(`--from is one of ${dialects.join(', ')}`);
  if (values.slug && !/^[a-z0-9][a-z0-9-]*(\/[a-z0-9][a-z0-9-]*)*$/.test(values.slug)) return usage('--slug is lower-case words with dashes, folders with /, e.g. datalab-tp/discovery');
  const result = importPage(readFileSync(file, 'utf8'), {
    sourcePath: resolve(file),
    language: values.lang,
    ...(values.from ? { from: values.from as Dialect } : {}),
    ...(values.slug ? { slug: values.slug } : {}),
  });
  const out = resolve(values.out);
  const targets = languages.map((language) => ({ language, path: join(out, language, `${result.slug}.mdx`) }));
  const existing = targets.filter((target) => existsSync(target.path));
  if (existing.length && !values.force) {
    console.error(`${existing.map((target) => relative(process.cwd(), target.path)).join(', ')} exist: choose another --slug, or --force to replace`);
    return 1;
  }
  let failed = false;
  for (const { language, path } of targets) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, result.pages[language]);
    for (const asset of result.assets) {
      mkdirSync(join(dirname(path), result.assetFolder), { recursive: true });
      copyFileSync(asset.from, join(dirname(path), result.assetFolder, asset.name));
    }
    try {
      await compilePage(result.pages[language], path);
      console.log(`wrote ${relative(process.cwd(), path)}${language === values.lang ? '' : ' (marked for translation)'}`);
    } catch (error) {
      failed = true;
      console.error(`${relative(process.cwd(), path)}: does not compile: ${(error as Error).message}`);
    }
  }
  console.log(`${result.dialect} page "${result.frontMatter.title}"`);
  console.log(formatReport(result.report, relative(process.cwd(), resolve(file))));
  if (!result.slug.includes('/')) console.log(`The sidebar lists the pages of its folders (see astro.config.mjs): --slug <folder>/${result.slug} puts the page in one.`);
  const todo = result.report.filter((entry) => entry.level === 'todo').length;
  console.log(`${todo} construct(s) left for the author, ${result.report.length - todo} mapped with a note.`);
  if (values.report) {
    writeFileSync(values.report, `${JSON.stringify({ source: file, dialect: result.dialect, slug: result.slug, pages: targets.map((target) => relative(out, target.path)), entries: result.report }, null, 2)}\n`);
  }
  return failed ? 1 : 0;
}

function usage(problem: string): number {
  console.error(`${problem}\nusage: npm run import -- <file> [--slug path/name] [--lang fr|en] [--from quarto|gitbook] [--out content] [--report file.json] [--force]`);
  return 2;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
