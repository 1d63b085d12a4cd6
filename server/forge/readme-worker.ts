/** The README worker: one Markdown document in, its sanitized HTML (or the failure) out. */
import { parentPort } from 'node:worker_threads';
import { markdownToSafeHtml } from './readme-render.ts';

parentPort!.on('message', ({ id, markdown }: { id: number; markdown: string }) => {
  try {
    parentPort!.postMessage({ id, html: markdownToSafeHtml(markdown) });
  } catch (error) {
    // A hostile nesting can exhaust the stack: the page then shows the README as plain text.
    parentPort!.postMessage({ id, error: (error as Error).name });
  }
});
