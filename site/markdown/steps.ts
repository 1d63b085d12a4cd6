import type { List, ListItem, Root, Text } from 'mdast';
import type { TextDirective } from 'mdast-util-directive';
import { toString } from 'mdast-util-to-string';
import type { Node, Parent } from 'unist';
import type { VFile } from 'vfile';
import { visit, SKIP } from 'unist-util-visit';
import type { LabDefinition } from '../../server/labs/schema.ts';
import { element, text, type ElementNode } from './elements.ts';
import type { PageContext } from './page-language.ts';

const stepId = /^[a-z0-9][a-z0-9-]*$/;

/**
 * Checks of the learner rather than of a page's lab (POST /api/me/checks/<id>): a page may use
 * them without a :::launch block.
 */
export const learnerChecks = new Set(['nothing-running']);

/**
 * Makes every GFM task item a step with a stable id: the id of its check (`:check[made-dir]`) or
 * an explicit one (`:step{#show-dir}`). Ids come from the author, not from list positions or
 * wording, so they survive edits elsewhere in the page and are the same in both languages, which
 * lets progress follow a learner from the French page to the English one.
 */
export function transformSteps(tree: Root, file: VFile, lab: LabDefinition | undefined, { t }: PageContext): void {
  const seen = new Set<string>();
  visit(tree, 'listItem', (item: ListItem) => {
    if (typeof item.checked !== 'boolean') return;
    const ids: { id: string; check?: string }[] = [];
    visit(item, 'textDirective', (directive: TextDirective, index, parent: Parent | undefined) => {
      if (!parent || index === undefined) return;
      if (directive.name === 'check') {
        const check = toString(directive).trim();
        if (!stepId.test(check)) file.fail(`:check[${check}] needs a check id (lower-case letters, digits, dashes)`, directive);
        if (learnerChecks.has(check)) {
          ids.push({ id: check, check });
          parent.children.splice(index, 1, checkButton(check, t, 'learner') as never);
          return SKIP;
        }
        if (!lab) file.fail(`:check[${check}] needs a :::launch block on the page: checks run in its lab`, directive);
        if (!lab.checks[check]) {
          const known = Object.keys(lab.checks).join(', ') || 'none';
          file.fail(`unknown check "${check}" for lab "${lab.id}" (labs/${lab.id}/lab.yaml has: ${known})`, directive);
        }
        ids.push({ id: check, check });
        parent.children.splice(index, 1, checkButton(check, t) as never);
        return SKIP;
      }
      if (directive.name === 'step') {
        const id = directive.attributes?.id ?? '';
        if (!stepId.test(id)) file.fail(`:step needs an id such as :step{#show-dir} (lower-case letters, digits, dashes)`, directive);
        ids.push({ id });
        parent.children.splice(index, 1);
        trimEnd(parent.children[index - 1]);
        return [SKIP, index];
      }
      return undefined;
    });
    if (ids.length === 0) {
      file.fail('this task item needs a stable id shared by its French and English versions: end it with :check[…] or :step{#…}', item);
    }
    if (ids.length > 1) file.fail('a task item carries one id: one :check[…] or one :step{#…}', item);
    const [{ id, check }] = ids as [{ id: string; check?: string }];
    if (seen.has(id)) file.fail(`step id "${id}" is used twice on this page`, item);
    seen.add(id);
    item.data = { ...item.data, hProperties: { className: ['task-list-item'], ...(item.data?.hProperties ?? {}), dataStep: id, ...(check ? { dataCheck: check } : {}) } };
    writeLabelledCheckbox(item, id);
  });
  visit(tree, 'list', (list: List) => {
    if (list.children.some((item) => item.data?.hProperties?.dataStep !== undefined)) {
      list.data = { ...list.data, hProperties: { ...(list.data?.hProperties ?? {}), className: ['contains-task-list'] } };
    }
  });
  visit(tree, 'textDirective', (directive: TextDirective) => {
    if (directive.name === 'check' || directive.name === 'step') {
      file.fail(`:${directive.name} belongs at the end of a task item (- [ ] …)`, directive);
    }
  });
}

/**
 * Each step's checkbox is named by the step's own words (WCAG 4.1.2). mdast-util-to-hast would
 * write a bare <input> for a task item, so the plugin writes the checkbox itself, labelled by a
 * span around the item's text; the Check button stays outside the span, so the checkbox is named
 * "Create the folder my-folder", not "… Check". The checkbox keeps to-hast's place (first in the
 * item, or in its first paragraph in a loose list), where the browser code finds it.
 */
function writeLabelledCheckbox(item: ListItem, id: string): void {
  const labelId = `step-label-${id}`;
  let paragraph = item.children[0];
  if (paragraph?.type !== 'paragraph') {
    paragraph = { type: 'paragraph', children: [] };
    item.children.unshift(paragraph);
  }
  const isCheck = (node: Node) => (node as ElementNode).data?.hName === 'atelier-check';
  const words = paragraph.children.filter((node) => !isCheck(node));
  trimEnd(words.at(-1));
  const checks = paragraph.children.filter((node) => isCheck(node));
  const box = element('input', { type: 'checkbox', checked: item.checked === true, disabled: true, ariaLabelledBy: labelId });
  const label = element('span', { id: labelId, className: ['atelier-step__text'] }, words);
  paragraph.children = [box, text(' '), label, ...(checks.length ? [text(' ')] : []), ...checks] as never;
  // Not a GFM task item any more for to-hast, which would add a second, unnamed checkbox.
  item.checked = null;
}

function checkButton(check: string, t: PageContext['t'], scope?: 'learner') {
  return element('atelier-check', { dataCheck: check, ...(scope ? { dataScope: scope } : {}), className: ['atelier-check'] }, [
    element('button', { type: 'button', className: ['atelier-check__button'] }, [text(t('steps.check'))]),
    element('span', { className: ['atelier-check__result'], role: 'status', ariaLive: 'polite' }),
  ]);
}

function trimEnd(node: unknown): void {
  if (node && (node as Text).type === 'text') (node as Text).value = (node as Text).value.trimEnd();
}
