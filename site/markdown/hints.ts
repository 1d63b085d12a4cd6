import type { Code, ListItem, Root } from 'mdast';
import type { ContainerDirective } from 'mdast-util-directive';
import type { Node } from 'unist';
import type { VFile } from 'vfile';
import { visit } from 'unist-util-visit';
import { inLanguage, type LabDefinition } from '../../server/labs/schema.ts';
import { element, text } from './elements.ts';
import type { PageContext } from './page-language.ts';

/**
 * Help under a step, after transformSteps gave each task item its id:
 *   :::hint … :::   inside a task item (indented under it), several allowed: revealed one at a
 *                   time by <atelier-hints>'s button, the lab check's own hint still shown on failure;
 *   the solution    of the step's check (lab.yaml `solution`), in a closed disclosure;
 *   Skip            when the check has a `solve` script;
 *   Rebuild         on every step after a check step of the page that has a script: the page's
 *                   check ids before it, in page order, which the server's rebuild solves or checks
 *                   (the page is what knows the order).
 * A :::hint anywhere else fails the build.
 */
export function transformStepHelp(tree: Root, file: VFile, lab: LabDefinition | undefined, { t, language }: PageContext): void {
  const earlierChecks: string[] = [];
  // A lab without scripts has nothing to rebuild: its checks alone would only fail one by one.
  let solvableBefore = false;
  visit(tree, 'listItem', (item: ListItem) => {
    const step = item.data?.hProperties?.dataStep as string | undefined;
    if (step === undefined) return;
    const check = item.data?.hProperties?.dataCheck as string | undefined;
    const definition = check !== undefined && lab && Object.hasOwn(lab.checks, check) ? lab.checks[check] : undefined;
    const hints = item.children.filter((child): child is ContainerDirective => child.type === 'containerDirective' && child.name === 'hint');
    item.children = item.children.filter((child) => !hints.includes(child as ContainerDirective));
    const parts: Node[] = [];
    if (hints.length > 0) parts.push(hintList(step, hints, t));
    if (definition?.solution !== undefined) {
      const code: Code = { type: 'code', lang: definition.kind === 'notebook' ? 'python' : 'bash', meta: null, value: inLanguage(definition.solution, language).trimEnd() };
      parts.push(element('details', { className: ['atelier-solution'] }, [element('summary', {}, [text(t('stepHelp.solution'))]), code]));
    }
    const solvable = definition?.solve !== undefined;
    const rebuild = solvableBefore ? earlierChecks : [];
    if (solvable || rebuild.length > 0) {
      parts.push(
        element('atelier-step-actions', { className: ['atelier-step-actions'], ...(solvable ? { dataSkip: check } : {}), ...(rebuild.length ? { dataRebuild: rebuild.join(' ') } : {}) }, [
          ...(solvable ? [element('button', { type: 'button', dataAction: 'skip' }, [text(t('stepHelp.skip'))])] : []),
          ...(rebuild.length ? [element('button', { type: 'button', dataAction: 'rebuild' }, [text(t('stepHelp.rebuild'))])] : []),
          element('span', { className: ['atelier-step-actions__status'], role: 'status', ariaLive: 'polite' }),
        ]),
      );
    }
    if (parts.length > 0) item.children.push(element('div', { className: ['atelier-step-help'] }, parts) as never);
    if (definition) earlierChecks.push(check!);
    solvableBefore ||= solvable;
  });
  visit(tree, 'containerDirective', (node: ContainerDirective) => {
    if (node.name === 'hint') file.fail('a :::hint belongs inside a task item (- [ ] …), indented under it, after the item\'s first line', node);
  });
}

/** The hints, hidden until asked for; the button says how many there are and which comes next. */
function hintList(step: string, hints: ContainerDirective[], t: PageContext['t']): Node {
  const listId = `step-hints-${step}`;
  return element('atelier-hints', { className: ['atelier-hints'], dataTotal: hints.length }, [
    element('button', { type: 'button', className: ['atelier-hints__button'], ariaExpanded: 'false', ariaControls: listId }, [text(t('stepHelp.hint', { n: 1, total: hints.length }))]),
    // Polite: a hint revealed is read out after the button's new name, not instead of it.
    element(
      'div',
      { id: listId, className: ['atelier-hints__list'], ariaLive: 'polite' },
      hints.map((hint, index) =>
        element('div', { className: ['atelier-hint'], hidden: true }, [element('p', { className: ['atelier-hint__label'] }, [text(t('stepHelp.hintLabel', { n: index + 1 }))]), ...hint.children]),
      ),
    ),
  ]);
}
