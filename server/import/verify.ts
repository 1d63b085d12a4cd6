import { compile } from '@mdx-js/mdx';
import remarkDirective from 'remark-directive';
import remarkFrontmatter from 'remark-frontmatter';
import remarkGfm from 'remark-gfm';
import { VFile } from 'vfile';
import { atelierRemark } from '../../site/markdown/index.ts';

/**
 * Compiles a page as the site's build does its Markdown: MDX with GFM, directives and Atelier's
 * plugins (steps, launch cards, checks against labs/), at its place under content/<language>/,
 * which gives the plugins the page's language. Throws the build's error, with its line.
 */
export async function compilePage(value: string, pagePath: string): Promise<void> {
  await compile(new VFile({ value, path: pagePath }), {
    remarkPlugins: [remarkGfm, remarkDirective, [remarkFrontmatter, ['yaml']], atelierRemark],
  });
}
