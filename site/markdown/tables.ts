import type { Root, Table } from 'mdast';
import { visit } from 'unist-util-visit';

/**
 * Starlight lets a wide table scroll sideways inside the page (a phone shows the datalab's
 * comparison tables that way); a region that scrolls must be reachable by keyboard to be read
 * (WCAG 2.1.1, axe's scrollable-region-focusable), so every table can take focus.
 */
export function makeTablesFocusable(tree: Root): void {
  visit(tree, 'table', (table: Table) => {
    table.data = { ...table.data, hProperties: { ...(table.data?.hProperties ?? {}), tabIndex: 0 } };
  });
}
