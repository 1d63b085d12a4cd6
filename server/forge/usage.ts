/**
 * Bytes a learner's repositories take (the sum of their files' sizes), for the forge quota.
 * Measured by walking the learner's directory with asynchronous fs calls (the thread pool, never
 * the event loop), once, then kept until a push or a deletion changes it.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export class ForgeUsage {
  readonly #known = new Map<string, Promise<number>>();
  readonly #dirOf: (learnerId: string) => string;

  constructor(dirOf: (learnerId: string) => string) {
    this.#dirOf = dirOf;
  }

  bytes(learnerId: string): Promise<number> {
    let known = this.#known.get(learnerId);
    if (!known) {
      known = sizeOf(this.#dirOf(learnerId));
      this.#known.set(learnerId, known);
      known.catch(() => this.#known.delete(learnerId));
    }
    return known;
  }

  /** The learner's repositories changed: measure again next time. */
  forget(learnerId: string): void {
    this.#known.delete(learnerId);
  }
}

async function sizeOf(dir: string): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let total = 0;
  // In batches: a repository of many loose objects must not open thousands of requests at once.
  for (let start = 0; start < entries.length; start += 256) {
    const sizes = await Promise.all(
      entries.slice(start, start + 256).map((entry) =>
        lstat(join(dir, entry)).then(
          (stats) => (stats.isFile() ? stats.size : 0),
          () => 0, // removed meanwhile (git's own temporary files)
        ),
      ),
    );
    for (const size of sizes) total += size;
  }
  return total;
}
