import { directiveFromMarkdown } from 'mdast-util-directive';
import { directive } from 'micromark-extension-directive';
import remarkFrontmatter from 'remark-frontmatter';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import { unified, type Processor } from 'unified';
import { visit } from 'unist-util-visit';
import type { Dialect } from './dialect.ts';

/**
 * Block directives only (`:::name{…}`, `::name{…}`), which the prepass writes for fenced divs and
 * GitBook tags. Text directives stay off: a trainer's `:warning:` or `10:30` is text, not markup.
 */
function flowDirectives(this: Processor) {
  const data = this.data();
  (data.micromarkExtensions ??= []).push({ flow: directive().flow });
  (data.fromMarkdownExtensions ??= []).push(directiveFromMarkdown());
}

function baseParser() {
  return unified().use(remarkParse).use(remarkGfm).use(remarkFrontmatter, ['yaml']);
}

export function parseSource(source: string) {
  return baseParser().use(flowDirectives).parse(source);
}

interface Fence {
  line: number;
  indent: string;
  kind: 'open' | 'close' | 'leaf';
  /** The directive's name and attributes, as written after the colons. */
  head: string;
  tag?: string;
}

/**
 * Quarto's fenced divs (`::: {.callout-note}`) and GitBook's Liquid-style tags (`{% hint %}`) have
 * no micromark extension, so this step rewrites their fence lines, one line for one line (source
 * line numbers stay right), into the directive syntax micromark does parse: both already carry
 * attributes in the same `{.class key="value"}` form. Lines inside code are left alone (found by
 * a first parse). Nested blocks get longer outer fences, as directives need to tell them apart.
 */
export function rewriteFences(source: string, dialect: Dialect): string {
  const lines = source.split('\n');
  const inCode = new Set<number>();
  visit(baseParser().parse(source), 'code', (node) => {
    for (let line = node.position!.start.line; line <= node.position!.end.line; line++) inCode.add(line - 1);
  });
  const fences: Fence[] = [];
  lines.forEach((text, line) => {
    if (inCode.has(line)) return;
    const fence = dialect === 'quarto' ? quartoFence(text, line) : gitbookFence(text, line);
    if (fence) fences.push(fence);
  });
  if (dialect === 'gitbook') pairGitbookTags(fences);
  // Pair opens and closes, then give each pair 3 colons more than the pairs it holds.
  const stack: { fence: Fence; height: number }[] = [];
  const pairs: { open: Fence; close: Fence; height: number }[] = [];
  for (const fence of fences) {
    if (fence.kind === 'open') stack.push({ fence, height: 1 });
    else if (fence.kind === 'close') {
      const open = stack.pop();
      if (!open) continue;
      pairs.push({ open: open.fence, close: fence, height: open.height });
      const parent = stack.at(-1);
      if (parent) parent.height = Math.max(parent.height, open.height + 1);
    } else lines[fence.line] = `${fence.indent}::${fence.head}`;
  }
  for (const { open, close, height } of pairs) {
    const colons = ':'.repeat(2 + height);
    lines[open.line] = `${open.indent}${colons}${open.head}`;
    lines[close.line] = `${close.indent}${colons}`;
  }
  return lines.join('\n');
}

function quartoFence(text: string, line: number): Fence | undefined {
  const braces = /^(\s*):{3,}\s*\{([^{}]*)\}\s*$/.exec(text);
  if (braces) return { line, indent: braces[1]!, kind: 'open', head: `div{${braces[2]!.trim()}}` };
  const word = /^(\s*):{3,}\s*([A-Za-z][\w-]*)\s*$/.exec(text);
  if (word) return { line, indent: word[1]!, kind: 'open', head: `div{.${word[2]}}` };
  const close = /^(\s*):{3,}\s*$/.exec(text);
  return close ? { line, indent: close[1]!, kind: 'close', head: '' } : undefined;
}

function gitbookFence(text: string, line: number): Fence | undefined {
  const tag = /^(\s*)\{%-?\s*(end)?([a-z][\w-]*)\s*(.*?)\s*-?%\}\s*$/.exec(text);
  if (!tag) return undefined;
  const [, indent, end, name, args] = tag as unknown as [string, string, string | undefined, string, string];
  if (end) return { line, indent, kind: 'close', head: '', tag: name };
  return { line, indent, kind: 'leaf', head: `gitbook-${name}${args ? `{${args}}` : ''}`, tag: name };
}

/** A GitBook tag opens a block when its `{% end… %}` follows; otherwise it stands alone. */
function pairGitbookTags(fences: Fence[]): void {
  const open: Fence[] = [];
  for (const fence of fences) {
    if (fence.kind === 'leaf') open.push(fence);
    else if (fence.kind === 'close') {
      const index = open.findLastIndex((candidate) => candidate.tag === fence.tag);
      if (index < 0) {
        fence.kind = 'leaf';
        fence.head = '';
        continue;
      }
      open[index]!.kind = 'open';
      open.splice(index);
    }
  }
  for (let i = fences.length - 1; i >= 0; i--) if (fences[i]!.kind === 'leaf' && fences[i]!.head === '') fences.splice(i, 1);
}
