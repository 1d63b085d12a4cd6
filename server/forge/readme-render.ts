/**
 * Markdown (GitHub's flavour) to sanitized HTML, with GitHub's own allow-list (rehype-sanitize's
 * default schema: no script, no event handler, no `javascript:` link, ids prefixed so they cannot
 * clobber the page's). Runs in the README worker (readme.ts), never on the server's main thread.
 */
import rehypeSanitize from 'rehype-sanitize';
import rehypeStringify from 'rehype-stringify';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import remarkRehype from 'remark-rehype';
import { unified } from 'unified';

const processor = unified().use(remarkParse).use(remarkGfm).use(remarkRehype).use(rehypeSanitize).use(rehypeStringify);

export function markdownToSafeHtml(markdown: string): string {
  return String(processor.processSync(markdown));
}
