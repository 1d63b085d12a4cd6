import type { ListItem, Root, Text } from 'mdast';
import type { TextDirective } from 'mdast-util-directive';
import { toString } from 'mdast-util-to-string';
import type { Parent } from 'unist';
import type { VFile } from 'vfile';
import { visit, SKIP } from 'unist-util-visit';
import type { LabDefinition } from '../../server/labs/schema.ts';
import { element, text } from './elements.ts';
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
    item.data = { ...item.data, hProperties: { ...(item.data?.hProperties ?? {}), dataStep: id, ...(check ? { dataCheck: check } : {}) } };
  });
  visit(tree, 'textDirective', (directive: TextDirective) => {
    if (directive.name === 'check' || directive.name === 'step') {
      file.fail(`:${directive.name} belongs at the end of a task item (- [ ] …)`, directive);
    }
  });
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
