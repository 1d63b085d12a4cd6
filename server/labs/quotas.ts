/**
 * Launch quotas, as plain functions over the live labs and a sliding-window rate limiter, so
 * they can be tested without a server:
 *   - labs per learner (queued, starting and running labs all count);
 *   - labs per client address (high: a whole class may share one school NAT);
 *   - launches per learner per minute (a sliding window: Retry-After says when the next one fits).
 * The server-wide cap (labs starting or running) is not a refusal: launches beyond it queue
 * (see queue.ts), and only a full queue refuses.
 */

export interface QuotaLimits {
  maxLabsPerLearner: number;
  maxLabsPerClient: number;
}

/** The part of a lab the quotas look at. */
export interface QuotaSubject {
  owner: string;
  learnerId?: string;
}

export type QuotaRefusal =
  | { code: 'too_many_labs'; scope: 'learner' | 'client'; max: number }
  | { code: 'rate_limited'; max: number; retryAfterSeconds: number }
  | { code: 'queue_full'; max: number; retryAfterSeconds: number };

/**
 * Whether one more lab for (owner, learnerId) fits the per-learner and per-client quotas,
 * `live` being every lab that counts (queued, starting, running).
 */
export function labQuotaRefusal(
  live: Iterable<QuotaSubject>,
  subject: QuotaSubject,
  limits: QuotaLimits,
): Extract<QuotaRefusal, { code: 'too_many_labs' }> | undefined {
  let ofLearner = 0;
  let ofClient = 0;
  for (const lab of live) {
    if (subject.learnerId !== undefined && lab.learnerId === subject.learnerId) ofLearner += 1;
    if (lab.owner === subject.owner) ofClient += 1;
  }
  if (subject.learnerId !== undefined && ofLearner >= limits.maxLabsPerLearner) {
    return { code: 'too_many_labs', scope: 'learner', max: limits.maxLabsPerLearner };
  }
  if (ofClient >= limits.maxLabsPerClient) return { code: 'too_many_labs', scope: 'client', max: limits.maxLabsPerClient };
  return undefined;
}

/**
 * At most `limit` events per key in any `windowMs` (a sliding log: exact, and small since a key
 * never holds more than `limit` timestamps). Keys that fell silent are swept as the map grows.
 */
export class RateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly #now: () => number;
  readonly #log = new Map<string, number[]>();
  #sweepAt: number;

  constructor(limit: number, windowMs: number, now: () => number = Date.now) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`rate limit must be a positive integer, not ${limit}`);
    if (!(windowMs > 0)) throw new RangeError(`rate window must be positive, not ${windowMs}`);
    this.limit = limit;
    this.windowMs = windowMs;
    this.#now = now;
    this.#sweepAt = 1024;
  }

  #recent(key: string, now: number): number[] {
    const times = this.#log.get(key);
    if (!times) return [];
    const recent = times.filter((at) => now - at < this.windowMs);
    if (recent.length === 0) this.#log.delete(key);
    else if (recent.length !== times.length) this.#log.set(key, recent);
    return recent;
  }

  /** 0 when one more event fits now; otherwise milliseconds until it does. */
  retryAfterMs(key: string): number {
    const now = this.#now();
    const recent = this.#recent(key, now);
    if (recent.length < this.limit) return 0;
    // The window frees a place once the oldest of the last `limit` events leaves it.
    return Math.max(1, recent[recent.length - this.limit]! + this.windowMs - now);
  }

  /** Records one event (call after retryAfterMs said 0). */
  hit(key: string): void {
    const now = this.#now();
    const recent = this.#recent(key, now);
    recent.push(now);
    this.#log.set(key, recent.slice(-this.limit));
    if (this.#log.size >= this.#sweepAt) {
      for (const known of [...this.#log.keys()]) this.#recent(known, now);
      this.#sweepAt = Math.max(1024, this.#log.size * 2);
    }
  }

  /** Keys currently tracked (for tests and metrics). */
  get size(): number {
    return this.#log.size;
  }
}
