/**
 * A learner typing at human pace into one shell: keys every 100–300 ms (5 keys/s on average,
 * jittered), alternating `a` and DEL so the line never grows. Each `a` is timed from the moment
 * it is sent until an `a` comes back in the output (readline echoes it; DEL's echo holds none).
 */

export interface TypingResult {
  /** Echo round trips (ms) of the keys sent inside the measured window. */
  samples: number[];
  /** Timed keys whose echo never came (within the drain time after the end). */
  lost: number;
  keys: number;
}

export const minGapMs = 100;
export const maxGapMs = 300;

export class Typist {
  readonly #send: (key: string) => void;
  /** Send times of the `a` keys whose echo has not come yet, oldest first; NaN = not measured. */
  readonly #pending: number[] = [];
  readonly #samples: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  #nextIsA = true;
  #keys = 0;
  #measureFrom = 0;
  #measureTo = 0;
  #stopAt = 0;

  constructor(send: (key: string) => void) {
    this.#send = send;
  }

  /** Types from now until `stopAt` (performance.now() ms); only keys sent in [from, to) are timed. */
  start(measureFrom: number, measureTo: number): void {
    this.#measureFrom = measureFrom;
    this.#measureTo = measureTo;
    this.#stopAt = measureTo;
    // A random phase, so that 150 typists do not all press keys on the same tick.
    this.#schedule(Math.random() * maxGapMs);
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => this.#tick(), delay);
  }

  #tick(): void {
    const now = performance.now();
    if (now >= this.#stopAt) {
      this.#timer = undefined;
      return;
    }
    this.#keys += 1;
    if (this.#nextIsA) {
      this.#pending.push(now >= this.#measureFrom && now < this.#measureTo ? now : Number.NaN);
      this.#send('a');
    } else {
      this.#send('\x7f');
    }
    this.#nextIsA = !this.#nextIsA;
    this.#schedule(minGapMs + Math.random() * (maxGapMs - minGapMs));
  }

  /** Feed every piece of output of the shell. */
  output(data: string): void {
    const now = performance.now();
    for (let i = data.indexOf('a'); i !== -1 && this.#pending.length > 0; i = data.indexOf('a', i + 1)) {
      const sent = this.#pending.shift() as number;
      if (!Number.isNaN(sent)) this.#samples.push(now - sent);
    }
  }

  get typing(): boolean {
    return this.#timer !== undefined;
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Pending keys that were measured (after stop(), those are the lost ones). */
  get outstanding(): number {
    return this.#pending.filter((t) => !Number.isNaN(t)).length;
  }

  result(): TypingResult {
    const lost = this.outstanding;
    this.#pending.length = 0;
    const samples = this.#samples.splice(0);
    const keys = this.#keys;
    this.#keys = 0;
    this.#nextIsA = true;
    return { samples, lost, keys };
  }
}

/** Runs typists until `durationMs` after a warm-up, then waits (bounded) for the last echoes. */
export async function typeFor(typists: Typist[], warmupMs: number, durationMs: number, drainMs = 2000): Promise<TypingResult> {
  const now = performance.now();
  for (const t of typists) t.start(now + warmupMs, now + warmupMs + durationMs);
  const end = now + warmupMs + durationMs;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, end - performance.now()) + 20));
  const deadline = performance.now() + drainMs;
  while (performance.now() < deadline && typists.some((t) => t.outstanding > 0)) await new Promise((resolve) => setTimeout(resolve, 20));
  const all: TypingResult = { samples: [], lost: 0, keys: 0 };
  for (const t of typists) {
    t.stop();
    const r = t.result();
    for (const s of r.samples) all.samples.push(s);
    all.lost += r.lost;
    all.keys += r.keys;
  }
  return all;
}
