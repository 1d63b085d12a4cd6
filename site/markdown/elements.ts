/**
 * mdast nodes that become HTML elements through `data.hName` (mdast-util-to-hast's rule for
 * unknown nodes). That works in both .md and .mdx, where raw HTML nodes do not.
 */
import type { Node, Parent } from 'unist';

export interface ElementNode extends Parent {
  type: 'atelierElement';
  data: { hName: string; hProperties: Record<string, string | number | boolean | string[]> };
  children: Node[];
}

export function element(
  tagName: string,
  properties: ElementNode['data']['hProperties'],
  children: Node[] = [],
): ElementNode {
  return { type: 'atelierElement', data: { hName: tagName, hProperties: properties }, children };
}

export function text(value: string): Node {
  return { type: 'text', value } as Node;
}
