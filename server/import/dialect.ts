export const dialects = ['quarto', 'gitbook'] as const;
export type Dialect = (typeof dialects)[number];

/**
 * A page's dialect from its extension, else from what only that dialect writes: Quarto's fenced
 * divs, attribute braces and cell options; GitBook's Liquid-style tags. Exported pages often lose
 * their extension (.txt), hence the look at the text.
 */
export function detectDialect(path: string, source: string): Dialect {
  if (/\.(qmd|rmd)$/i.test(path)) return 'quarto';
  const quarto = countMatches(source, /^\s*:::+\s*\{|\]\([^)]*\)\{[^}]*\}|\]\{\.[\w-]+|^```\{|^#\| /gm);
  const gitbook = countMatches(source, /\{%\s*(hint|tabs|tab|embed|content-ref|code|endhint)\b/g);
  if (gitbook > quarto) return 'gitbook';
  if (quarto > 0) return 'quarto';
  return /^---\n[\s\S]*?\n(format|jupyter|execute|engine):/m.test(source) ? 'quarto' : 'gitbook';
}

function countMatches(source: string, pattern: RegExp): number {
  return [...source.matchAll(pattern)].length;
}
