import type { Nodes, Root } from 'mdast';
import type { Nodes as HastNode } from 'hast';
import { fromHtml } from 'hast-util-from-html';
import { replaceShortcodes } from './emoji.ts';

/**
 * The words a reader gets from a page: text, code, image descriptions, titles given as
 * attributes; for raw HTML, its text without the tags. Shortcodes count as the emoji they are.
 */
export function pageWords(tree: Root): string[] {
  const parts: string[] = [];
  const walk = (node: Nodes) => {
    switch (node.type) {
      case 'text':
        parts.push(replaceShortcodes(node.value));
        return;
      case 'html':
        parts.push(htmlText(fromHtml(node.value, { fragment: true })));
        return;
      case 'code':
        // A meta's values (a title), not its keys, which the importer renames.
        parts.push(node.value, ...[...(node.meta ?? '').matchAll(/=(?:"([^"]*)"|(\S+))/g)].map((match) => match[1] ?? match[2] ?? ''));
        return;
      case 'inlineCode':
      case 'yaml':
        parts.push(node.value);
        return;
      case 'image':
        parts.push(node.alt ?? '');
        return;
      default:
        break;
    }
    if (node.type === 'containerDirective' || node.type === 'leafDirective') parts.push(node.attributes?.title ?? '');
    if (node.type === 'mdxJsxFlowElement' || node.type === 'mdxJsxTextElement') {
      for (const attribute of node.attributes) if (attribute.type === 'mdxJsxAttribute' && attribute.name === 'label' && typeof attribute.value === 'string') parts.push(attribute.value);
    }
    if (node.type === 'mdxFlowExpression' || node.type === 'mdxTextExpression') parts.push(node.value);
    if ('children' in node) for (const child of node.children) walk(child as Nodes);
  };
  walk(tree);
  return words(parts.join(' '));
}

export function words(text: string): string[] {
  return text.match(/[\p{L}\p{N}]+/gu) ?? [];
}

function htmlText(node: HastNode): string {
  if (node.type === 'text' || node.type === 'comment') return ` ${node.value} `;
  return 'children' in node ? node.children.map((child) => htmlText(child)).join('') : '';
}

/**
 * The source's words that the output has fewer of, less those the report says were removed
 * (counted, not ordered: a title moves to the front matter, a summary to the top of its block).
 * Empty when no text was lost; the output may add words (labels, notes).
 */
export function missingWords(source: string[], removed: string[], output: string[]): string[] {
  const have = new Map<string, number>();
  for (const word of [...output, ...removed]) have.set(word, (have.get(word) ?? 0) + 1);
  const missing: string[] = [];
  for (const word of source) {
    const left = have.get(word) ?? 0;
    if (left > 0) have.set(word, left - 1);
    else missing.push(word);
  }
  return missing;
}
