/**
 * Who may run git at once: a few requests per learner, taken before a slot of the whole forge,
 * so that one learner's slow pushes only ever use their own few slots. Beyond their slots a
 * learner is refused at once; when the whole forge is full, a request waits its turn (first come,
 * first served) for a while rather than failing at the first sign of a busy class.
 * Written here rather than with a queue library: the per-learner count, the bounded wait and the
 * release of a waiter whose client went away are the whole of it.
 */

export type SlotRefusal = 'learner-busy' | 'forge-busy';

export interface SlotLimits {
  perLearner: number;
  total: number;
  /** How long a request may wait for a slot of the forge before it is refused. */
  maxWaitMs: number;
}

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
}

export class RequestSlots {
  readonly limits: SlotLimits;
  #running = 0;
  readonly #perLearner = new Map<string, number>();
  readonly #waiting: Waiter[] = [];

  constructor(limits: SlotLimits) {
    this.limits = limits;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * A slot for one request of `learnerId`: resolves with its release function (call it once, when
   * the request is over), or with why not. `signal` withdraws a request still waiting.
   */
  acquire(learnerId: string, signal?: AbortSignal): Promise<(() => void) | SlotRefusal> {
    const held = this.#perLearner.get(learnerId) ?? 0;
    if (held >= this.limits.perLearner) return Promise.resolve('learner-busy');
    this.#perLearner.set(learnerId, held + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#leave(learnerId);
      this.#running -= 1;
      this.#next();
    };
    if (this.#running < this.limits.total) {
      this.#running += 1;
      return Promise.resolve(release);
    }
    return new Promise((resolve) => {
      const giveUp = (): void => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', giveUp);
        this.#leave(learnerId);
        resolve('forge-busy');
      };
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          signal?.removeEventListener('abort', giveUp);
          this.#running += 1;
          resolve(release);
        },
        timer: setTimeout(giveUp, this.limits.maxWaitMs),
      };
      this.#waiting.push(waiter);
      signal?.addEventListener('abort', giveUp, { once: true });
    });
  }

  #leave(learnerId: string): void {
    const held = (this.#perLearner.get(learnerId) ?? 1) - 1;
    if (held > 0) this.#perLearner.set(learnerId, held);
    else this.#perLearner.delete(learnerId);
  }

  #next(): void {
    while (this.#running < this.limits.total && this.#waiting.length > 0) this.#waiting.shift()!.grant();
  }
}
