import type { Root } from 'mdast';
import remarkDirective from 'remark-directive';
import remarkFrontmatter from 'remark-frontmatter';
import remarkGfm from 'remark-gfm';
import remarkMdx from 'remark-mdx';
import remarkParse from 'remark-parse';
import remarkStringify from 'remark-stringify';
import { unified } from 'unified';

/**
 * MDX as Atelier's pages are read: GFM, directives (asides, steps, launch cards), front matter.
 * remark-mdx's serializer escapes what MDX would read as code (`{`, `<`) and never writes
 * autolinks (`<https://…>`, JSX to MDX).
 */
function mdx() {
  return unified().use(remarkParse).use(remarkGfm).use(remarkDirective).use(remarkMdx).use(remarkFrontmatter, ['yaml']);
}

export function writeMdx(tree: Root): string {
  return mdx()
    .use(remarkStringify, { bullet: '-', emphasis: '_', strong: '*', fence: '`', rule: '-', listItemIndent: 'one', resourceLink: true })
    .stringify(tree);
}

export function parseMdx(value: string): Root {
  return mdx().parse(value);
}
