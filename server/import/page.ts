import type { Heading, Root } from 'mdast';
import { toString } from 'mdast-util-to-string';
import { parse, stringify } from 'yaml';
import type { ImportContext } from './context.ts';

export interface FrontMatter {
  title: string;
  description?: string;
}

/**
 * The page's title and description from its front matter, or its first level-1 heading (which
 * Starlight writes itself from `title`, so it leaves the body). Other level-1 headings become
 * level 2: the title is the page's only h1. Front matter keys of the source's tool are reported.
 */
export function takeFrontMatter(tree: Root, context: ImportContext, fallbackTitle: string): FrontMatter {
  let data: Record<string, unknown> = {};
  const yamlNode = tree.children[0]?.type === 'yaml' ? tree.children[0] : undefined;
  if (yamlNode) {
    try {
      data = (parse(yamlNode.value) as Record<string, unknown> | null) ?? {};
    } catch (error) {
      context.report.add(yamlNode, 'todo', 'front matter', `not valid YAML (${(error as Error).message.split('\n')[0]}): left out`, yamlNode.value);
    }
    tree.children.shift();
  }
  const { title: givenTitle, description, ...others } = data;
  if (Object.keys(others).length) {
    context.report.add(yamlNode, 'info', `front matter ${Object.keys(others).join(', ')}`, `dropped (${context.dialect}'s settings)`, stringify(others));
  }
  let title = typeof givenTitle === 'string' ? givenTitle : undefined;
  const headings = tree.children.filter((node): node is Heading => node.type === 'heading');
  const first = headings[0];
  if (first?.depth === 1 && (!title || toString(first).trim() === title.trim())) {
    title ??= toString(first).replace(/\s*\{[^{}]*\}\s*$/, "").trim();
    tree.children.splice(tree.children.indexOf(first), 1);
  }
  for (const heading of tree.children.filter((node): node is Heading => node.type === 'heading' && node.depth === 1)) {
    heading.depth = 2;
    context.report.add(heading, 'info', `level-1 heading "${toString(heading)}"`, 'made level 2: the page title is the only level 1');
  }
  if (!title) {
    title = fallbackTitle;
    context.report.add(1, 'todo', 'title', `none in the source: "${title}" from the file name; give the page its title`);
  }
  return { title, ...(typeof description === 'string' ? { description } : {}) };
}
