/**
 * Syntax highlighting of repository files in the browser, with Shiki's JavaScript regex engine
 * (no WebAssembly) and a few languages of the practicals, each loaded when first needed. Tokens
 * become spans built with textContent: no HTML string from a learner's file reaches the page.
 * Light and dark colours both ride on each span (`--shiki-dark`), so the theme switch needs no
 * second pass.
 */
import { createHighlighterCore, type HighlighterCore } from 'shiki/core';
import { createJavaScriptRegexEngine } from 'shiki/engine/javascript';

const languages: Record<string, () => Promise<unknown>> = {
  python: () => import('shiki/langs/python.mjs'),
  r: () => import('shiki/langs/r.mjs'),
  yaml: () => import('shiki/langs/yaml.mjs'),
  json: () => import('shiki/langs/json.mjs'),
  markdown: () => import('shiki/langs/markdown.mjs'),
  bash: () => import('shiki/langs/bash.mjs'),
  sql: () => import('shiki/langs/sql.mjs'),
  csv: () => import('shiki/langs/csv.mjs'),
};

const byExtension: Record<string, string> = {
  py: 'python', r: 'r', yaml: 'yaml', yml: 'yaml', json: 'json', md: 'markdown', markdown: 'markdown', sh: 'bash', bash: 'bash', sql: 'sql', csv: 'csv',
};

/** Beyond this, a file is shown as plain text: highlighting it would hold the page too long. */
const maxChars = 200_000;

export function languageOf(path: string): string | undefined {
  const extension = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  return extension === undefined ? undefined : byExtension[extension];
}

let highlighter: Promise<HighlighterCore> | undefined;
const loaded = new Set<string>();

/** The file as highlighted lines, or undefined (unknown language, too long). */
export async function highlight(path: string, code: string): Promise<HTMLElement | undefined> {
  const language = languageOf(path);
  if (!language || code.length > maxChars) return undefined;
  highlighter ??= createHighlighterCore({
    themes: [import('shiki/themes/github-light.mjs'), import('shiki/themes/github-dark.mjs')],
    langs: [],
    engine: createJavaScriptRegexEngine(),
  });
  const core = await highlighter;
  if (!loaded.has(language)) {
    await core.loadLanguage((await languages[language]!()) as never);
    loaded.add(language);
  }
  const { tokens } = core.codeToTokens(code, { lang: language, themes: { light: 'github-light', dark: 'github-dark' } });
  const pre = document.createElement('pre');
  pre.className = 'atelier-pre atelier-code';
  pre.dataset.language = language;
  const block = document.createElement('code');
  tokens.forEach((line, index) => {
    if (index > 0) block.append('\n');
    for (const token of line) {
      const span = document.createElement('span');
      span.textContent = token.content;
      for (const [name, value] of Object.entries(token.htmlStyle ?? {})) span.style.setProperty(name, value);
      block.append(span);
    }
  });
  pre.append(block);
  return pre;
}
