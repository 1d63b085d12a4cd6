import type { Root, Text } from 'mdast';
import { gemoji } from 'gemoji';
import { visit } from 'unist-util-visit';

const byName = new Map(gemoji.flatMap((entry) => entry.names.map((name) => [name, entry.emoji] as const)));
const shortcode = /:([a-z0-9_+-]+):/g;

/** GitHub's shortcodes (`:warning:`, `:arrow_right:`) as the emoji they stand for; unknown ones stay. */
export function replaceShortcodes(value: string): string {
  return value.replace(shortcode, (code, name: string) => byName.get(name) ?? code);
}

/** In text only: a shortcode in code is code. */
export function transformShortcodes(tree: Root): void {
  visit(tree, 'text', (node: Text) => {
    node.value = replaceShortcodes(node.value);
  });
}
