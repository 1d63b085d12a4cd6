import type { Code, Root } from 'mdast';
import { visit } from 'unist-util-visit';
import { element, text } from './elements.ts';
import type { PageContext } from './page-language.ts';

const runFlag = /(^|\s)run(?=\s|$)/;

/** A fenced block marked `run` (```bash run): a command for the page's lab terminal. */
export function isRunBlock(node: Code): node is Code & { meta: string } {
  return node.meta != null && runFlag.test(node.meta);
}

/**
 * Wraps ```bash run blocks in <atelier-run>, whose button types the command into the lab's
 * terminal. The code block itself is left to Starlight's Expressive Code.
 */
export function transformRunBlocks(tree: Root, { t }: PageContext): void {
  visit(tree, 'code', (node: Code, index, parent) => {
    if (!parent || index === undefined || !isRunBlock(node)) return;
    const meta = node.meta.replace(runFlag, ' ').trim();
    const code: Code = { ...node, meta: meta || null };
    const wrapper = element('atelier-run', { dataCommand: node.value, className: ['atelier-run'] }, [
      code,
      element('button', { type: 'button', className: ['atelier-run__button'], title: t('steps.runTitle') }, [
        text(`▶ ${t('steps.run')}`),
      ]),
    ]);
    parent.children.splice(index, 1, wrapper as never);
  });
}
