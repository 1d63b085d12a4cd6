/**
 * The two small rules terminal flow control is made of, kept pure (no pty, no socket, no clock
 * of their own) so that they are tested alone and shared by the shell and the mirror worker.
 */

/**
 * Pause above `high`, resume below `low` (xterm.js's watermark scheme, as wetty and ttyd use it):
 * the gap keeps a consumer near the limit from pausing and resuming on every chunk.
 */
export class Watermarks {
  readonly high: number;
  readonly low: number;
  #paused = false;

  constructor(high: number, low: number) {
    if (!(low < high)) throw new RangeError('low watermark must be below the high one');
    this.high = high;
    this.low = low;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Takes the consumer's current lag; true when that changed `paused`. */
  update(lag: number): boolean {
    if (!this.#paused && lag > this.high) this.#paused = true;
    else if (this.#paused && lag < this.low) this.#paused = false;
    else return false;
    return true;
  }
}

/**
 * A CPU budget as a token bucket, in milliseconds: it fills at `share` ms per ms of wall time up
 * to `burst` ms, and work is charged after it ran (a slice may overdraw; the debt then waits).
 */
export class CpuBudget {
  readonly share: number;
  readonly burst: number;
  #tokens: number;
  #at: number;

  constructor(share: number, burst: number, now: number) {
    this.share = share;
    this.burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  charge(ms: number, now: number): void {
    this.#refill(now);
    this.#tokens -= ms;
  }

  available(now: number): boolean {
    this.#refill(now);
    return this.#tokens > 0;
  }

  /** When `available` turns true again (now if it is). */
  readyAt(now: number): number {
    this.#refill(now);
    return this.#tokens > 0 ? now : now + (0.01 - this.#tokens) / this.share;
  }

  #refill(now: number): void {
    if (now <= this.#at) return;
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#at) * this.share);
    this.#at = now;
  }
}
