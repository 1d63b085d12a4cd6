import type { Root } from 'mdast';
import type { ContainerDirective } from 'mdast-util-directive';
import type { VFile } from 'vfile';
import { visit } from 'unist-util-visit';
import type { LabDefinition } from '../../server/labs/schema.ts';
import { element, text } from './elements.ts';
import type { PageContext } from './page-language.ts';
import { offered } from '../../server/services/catalog.ts';

/**
 * Turns `:::launch{lab="…"}` into an <atelier-launch> card and returns the page's lab, which the
 * page's checks refer to. The card's static parts are written here, in the page's language, so
 * they show before any script runs and the card does not move when it comes alive.
 */
export function transformLaunchBlocks(
  tree: Root,
  file: VFile,
  labs: Map<string, LabDefinition>,
  { t, language }: PageContext,
): LabDefinition | undefined {
  let pageLab: LabDefinition | undefined;
  visit(tree, 'containerDirective', (node: ContainerDirective, index, parent) => {
    if (node.name !== 'launch' || !parent || index === undefined) return;
    const labId = node.attributes?.lab;
    if (!labId) file.fail('`:::launch` needs the lab to start, e.g. :::launch{lab="terminal-basics"}', node);
    const lab = labs.get(labId);
    if (!lab) file.fail(`unknown lab "${labId}" in :::launch (labs/ has: ${[...labs.keys()].join(', ') || 'none'})`, node);
    if (pageLab && pageLab.id !== lab.id) {
      file.fail(`a page launches one lab; this one already launches "${pageLab.id}", not also "${lab.id}"`, node);
    }
    pageLab = lab;
    const kinds = offered(lab);
    const preselected = node.attributes?.service ?? kinds[0]!;
    if (!(kinds as string[]).includes(preselected)) {
      file.fail(`:::launch service="${preselected}" is not in the catalogue of lab "${lab.id}" (it offers: ${kinds.join(', ')})`, node);
    }
    // The catalogue, as the datalab's: one choice per service the lab offers (none with one only).
    const catalog =
      kinds.length < 2
        ? []
        : [
            element('fieldset', { className: ['atelier-launch__catalog'] }, [
              element('legend', {}, [text(t('catalog.legend'))]),
              ...kinds.map((kind) =>
                element('label', { className: ['atelier-launch__choice'] }, [
                  element('input', {
                    type: 'radio',
                    name: `atelier-service-${lab.id}`,
                    value: kind,
                    checked: kind === preselected,
                    ariaDescribedBy: `atelier-service-${lab.id}-${kind}`,
                  }),
                  element('span', { className: ['atelier-launch__choice-name'] }, [text(t(`catalog.${kind}.name`))]),
                  element('span', { className: ['atelier-launch__choice-text'], id: `atelier-service-${lab.id}-${kind}` }, [text(t(`catalog.${kind}.description`))]),
                ]),
              ),
            ]),
          ];
    const card = element(
      'atelier-launch',
      {
        dataLab: lab.id,
        dataCpu: lab.resources.cpu,
        dataMemory: lab.resources.memory,
        dataWorkspace: lab.workspace,
        className: ['atelier-launch', 'not-content'],
        role: 'region',
        ariaLabel: lab.title[language],
      },
      [
        element('div', { className: ['atelier-launch__intro'] }, node.children),
        ...catalog,
        // Mirrors the datalab's launch form (resources, git repository, Vault); filled on demand.
        element('details', { className: ['atelier-launch__configure'] }, [
          element('summary', {}, [text(t('configure.title'))]),
          element('div', { className: ['atelier-launch__form'] }),
        ]),
        element('div', { className: ['atelier-launch__bar'] }, [
          element('button', { type: 'button', className: ['atelier-launch__launch'], dataAction: 'launch' }, [
            text(t('launch.button')),
          ]),
          element('span', { className: ['atelier-launch__status'], role: 'status', ariaLive: 'polite' }),
          // The running lab lives in the dock beside the course; this brings the keyboard there.
          element('button', { type: 'button', className: ['atelier-launch__show'], dataAction: 'show', hidden: true }, [
            text(t('dock.show')),
          ]),
        ]),
      ],
    );
    parent.children.splice(index, 1, card as never);
  });
  return pageLab;
}
