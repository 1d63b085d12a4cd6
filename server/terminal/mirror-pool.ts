/**
 * The shells' screen mirrors, off the main thread: a small pool of worker threads, each holding
 * many mirrors (mirror-worker.ts). The main thread only posts output and reads back what was
 * parsed, so no escape sequence a learner prints can stall the API, the forge or S3.
 *
 * Why threads, not a process per lab: measured on this project (Node 22), a worker costs 20–40 MB
 * of RSS once and each mirror in it 2.3 MB at 80×24 with its 1000 lines of scrollback full
 * (6.3 MB at 300×100), while a process holding one mirror is 75 MB (300 labs: 22 GB). A reattach
 * snapshot of a full 80×24 mirror comes back from the worker in ~4 ms (median; 47 ms at 300×100),
 * the serialize time itself. One worker per core left to the main thread (at least one, at most
 * four): the mirrors' work is bounded per shell by the worker's scheduler.
 *
 * A worker that dies (out of memory, a bug in a parser) is replaced: its shells get blank mirrors
 * at their current size, their pending work is released (no pty stays paused on it) and pending
 * snapshots answer an empty screen — a reload then shows a clean terminal, the shell lives on.
 */
import { availableParallelism } from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { TerminalSize } from '../drivers/driver.ts';
import type { FromWorker, ToWorker } from './mirror-protocol.ts';

export function defaultPoolSize(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export interface MirrorEvents {
  /** The worker parsed `characters` more characters of this mirror's output. */
  parsed(characters: number): void;
  /** The mirror's queue holds more (or again less) work than its budget clears in a moment. */
  behind(behind: boolean): void;
}

export interface PoolEvents {
  /** ms of parse work done, and how many times a shell hit its budget, since the last report. */
  work?(busyMs: number, throttled: number): void;
  error?(error: unknown): void;
}

/** One shell's mirror, as the main thread holds it. */
export class RemoteMirror {
  readonly id: number;
  /** Its budget group (a learner): all of a group's mirrors live in the same worker. */
  readonly group: string;
  readonly #events: MirrorEvents;
  readonly #pool: MirrorPool;
  #size: TerminalSize;
  /** Characters posted and not yet reported parsed. */
  #pending = 0;
  #behind = false;
  #closed = false;

  constructor(pool: MirrorPool, id: number, group: string, size: TerminalSize, events: MirrorEvents) {
    this.#pool = pool;
    this.id = id;
    this.group = group;
    this.#size = size;
    this.#events = events;
  }

  get size(): TerminalSize {
    return this.#size;
  }

  get pending(): number {
    return this.#pending;
  }

  write(data: string): void {
    if (this.#closed) return;
    this.#pending += data.length;
    this.#pool.post(this, { op: 'write', id: this.id, data });
  }

  resize(size: TerminalSize): void {
    if (this.#closed) return;
    this.#size = size;
    this.#pool.post(this, { op: 'resize', id: this.id, cols: size.cols, rows: size.rows });
  }

  /** The serialized screen once everything written so far is parsed. */
  snapshot(): Promise<string> {
    return this.#closed ? Promise.resolve('') : this.#pool.snapshot(this);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.post(this, { op: 'close', id: this.id });
    this.#pool.forget(this);
  }

  /** @internal The pool's reports. */
  parsed(characters: number): void {
    this.#pending = Math.max(0, this.#pending - characters);
    this.#events.parsed(characters);
  }

  /** @internal */
  behind(behind: boolean): void {
    if (behind === this.#behind) return;
    this.#behind = behind;
    this.#events.behind(behind);
  }

  /** @internal Its worker died: whatever was in flight is gone. */
  lost(): void {
    this.parsed(this.#pending);
    this.behind(false);
  }
}

interface PoolWorker {
  worker: Worker;
  mirrors: Map<number, RemoteMirror>;
}

export class MirrorPool {
  readonly #size: number;
  readonly #events: PoolEvents;
  readonly #limits: ResourceLimits | undefined;
  readonly #workers: Array<PoolWorker | undefined>;
  readonly #workerOf = new Map<number, number>();
  /** Worker slot of each group with open mirrors, and how many. */
  readonly #groups = new Map<string, { slot: number; mirrors: number }>();
  /** Snapshot requests in flight: the mirror asking, and its answer. */
  readonly #answers = new Map<number, { mirror: RemoteMirror; resolve: (screen: string) => void }>();
  #nextId = 0;
  #nextRequest = 0;
  #closed = false;

  /** `resourceLimits`: each worker's heap (a worker past it dies and is replaced; Node's default otherwise). */
  constructor(options: { size?: number; resourceLimits?: ResourceLimits } & PoolEvents = {}) {
    this.#size = options.size ?? defaultPoolSize();
    this.#events = options;
    this.#limits = options.resourceLimits;
    this.#workers = Array.from({ length: this.#size }, () => undefined);
  }

  /**
   * A new mirror of `size` in budget group `group`: on the worker of the group's other mirrors
   * (their budget is shared there), or else on the worker holding the fewest.
   */
  open(size: TerminalSize, events: MirrorEvents, group: string): RemoteMirror {
    if (this.#closed) throw new Error('mirror pool closed');
    let placed = this.#groups.get(group);
    if (!placed) {
      let slot = 0;
      for (let index = 1; index < this.#size; index++) {
        if ((this.#workers[index]?.mirrors.size ?? 0) < (this.#workers[slot]?.mirrors.size ?? 0)) slot = index;
      }
      placed = { slot, mirrors: 0 };
      this.#groups.set(group, placed);
    }
    placed.mirrors += 1;
    const mirror = new RemoteMirror(this, this.#nextId++, group, size, events);
    const target = this.#workers[placed.slot] ?? this.#spawn(placed.slot);
    target.mirrors.set(mirror.id, mirror);
    this.#workerOf.set(mirror.id, placed.slot);
    target.worker.postMessage(MirrorPool.#openMessage(mirror));
    return mirror;
  }

  /** Mirrors open, for tests and metrics. */
  get mirrors(): number {
    return this.#workerOf.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0);
    for (const request of [...this.#answers.keys()]) this.#answer(request, '');
    await Promise.all(workers.map((entry) => entry?.worker.terminate()));
  }

  /** @internal */
  post(mirror: RemoteMirror, message: ToWorker): void {
    const slot = this.#workerOf.get(mirror.id);
    if (slot !== undefined) this.#workers[slot]?.worker.postMessage(message);
  }

  /** @internal */
  snapshot(mirror: RemoteMirror): Promise<string> {
    const request = this.#nextRequest++;
    const answer = new Promise<string>((resolve) => this.#answers.set(request, { mirror, resolve }));
    this.post(mirror, { op: 'snapshot', id: mirror.id, request });
    return answer;
  }

  /** @internal */
  forget(mirror: RemoteMirror): void {
    for (const [request, answer] of this.#answers) if (answer.mirror === mirror) this.#answer(request, '');
    const slot = this.#workerOf.get(mirror.id);
    if (slot === undefined) return;
    this.#workerOf.delete(mirror.id);
    this.#workers[slot]?.mirrors.delete(mirror.id);
    const placed = this.#groups.get(mirror.group);
    if (placed && --placed.mirrors === 0) this.#groups.delete(mirror.group);
  }

  #spawn(slot: number): PoolWorker {
    const worker = new Worker(new URL('./mirror-worker.ts', import.meta.url), { resourceLimits: this.#limits });
    // Idle workers must not keep a process alive that has nothing else to do (tests, CLI).
    worker.unref();
    const entry: PoolWorker = { worker, mirrors: new Map() };
    this.#workers[slot] = entry;
    worker.on('message', (report: FromWorker) => this.#report(entry, report));
    worker.on('error', (error) => this.#events.error?.(error));
    worker.on('exit', () => this.#replace(slot, entry));
    return entry;
  }

  #report(entry: PoolWorker, report: FromWorker): void {
    for (const [id, characters] of report.parsed) entry.mirrors.get(id)?.parsed(characters);
    for (const [id, behind] of report.behind) entry.mirrors.get(id)?.behind(behind);
    for (const [request, screen] of report.snapshots) this.#answer(request, screen);
    if (report.busyMs > 0 || report.throttled > 0) this.#events.work?.(report.busyMs, report.throttled);
  }

  #answer(request: number, screen: string): void {
    const answer = this.#answers.get(request);
    if (!answer) return;
    this.#answers.delete(request);
    answer.resolve(screen);
  }

  #replace(slot: number, dead: PoolWorker): void {
    if (this.#closed || this.#workers[slot] !== dead) return;
    this.#workers[slot] = undefined;
    if (dead.mirrors.size === 0) return;
    for (const [request, { mirror }] of this.#answers) if (dead.mirrors.get(mirror.id) === mirror) this.#answer(request, '');
    const fresh = this.#spawn(slot);
    for (const mirror of dead.mirrors.values()) {
      mirror.lost();
      fresh.mirrors.set(mirror.id, mirror);
      fresh.worker.postMessage(MirrorPool.#openMessage(mirror));
    }
  }

  static #openMessage(mirror: RemoteMirror): ToWorker {
    return { op: 'open', id: mirror.id, cols: mirror.size.cols, rows: mirror.size.rows, group: mirror.group };
  }
}
