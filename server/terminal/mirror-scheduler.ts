/**
 * Fair scheduling of many shells' screen mirrors on one thread (a mirror worker). A shell's output
 * is parsed in small slices, round robin over the shells that have work, each slice timed and
 * charged to that shell's CPU budget: a shell over its budget waits for it to refill while the
 * others go on, so an escape-sequence flood slows its own mirror only (and, through flow control,
 * its own pty), never the other shells of the worker. Shells also share a budget per group (a
 * learner's): one learner flooding from all their terminals still gets a bounded part of a core.
 *
 * A slice is cut by length and by escape sequences: a plain character costs ~10 ns to parse, but
 * one sequence may cost up to ~0.5 ms at the largest terminal (a full-screen DECALN fill, an RIS
 * reset reallocating the buffers, a REP of a screenful), so a slice holds at most
 * `sliceEscapes` introducers (ESC or a C1 control): a few ms at worst.
 */
import { CpuBudget, Watermarks } from './flow.ts';

export interface Mirror {
  parse(data: string): void;
  resize(cols: number, rows: number): void;
  serialize(): string;
  dispose(): void;
}

export interface SchedulerOptions {
  clock: () => number;
  /** Characters per slice at most. */
  sliceChars: number;
  /** Escape-sequence introducers per slice at most. */
  sliceEscapes: number;
  /** ms of parsing per ms of wall time one shell may use, and the burst it may save up. */
  share: number;
  burstMs: number;
  /**
   * The share while a viewer waits for the shell's screen (a reload, a reconnection): the wait
   * is for work already queued, bounded by flow control, so a higher share shortens it.
   */
  catchUpShare: number;
  /** The same for all the shells of one group together. */
  groupShare: number;
  groupBurstMs: number;
  /**
   * The time (ms) a shell's queue would take to clear at its share, estimated from its recent
   * cost per character, above which it is reported behind (its pty is held) and below which it
   * is caught up again: what a reattach to a flooding shell waits, roughly.
   */
  behindMs: number;
  caughtUpMs: number;
}

type Item = { kind: 'data'; data: string } | { kind: 'resize'; cols: number; rows: number } | { kind: 'snapshot'; request: number };

interface Group {
  budget: CpuBudget;
  members: number;
}

interface Entry {
  mirror: Mirror;
  group: Group;
  groupKey: string;
  queue: Item[];
  /** Characters of the head data item already parsed. */
  offset: number;
  queuedChars: number;
  budget: CpuBudget;
  /** Recent parse cost, ms per character (the latest slices weigh most). */
  costPerChar: number;
  behind: Watermarks;
  parsed: number;
  scheduled: boolean;
  /** Snapshot requests in the queue. */
  snapshots: number;
}

/** What a turn produced, for the main thread. */
export interface TurnReport {
  /** Characters parsed since the last report, by shell. */
  parsed: Array<[id: number, characters: number]>;
  snapshots: Array<[request: number, screen: string]>;
  /** Shells whose "behind" state changed. */
  behind: Array<[id: number, behind: boolean]>;
  /** ms spent parsing and serializing, and how many times a shell hit its budget. */
  busyMs: number;
  throttled: number;
}

const introducers = /[\x1b\x80-\x9f]/g;

/** Length of the next slice of `data` from `start`: `maxChars` at most, `maxEscapes` introducers at most. */
export function sliceEnd(data: string, start: number, maxChars: number, maxEscapes: number): number {
  const end = Math.min(data.length, start + maxChars);
  introducers.lastIndex = start;
  for (let seen = 0; ; seen++) {
    const match = introducers.exec(data);
    if (!match || match.index >= end) return end;
    // The slice stops before the introducer one past the limit; a first one always goes in.
    if (seen >= maxEscapes && match.index > start) return match.index;
  }
}

export class MirrorScheduler {
  readonly #options: SchedulerOptions;
  readonly #entries = new Map<number, Entry>();
  readonly #groups = new Map<string, Group>();
  /** Shells with work and budget, in turn order. */
  readonly #ready: number[] = [];
  /** Shells with work and no budget left. */
  readonly #waiting = new Set<number>();
  #report: TurnReport = MirrorScheduler.#emptyReport();
  readonly #changedBehind = new Set<number>();

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  open(id: number, mirror: Mirror, groupKey: string): void {
    const now = this.#options.clock();
    let group = this.#groups.get(groupKey);
    if (!group) {
      group = { budget: new CpuBudget(this.#options.groupShare, this.#options.groupBurstMs, now), members: 0 };
      this.#groups.set(groupKey, group);
    }
    group.members += 1;
    this.#entries.set(id, {
      mirror,
      group,
      groupKey,
      queue: [],
      offset: 0,
      queuedChars: 0,
      budget: new CpuBudget(this.#options.share, this.#options.burstMs, now),
      costPerChar: 0,
      behind: new Watermarks(this.#options.behindMs, this.#options.caughtUpMs),
      parsed: 0,
      scheduled: false,
      snapshots: 0,
    });
  }

  close(id: number): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    if (--entry.group.members === 0) this.#groups.delete(entry.groupKey);
    this.#waiting.delete(id);
    const at = this.#ready.indexOf(id);
    if (at >= 0) this.#ready.splice(at, 1);
    entry.mirror.dispose();
  }

  write(id: number, data: string): void {
    const entry = this.#entries.get(id);
    if (!entry || data.length === 0) return;
    entry.queue.push({ kind: 'data', data });
    entry.queuedChars += data.length;
    this.#schedule(id, entry);
  }

  resize(id: number, cols: number, rows: number): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    // A reflow costs as much as a screenful of output: a burst of resizes (a window being
    // dragged, or a client sending thousands) becomes one.
    const last = entry.queue.at(-1);
    if (last?.kind === 'resize') {
      last.cols = cols;
      last.rows = rows;
    } else entry.queue.push({ kind: 'resize', cols, rows });
    this.#schedule(id, entry);
  }

  /** The screen once everything written before is parsed; answered in a report as `request`. */
  snapshot(id: number, request: number): void {
    const entry = this.#entries.get(id);
    if (!entry) {
      this.#report.snapshots.push([request, '']);
      return;
    }
    entry.queue.push({ kind: 'snapshot', request });
    entry.snapshots += 1;
    this.#schedule(id, entry);
  }

  /**
   * Runs slices for about `forMs`; returns how long until more work can run: 0 (at once),
   * a delay (every shell with work is over budget), or Infinity (nothing to do).
   */
  run(forMs: number): number {
    const { clock } = this.#options;
    const started = clock();
    let now = started;
    this.#wake(now);
    while (this.#ready.length > 0 && now - started < forMs) {
      const id = this.#ready.shift()!;
      const entry = this.#entries.get(id)!;
      const rate = entry.snapshots > 0 ? this.#options.share / this.#options.catchUpShare : 1;
      this.#step(entry);
      const after = clock();
      entry.budget.charge((after - now) * rate, after);
      entry.group.budget.charge((after - now) * rate, after);
      this.#report.busyMs += after - now;
      now = after;
      this.#track(id, entry);
      if (entry.queue.length === 0) entry.scheduled = false;
      else if (MirrorScheduler.#available(entry, now)) this.#ready.push(id);
      else {
        this.#waiting.add(id);
        this.#report.throttled += 1;
      }
    }
    if (this.#ready.length > 0) return 0;
    let next = Infinity;
    for (const id of this.#waiting) {
      const entry = this.#entries.get(id)!;
      next = Math.min(next, Math.max(entry.budget.readyAt(now), entry.group.budget.readyAt(now)));
    }
    return next === Infinity ? Infinity : Math.max(1, next - now);
  }

  /** What happened since the last call. */
  takeReport(): TurnReport {
    const report = this.#report;
    for (const [id, entry] of this.#entries) {
      if (entry.parsed > 0) report.parsed.push([id, entry.parsed]);
      entry.parsed = 0;
    }
    for (const id of this.#changedBehind) {
      const entry = this.#entries.get(id);
      if (entry) report.behind.push([id, entry.behind.paused]);
    }
    this.#changedBehind.clear();
    this.#report = MirrorScheduler.#emptyReport();
    return report;
  }

  /** One slice of the shell's head item. */
  #step(entry: Entry): void {
    const item = entry.queue[0]!;
    if (item.kind === 'resize') {
      entry.queue.shift();
      entry.mirror.resize(item.cols, item.rows);
      return;
    }
    if (item.kind === 'snapshot') {
      entry.queue.shift();
      entry.snapshots -= 1;
      this.#report.snapshots.push([item.request, entry.mirror.serialize()]);
      return;
    }
    const { sliceChars, sliceEscapes, clock } = this.#options;
    const end = sliceEnd(item.data, entry.offset, sliceChars, sliceEscapes);
    const started = clock();
    entry.mirror.parse(item.data.slice(entry.offset, end));
    const cost = (clock() - started) / (end - entry.offset);
    entry.costPerChar = entry.costPerChar === 0 ? cost : 0.5 * entry.costPerChar + 0.5 * cost;
    entry.parsed += end - entry.offset;
    entry.queuedChars -= end - entry.offset;
    if (end < item.data.length) entry.offset = end;
    else {
      entry.queue.shift();
      entry.offset = 0;
    }
  }

  #track(id: number, entry: Entry): void {
    if (entry.behind.update(entry.queuedChars * entry.costPerChar / this.#options.share)) this.#changedBehind.add(id);
  }

  #schedule(id: number, entry: Entry): void {
    this.#track(id, entry);
    if (entry.scheduled) return;
    entry.scheduled = true;
    if (MirrorScheduler.#available(entry, this.#options.clock())) this.#ready.push(id);
    else this.#waiting.add(id);
  }

  #wake(now: number): void {
    for (const id of this.#waiting) {
      if (!MirrorScheduler.#available(this.#entries.get(id)!, now)) continue;
      this.#waiting.delete(id);
      this.#ready.push(id);
    }
  }

  static #available(entry: Entry, now: number): boolean {
    return entry.budget.available(now) && entry.group.budget.available(now);
  }

  static #emptyReport(): TurnReport {
    return { parsed: [], snapshots: [], behind: [], busyMs: 0, throttled: 0 };
  }
}
