import type { ListItem, Paragraph, Root } from 'mdast';
import type { TextDirective } from 'mdast-util-directive';
import { toString } from 'mdast-util-to-string';
import { visit } from 'unist-util-visit';
import type { ImportContext } from './context.ts';

/**
 * A step id from the step's words: lower-case ASCII, the first few words, unique on the page.
 * It is written into the page (`:step{#…}`), so it stays the same when the wording is later
 * edited or translated, which is what progress is keyed on.
 */
export function stepIdFrom(words: string, taken: Set<string>): string {
  const base =
    words
      .normalize('NFD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, ' ')
      .trim()
      .split(' ')
      .filter(Boolean)
      .reduce((id, word) => (id.length === 0 ? word : id.length + word.length < 40 ? `${id}-${word}` : id), '') || 'step';
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
  taken.add(id);
  return id;
}

const hasStepId = (item: ListItem) => {
  let found = false;
  visit(item, 'textDirective', (directive: TextDirective) => {
    if (directive.name === 'step' || directive.name === 'check') found = true;
  });
  return found;
};

/** Every `- [ ]` item becomes an Atelier step: its id at the end of its first paragraph. */
export function transformTaskItems(tree: Root, context: ImportContext): void {
  const taken = new Set<string>();
  visit(tree, 'listItem', (item: ListItem) => {
    if (typeof item.checked !== 'boolean' || hasStepId(item)) return;
    // Atelier's steps do not nest: a step inside a step would give the outer one two ids.
    visit(item, 'listItem', (inner: ListItem) => {
      if (inner !== item && typeof inner.checked === 'boolean') {
        inner.checked = null;
        context.report.add(inner, 'todo', 'task item inside a task item', 'made a plain list item: Atelier steps do not nest');
      }
    });
    if (item.checked) context.report.add(item, 'info', 'checked task item - [x]', 'written unchecked: a step is ticked by the learner');
    item.checked = false;
    let paragraph = item.children[0];
    if (paragraph?.type !== 'paragraph') {
      paragraph = { type: 'paragraph', children: [] } satisfies Paragraph;
      item.children.unshift(paragraph);
    }
    const words = toString(paragraph).trim();
    if (!words) context.report.add(item, 'todo', 'task item without words', 'given a step id; write what the step asks');
    const last = paragraph.children.at(-1);
    if (last?.type === 'text') last.value = last.value.trimEnd();
    paragraph.children.push({ type: 'text', value: ' ' }, { type: 'textDirective', name: 'step', attributes: { id: stepIdFrom(words, taken) }, children: [] });
  });
}
