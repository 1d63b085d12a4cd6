/**
 * The launch queue: when the server runs as many labs as it may (ATELIER_MAX_LABS) or builds as
 * many sandboxes at once as it may (ATELIER_MAX_STARTING), a launch waits here, first come first
 * served, instead of failing. Also what the queue's wait estimate is made of: recent start
 * durations and recent departures, plus the labs' own expiry times.
 */

/** First in, first out, with removal from the middle (a learner deleting a queued lab). */
export class LaunchQueue {
  readonly #ids: string[] = [];

  get size(): number {
    return this.#ids.length;
  }

  push(id: string): number {
    this.#ids.push(id);
    return this.#ids.length;
  }

  shift(): string | undefined {
    return this.#ids.shift();
  }

  remove(id: string): boolean {
    const index = this.#ids.indexOf(id);
    if (index < 0) return false;
    this.#ids.splice(index, 1);
    return true;
  }

  /** 1 for the next lab to start; undefined when not queued. */
  position(id: string): number | undefined {
    const index = this.#ids.indexOf(id);
    return index < 0 ? undefined : index + 1;
  }

  ids(): readonly string[] {
    return this.#ids;
  }
}

/** Recent start durations and departures (labs stopping, which free capacity). */
export class StartStatistics {
  readonly #starts: number[] = [];
  readonly #departures: number[] = [];
  readonly #keep: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(options: { keep?: number; departureWindowMs?: number; now?: () => number } = {}) {
    this.#keep = options.keep ?? 50;
    this.#windowMs = options.departureWindowMs ?? 10 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  recordStart(durationMs: number): void {
    this.#starts.push(durationMs);
    if (this.#starts.length > this.#keep) this.#starts.shift();
  }

  recordDeparture(): void {
    const now = this.#now();
    this.#departures.push(now);
    while (this.#departures.length > 0 && now - this.#departures[0]! > this.#windowMs) this.#departures.shift();
    if (this.#departures.length > 10_000) this.#departures.splice(0, this.#departures.length - 10_000);
  }

  /** Mean of the recent starts, or `fallback` before any. */
  averageStartMs(fallback = 1_000): number {
    if (this.#starts.length === 0) return fallback;
    return this.#starts.reduce((sum, value) => sum + value, 0) / this.#starts.length;
  }

  /** Departures per millisecond over the recent window (0 before any). */
  departureRate(): number {
    const now = this.#now();
    const recent = this.#departures.filter((at) => now - at <= this.#windowMs);
    if (recent.length === 0) return 0;
    // Over the window, or since the first departure seen when the server is younger than that.
    const span = Math.max(now - recent[0]!, 60_000);
    return recent.length / Math.min(span, this.#windowMs);
  }
}

export interface WaitInputs {
  /** 1 for the next lab to start. */
  position: number;
  /** Labs starting or running, and the cap on them. */
  active: number;
  maxActive: number;
  /** Sandboxes being built at once, at most. */
  maxStarting: number;
  averageStartMs: number;
  /** Departures per millisecond recently (0: unknown). */
  departureRate: number;
  /** When each running lab is due to leave at the latest (expiry or idle limit), ms from now. */
  dueInMs: number[];
}

/**
 * Seconds until the lab at `position` is ready: the time for enough labs to leave (when the
 * server is full), then its turn among starts `maxStarting` at a time. At least 1.
 */
export function estimateWaitSeconds(inputs: WaitInputs): number {
  const { position, active, maxActive, maxStarting, averageStartMs, departureRate } = inputs;
  const free = Math.max(0, maxActive - active);
  const departuresNeeded = Math.max(0, position - free);
  let capacityMs = 0;
  if (departuresNeeded > 0) {
    const candidates: number[] = [];
    const due = [...inputs.dueInMs].sort((a, b) => a - b);
    if (departuresNeeded <= due.length) candidates.push(Math.max(0, due[departuresNeeded - 1]!));
    if (departureRate > 0) candidates.push(departuresNeeded / departureRate);
    // Nothing known (should not happen: a full server runs labs that all expire): say an hour.
    capacityMs = candidates.length > 0 ? Math.min(...candidates) : 3600_000;
  }
  const startMs = Math.ceil(position / Math.max(1, maxStarting)) * averageStartMs;
  return Math.max(1, Math.ceil((capacityMs + startMs) / 1000));
}
