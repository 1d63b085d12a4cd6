/**
 * Requests in progress per learner: beyond the cap the endpoint answers 503 SlowDown at once
 * (every S3 client backs off and retries it), so one learner's stalled uploads cannot hold the
 * server's sockets, descriptors and disk bandwidth that other learners need.
 */
export class RequestLimiter {
  readonly #max: number;
  readonly #active = new Map<string, number>();

  constructor(maxPerLearner: number) {
    this.#max = maxPerLearner;
  }

  /** A slot for `learnerId`, or undefined when they already hold the maximum; release it once. */
  acquire(learnerId: string): (() => void) | undefined {
    const active = this.#active.get(learnerId) ?? 0;
    if (active >= this.#max) return undefined;
    this.#active.set(learnerId, active + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#active.get(learnerId) ?? 1) - 1;
      if (left === 0) this.#active.delete(learnerId);
      else this.#active.set(learnerId, left);
    };
  }

  active(learnerId: string): number {
    return this.#active.get(learnerId) ?? 0;
  }
}
