import type { BlockContent, DefinitionContent, Paragraph, PhrasingContent, Root, RootContent } from 'mdast';
import type { ContainerDirective, LeafDirective } from 'mdast-util-directive';
import type { MdxJsxFlowElement } from 'mdast-util-mdx-jsx';
import { toString } from 'mdast-util-to-string';
import type { Parent } from 'unist';
import { visit } from 'unist-util-visit';
import type { ImportContext } from './context.ts';

type Aside = 'note' | 'tip' | 'caution' | 'danger';
type Flow = BlockContent | DefinitionContent;

/** Quarto callout types and GitBook hint styles as Starlight's four asides (by what they warn of). */
const calloutAside: Record<string, Aside> = { note: 'note', tip: 'tip', warning: 'caution', caution: 'caution', important: 'danger' };
const hintAside: Record<string, Aside> = { info: 'note', success: 'tip', warning: 'caution', danger: 'danger' };

function aside(type: Aside, label: PhrasingContent[] | undefined, children: Flow[], at: ContainerDirective): ContainerDirective {
  const labelParagraph: Paragraph[] = label && label.length ? [{ type: 'paragraph', data: { directiveLabel: true }, children: label }] : [];
  return { type: 'containerDirective', name: type, attributes: {}, children: [...labelParagraph, ...children], position: at.position };
}

function tabs(items: { label: string; children: RootContent[] }[], context: ImportContext, at: Parent): MdxJsxFlowElement {
  context.usesTabs = true;
  return {
    type: 'mdxJsxFlowElement',
    name: 'Tabs',
    attributes: [],
    children: items.map((item) => ({
      type: 'mdxJsxFlowElement',
      name: 'TabItem',
      attributes: [{ type: 'mdxJsxAttribute', name: 'label', value: item.label }],
      children: item.children as never,
    })),
    position: at.position,
  };
}

export const tabsImport = "import { Tabs, TabItem } from '@astrojs/starlight/components';";

/**
 * The block directives the prepass wrote (parse.ts): Quarto's fenced divs (`div`) and GitBook's
 * tags (`gitbook-*`), innermost first, so a callout inside tabs is already an aside.
 */
export function transformBlocks(tree: Root, context: ImportContext): void {
  const blocks: { node: ContainerDirective | LeafDirective; parent: Parent; }[] = [];
  visit(tree, (node, _index, parent) => {
    if ((node.type === 'containerDirective' || node.type === 'leafDirective') && parent) blocks.push({ node: node as ContainerDirective, parent });
  });
  for (const { node, parent } of blocks.reverse()) {
    const index = parent.children.indexOf(node);
    if (index < 0) continue;
    const replacement = node.name === 'div' ? fencedDiv(node as ContainerDirective, context) : node.name.startsWith('gitbook-') ? gitbookTag(node, parent, context) : undefined;
    if (replacement) parent.children.splice(index, 1, ...(replacement as never[]));
  }
}

function fencedDiv(node: ContainerDirective, context: ImportContext): RootContent[] {
  const classes = (node.attributes?.class ?? '').split(/\s+/).filter(Boolean);
  const { title, collapse, class: _class, ...others } = node.attributes ?? {};
  const callout = classes.map((cls) => /^callout(?:-(\w+))?$/.exec(cls)).find(Boolean);
  const children = node.children as Flow[];
  if (callout) {
    const kind = callout[1] ?? 'note';
    const type = calloutAside[kind] ?? 'note';
    let label: PhrasingContent[] | undefined = title ? [{ type: 'text', value: title }] : undefined;
    const first = children[0];
    if (!label && first?.type === 'heading') {
      label = first.children;
      children.shift();
    }
    context.report.add(node, 'info', `callout .callout-${kind}`, `a Starlight aside :::${type}`);
    const dropped = [...(collapse !== undefined ? [`collapse="${collapse}" (asides do not fold)`] : []), ...Object.entries(others).map(([key, value]) => `${key}="${value}"`)];
    if (dropped.length) context.report.add(node, 'info', `callout attributes ${dropped.join(', ')}`, 'dropped');
    return [aside(type, label, children, node)];
  }
  if (classes.includes('panel-tabset')) {
    const level = Math.min(...children.filter((child) => child.type === 'heading').map((child) => (child.type === 'heading' ? child.depth : 6)));
    const items: { label: string; children: RootContent[] }[] = [];
    for (const child of children) {
      if (child.type === 'heading' && child.depth === level) items.push({ label: toString(child), children: [] });
      else if (items.length) items.at(-1)!.children.push(child);
      else items.push({ label: '…', children: [child] });
    }
    context.report.add(node, 'info', 'tabset .panel-tabset', 'Starlight tabs, one per heading');
    return [tabs(items, context, node)];
  }
  const written = context.lines[(node.position?.start.line ?? 1) - 1]?.trim() ?? '::: {}';
  context.report.add(node, 'info', `fenced div ${written}`, 'its content kept, the div and its styling dropped');
  return children;
}

function gitbookTag(node: ContainerDirective | LeafDirective, parent: Parent, context: ImportContext): RootContent[] | undefined {
  const tag = node.name.slice('gitbook-'.length);
  const attributes = node.attributes ?? {};
  const children = node.children as Flow[];
  const written = `{% ${tag}${Object.entries(attributes).map(([key, value]) => ` ${key}="${value}"`).join('')} %}`;
  if (node.type === 'containerDirective' && tag === 'hint') {
    const style = attributes.style ?? 'info';
    const type = hintAside[style] ?? 'note';
    context.report.add(node, 'info', written, `a Starlight aside :::${type}${hintAside[style] ? '' : ' (no aside of that style)'}`);
    return [aside(type, undefined, children, node as ContainerDirective)];
  }
  // Left for the {% tabs %} around it, which is handled after its content.
  if (tag === 'tab' && node.type === 'containerDirective' && parent.type === 'containerDirective' && (parent as ContainerDirective).name === 'gitbook-tabs') return undefined;
  if (node.type === 'containerDirective' && tag === 'tabs') {
    const items = children.map((child) =>
      child.type === 'containerDirective' && child.name === 'gitbook-tab'
        ? { label: child.attributes?.title ?? '…', children: child.children as RootContent[] }
        : { label: '…', children: [child as RootContent] },
    );
    context.report.add(node, 'info', '{% tabs %}', 'Starlight tabs');
    return [tabs(items, context, node)];
  }
  if (tag === 'embed' && attributes.url) {
    context.report.add(node, 'info', written, 'a link to what it embedded (pages embed nothing from other sites)');
    const link: Paragraph = { type: 'paragraph', children: [{ type: 'link', url: attributes.url, children: [{ type: 'text', value: attributes.url }] }], position: node.position };
    return [link, ...children];
  }
  if (tag === 'content-ref') {
    context.report.add(node, 'info', written, 'its links kept as they are');
    return children;
  }
  if (tag === 'code' && node.type === 'containerDirective') {
    const code = children.find((child) => child.type === 'code');
    if (code && attributes.title) code.meta = `title=${JSON.stringify(attributes.title)}`;
    context.report.add(node, 'info', written, attributes.title ? 'the title is the code block\'s title' : 'dropped around the code');
    return children;
  }
  context.report.add(node, 'todo', written, node.type === 'containerDirective' ? 'no Atelier equivalent: its content kept, the tag dropped' : 'no Atelier equivalent: kept as text');
  return node.type === 'containerDirective' ? children : [{ type: 'paragraph', children: [{ type: 'inlineCode', value: written }], position: node.position }];
}

