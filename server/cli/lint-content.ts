/**
 * Content linter: the French and English trees hold the same pages, and each page's two versions
 * carry the same step ids (progress is shared across languages through those ids).
 * Usage: node server/cli/lint-content.ts [contentDir]   (exit 1 on problems)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { languages } from '../../i18n/index.ts';

const stepMarker = /:check\[([^\]]+)\]|:step\{#([^}\s]+)\}/g;

function pagesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((path) => /\.mdx?$/.test(path))
    .sort();
}

export function stepIds(source: string): string[] {
  return [...source.matchAll(stepMarker)].map((match) => (match[1] ?? match[2])!);
}

export function lintContent(contentDir: string): string[] {
  const problems: string[] = [];
  const trees = new Map(languages.map((language) => [language, new Set(pagesOf(join(contentDir, language)))]));
  const allPages = new Set([...trees.values()].flatMap((pages) => [...pages]));
  for (const page of [...allPages].sort()) {
    const present = languages.filter((language) => trees.get(language)!.has(page));
    const missing = languages.filter((language) => !present.includes(language));
    for (const language of missing) problems.push(`${language}/${page}: missing translation of ${present[0]}/${page}`);
    if (missing.length > 0) continue;
    const [first, ...others] = present.map((language) => ({
      language,
      ids: stepIds(readFileSync(join(contentDir, language, page), 'utf8')),
    }));
    for (const other of others) {
      const a = [...first!.ids].sort().join(', ');
      const b = [...other.ids].sort().join(', ');
      if (a !== b) problems.push(`${page}: step ids differ between ${first!.language} (${a}) and ${other.language} (${b})`);
    }
  }
  return problems;
}

if (import.meta.main) {
  const contentDir = process.argv[2] ?? join(import.meta.dirname, '..', '..', 'content');
  const problems = lintContent(contentDir);
  for (const problem of problems) console.error(`${relative(process.cwd(), contentDir)}/${problem}`);
  if (problems.length === 0) console.log('Content: both languages complete, step ids consistent.');
  process.exit(problems.length > 0 ? 1 : 0);
}
