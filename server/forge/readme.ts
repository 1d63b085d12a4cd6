/**
 * A repository's README as HTML for "My repositories", rendered on the server and sanitized
 * (readme-render.ts). Rendering is linear in the input but not cheap (about 1 s for 128 KiB of
 * tables on one core), and a deeply nested document exhausts the stack: so the input is bounded,
 * and the work runs in one worker thread, one document at a time, ended after a time limit; the
 * request's thread only waits. A README that cannot be rendered is shown as plain text.
 */
import { Worker } from 'node:worker_threads';

/** README bytes rendered at most; a longer one is offered as a file to open instead. */
export const readmeMaxBytes = 64 * 1024;
/** Time one render may take before its worker is ended. */
export const readmeRenderMs = 3_000;
/** Renders waiting at most; beyond, a README is shown as plain text. */
const maxWaiting = 32;
/** Rendered READMEs kept, by git blob id: the same content renders the same, whoever views it. */
const maxCached = 200;

/** Names GitHub shows as a folder's README, in its order of preference. */
const readmeNames = [/^readme\.md$/i, /^readme\.markdown$/i, /^readme$/i, /^readme\.txt$/i];

/** The README among a folder's entry names, if any. */
export function findReadme(names: string[]): string | undefined {
  for (const pattern of readmeNames) {
    const found = names.find((name) => pattern.test(name));
    if (found) return found;
  }
  return undefined;
}

interface Job {
  id: number;
  markdown: string;
  resolve: (html: string | undefined) => void;
}

/** One worker, started on first use and again after a render it had to end. */
export class ReadmeRenderer {
  #worker: Worker | undefined;
  #queue: Job[] = [];
  #current: { job: Job; timer: NodeJS.Timeout } | undefined;
  #next = 0;
  /** Every visit of a repository asks for its README again: a blob already rendered is not. */
  readonly #rendered = new Map<string, string>();

  /**
   * Sanitized HTML of `markdown`, or undefined when it could not be rendered in time. `blob`,
   * the git object id of its content, lets a second view of the same README skip the worker.
   */
  async render(markdown: string, blob?: string): Promise<string | undefined> {
    const known = blob === undefined ? undefined : this.#rendered.get(blob);
    if (known !== undefined) return known;
    if (this.#queue.length >= maxWaiting) return undefined;
    const html = await new Promise<string | undefined>((resolve) => {
      this.#queue.push({ id: (this.#next += 1), markdown, resolve });
      this.#pump();
    });
    if (blob !== undefined && html !== undefined) {
      this.#rendered.set(blob, html);
      if (this.#rendered.size > maxCached) this.#rendered.delete(this.#rendered.keys().next().value!);
    }
    return html;
  }

  close(): Promise<number> | undefined {
    for (const job of this.#queue.splice(0)) job.resolve(undefined);
    const worker = this.#worker;
    this.#worker = undefined;
    return worker?.terminate();
  }

  #start(): Worker {
    const worker = new Worker(new URL('./readme-worker.ts', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 128, stackSizeMb: 4 } });
    worker.unref();
    worker.on('message', ({ id, html }: { id: number; html?: string }) => this.#finish(id, html));
    worker.on('error', () => this.#fail(worker));
    worker.on('exit', () => this.#fail(worker));
    return worker;
  }

  #pump(): void {
    if (this.#current) return;
    const job = this.#queue.shift();
    if (!job) return;
    this.#worker ??= this.#start();
    const worker = this.#worker;
    const timer = setTimeout(() => {
      this.#fail(worker);
      void worker.terminate();
    }, readmeRenderMs);
    this.#current = { job, timer };
    worker.postMessage({ id: job.id, markdown: job.markdown });
  }

  #finish(id: number, html: string | undefined): void {
    if (!this.#current || this.#current.job.id !== id) return;
    clearTimeout(this.#current.timer);
    this.#current.job.resolve(html);
    this.#current = undefined;
    this.#pump();
  }

  /** The worker died or overran: its job gets no HTML, the next job a new worker. */
  #fail(worker: Worker): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    if (this.#current) this.#finish(this.#current.job.id, undefined);
  }
}
