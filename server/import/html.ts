import type { Html, Paragraph, Parent, PhrasingContent, Root, RootContent } from 'mdast';
import type { MdxJsxAttribute, MdxJsxFlowElement, MdxJsxTextElement } from 'mdast-util-mdx-jsx';
import type { Element, ElementContent, Root as HastRoot } from 'hast';
import { fromHtml } from 'hast-util-from-html';
import { find, html as htmlSchema } from 'property-information';
import { visit } from 'unist-util-visit';
import type { ImportContext } from './context.ts';

type Parse = (markdown: string) => Root;

/** Elements that carry no script and mean the same in MDX as in HTML. */
const kept = new Set([
  'a', 'abbr', 'b', 'br', 'code', 'dd', 'del', 'details', 'div', 'dl', 'dt', 'em', 'figcaption', 'figure', 'h2', 'h3', 'h4',
  'hr', 'i', 'img', 'ins', 'kbd', 'li', 'mark', 'ol', 'p', 'pre', 'q', 's', 'samp', 'small', 'span', 'strong', 'sub',
  'summary', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'u', 'ul', 'var', 'center', 'font',
]);

/**
 * Raw HTML, which MDX reads as JSX and refuses when it is not well-formed JSX (unclosed tags,
 * comments, `{`). `<details>` blocks become JSX with their Markdown content kept as Markdown
 * (re-parsed: CommonMark puts the lines after `<details>` into the HTML block); comments become
 * MDX comments; other HTML is parsed with an HTML parser (hast-util-from-html) and written as
 * JSX elements; what has no safe JSX form (scripts, styles, forms) is kept as a visible HTML code
 * block and reported.
 */
export function transformHtml(tree: Root, context: ImportContext, parse: Parse): void {
  const parents: Parent[] = [];
  visit(tree, (node) => {
    if ('children' in node && (node as Parent).children.some((child) => child.type === 'html')) parents.push(node as Parent);
  });
  for (const parent of parents.reverse()) convert(parent, context, parse);
}

function convert(parent: Parent, context: ImportContext, parse: Parse): void {
  details(parent, context, parse);
  inlinePairs(parent, context);
  parent.children = parent.children.flatMap((node) => (node.type === 'html' ? (single(node, parent, context) as never[]) : [node]));
}

/** The `</details>` closing the one opened at `start`, past those of `<details>` inside it. */
function closingDetails(children: RootContent[], start: number): number {
  let depth = 0;
  for (let index = start; index < children.length; index++) {
    const node = children[index]!;
    if (node.type !== 'html') continue;
    if (index > start && /^<details[\s>]/i.test(node.value)) depth++;
    if (/<\/details>\s*$/i.test(node.value)) {
      if (depth === 0) return index;
      depth--;
    }
  }
  return -1;
}

function details(parent: Parent, context: ImportContext, parse: Parse): void {
  const children = parent.children as RootContent[];
  for (let start = 0; start < children.length; start++) {
    const open = children[start]!;
    const head = open.type === 'html' ? /^<details(\s[^>]*)?>\s*(?:<summary>([\s\S]*?)<\/summary>)?/i.exec(open.value) : null;
    if (open.type !== 'html' || !head) continue;
    const end = closingDetails(children, start);
    if (end < 0) continue;
    const line = open.position?.start.line ?? 1;
    const inner: RootContent[] = [];
    const rest = open.value.slice(head[0].length);
    const restEnd = start === end ? rest.replace(/<\/details>\s*$/i, '') : rest;
    inner.push(...markdown(restEnd, line + open.value.slice(0, head[0].length).split('\n').length - 1, parse));
    inner.push(...children.slice(start + 1, end));
    if (end > start) {
      const close = children[end] as Html;
      inner.push(...markdown(close.value.replace(/<\/details>\s*$/i, ''), close.position?.start.line ?? line, parse));
    }
    const summaryText = head[2]?.trim() || context.t('import.details');
    if (!head[2]) context.report.add(open, 'info', '<details> without <summary>', `given the summary "${summaryText}"`);
    // A paragraph of only JSX is unwrapped by MDX: the summary's text stays phrasing, as HTML wants.
    const summary: Paragraph = { type: 'paragraph', children: [{ type: 'mdxJsxTextElement', name: 'summary', attributes: [], children: [{ type: 'text', value: summaryText }] }] };
    const element: MdxJsxFlowElement = {
      type: 'mdxJsxFlowElement',
      name: 'details',
      attributes: /\sopen\b/i.test(head[1] ?? '') ? [{ type: 'mdxJsxAttribute', name: 'open', value: null }] : [],
      children: [summary, ...(inner as never[])],
      position: open.position,
    };
    children.splice(start, end - start + 1, element as never);
    // What moved inside (nested <details>, other HTML) is converted as any other block's content.
    convert(element as unknown as Parent, context, parse);
  }
}

function markdown(value: string, line: number, parse: Parse): RootContent[] {
  if (!value.trim()) return [];
  const tree = parse(value);
  visit(tree, (node) => {
    if (node.position) {
      node.position.start.line += line - 1;
      node.position.end.line += line - 1;
    }
  });
  return tree.children;
}

/** `<kbd>Ctrl</kbd>`: CommonMark splits inline HTML into its opening and closing tags. */
function inlinePairs(parent: Parent, context: ImportContext): void {
  const children = parent.children as PhrasingContent[];
  for (let start = 0; start < children.length; start++) {
    const open = children[start]!;
    const tag = open.type === 'html' ? /^<([a-z][a-z0-9]*)(\s[^>]*)?>$/i.exec(open.value) : null;
    if (open.type !== 'html' || !tag || !kept.has(tag[1]!.toLowerCase())) continue;
    const name = tag[1]!.toLowerCase();
    const end = children.findIndex((node, index) => index > start && node.type === 'html' && new RegExp(`^</${name}\\s*>$`, 'i').test(node.value));
    if (end < 0) continue;
    const element = fromHtml(`${open.value}</${name}>`, { fragment: true }).children[0] as Element | undefined;
    const jsx: MdxJsxTextElement = { type: 'mdxJsxTextElement', name, attributes: element ? jsxAttributes(element) : [], children: children.slice(start + 1, end) as never, position: open.position };
    children.splice(start, end - start + 1, jsx);
    context.report.add(open, 'info', `inline HTML <${name}>`, 'written as JSX');
  }
}

function single(node: Html, parent: Parent, context: ImportContext): RootContent[] {
  const inline = parent.type !== 'root' && !['blockquote', 'listItem', 'containerDirective', 'mdxJsxFlowElement'].includes(parent.type);
  const comment = /^<!--([\s\S]*?)-->$/.exec(node.value.trim());
  if (comment) {
    context.report.add(node, 'info', 'HTML comment', 'kept as an MDX comment {/* … */}');
    const value = `/*${comment[1]!.replaceAll('*/', '* /')}*/`;
    return [{ type: inline ? 'mdxTextExpression' : 'mdxFlowExpression', value, position: node.position } as never];
  }
  if (/^<br\s*\/?>$/i.test(node.value.trim())) return [{ type: 'break', position: node.position }];
  const fragment: HastRoot = fromHtml(node.value, { fragment: true });
  const refused = findRefused(fragment);
  if (refused) {
    context.report.add(node, 'todo', `HTML <${refused}>`, 'no safe MDX form: kept as a visible HTML code block');
    return inline ? [{ type: 'inlineCode', value: node.value, position: node.position } as never] : [{ type: 'code', lang: 'html', value: node.value, position: node.position }];
  }
  visit(fragment, 'element', (element: Element) => {
    const src = element.tagName === 'img' ? String(element.properties.src ?? '') : '';
    if (src && !/^([a-z][a-z0-9+.-]*:|\/\/)/i.test(src)) {
      context.report.add(node, 'todo', `HTML image ${src}`, 'not copied (only Markdown images are): write it as ![alt](path) beside the page');
    }
  });
  const converted = fragment.children.flatMap((child) => jsx(child, inline));
  const written = inline ? converted : flow(converted);
  context.report.add(node, 'info', `HTML ${node.value.trim().split('\n')[0]!.slice(0, 40)}`, 'written as JSX');
  return written as RootContent[];
}

function findRefused(node: HastRoot | ElementContent): string | undefined {
  if (node.type === 'element' && !kept.has(node.tagName)) return node.tagName;
  if ('children' in node) for (const child of node.children) {
    const found = findRefused(child as ElementContent);
    if (found) return found;
  }
  return undefined;
}

const phrasing = new Set(['a', 'abbr', 'b', 'br', 'code', 'del', 'em', 'font', 'i', 'img', 'ins', 'kbd', 'mark', 'q', 's', 'samp', 'small', 'span', 'strong', 'sub', 'sup', 'u', 'var']);

type Converted = MdxJsxFlowElement | MdxJsxTextElement | Paragraph | { type: 'text'; value: string };

/**
 * HTML elements as JSX: inline ones as text elements, blocks as flow elements whose runs of
 * inline content are paragraphs, so that Markdown escapes their `{` and `<` as in any text.
 */
function jsx(node: HastRoot['children'][number], inline: boolean): Converted[] {
  if (node.type === 'text') return node.value.trim() ? [{ type: 'text', value: node.value }] : [];
  if (node.type !== 'element') return [];
  if (inline || phrasing.has(node.tagName)) {
    return [{ type: 'mdxJsxTextElement', name: node.tagName, attributes: jsxAttributes(node), children: node.children.flatMap((child) => jsx(child, true)) as never }];
  }
  return [{ type: 'mdxJsxFlowElement', name: node.tagName, attributes: jsxAttributes(node), children: flow(node.children.flatMap((child) => jsx(child, false))) as never }];
}

function flow(nodes: Converted[]): Converted[] {
  const out: Converted[] = [];
  for (const node of nodes) {
    if (node.type === 'text' || node.type === 'mdxJsxTextElement') {
      const last = out.at(-1);
      if (last?.type === 'paragraph') last.children.push(node as PhrasingContent);
      else out.push({ type: 'paragraph', children: [node as PhrasingContent] });
    } else out.push(node);
  }
  for (const node of out) if (node.type === 'paragraph') {
    const first = node.children[0];
    const last = node.children.at(-1);
    if (first?.type === 'text') first.value = first.value.trimStart();
    if (last?.type === 'text') last.value = last.value.trimEnd();
  }
  return out;
}

/** HTML attribute names as written in HTML (`class`, `data-x`): Astro's JSX takes them so. */
function jsxAttributes(element: Element): MdxJsxAttribute[] {
  return Object.entries(element.properties ?? {}).map(([property, value]) => ({
    type: 'mdxJsxAttribute',
    name: find(htmlSchema, property).attribute,
    value: value === true ? null : Array.isArray(value) ? value.join(' ') : String(value),
  }));
}
