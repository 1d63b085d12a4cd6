/**
 * Lab sessions: the lifecycle of running labs over a Driver. A session is minted with a random
 * id and a random 256-bit token; the token is the only credential of the lab (HTTP and terminal).
 * Stopped or expired sessions are forgotten at once, so their token never works again.
 */
import { EventEmitter } from 'node:events';
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import type { Driver, EnforcedLimits, LabHandle, LabResources, ProgressEvent } from '../drivers/driver.ts';
import type { LabDefinition } from './schema.ts';

export type LabStatus = 'starting' | 'running' | 'stopped' | 'failed';

export type StopReason = 'deleted' | 'expired' | 'idle' | 'failed' | 'shutdown';

export interface Session {
  readonly id: string;
  readonly labId: string;
  readonly lab: LabDefinition;
  /** Who created it (client address until learners exist); used for quotas. */
  readonly owner: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  status: LabStatus;
  progress: ProgressEvent[];
  handle?: LabHandle;
  lastActivity: number;
  /** Resolves once the lab runs; rejects if it failed to start. */
  ready: Promise<LabHandle>;
}

/** What the API shows of a session (never the token's hash, never the handle's internals). */
export interface SessionView {
  id: string;
  lab: string;
  status: LabStatus;
  createdAt: string;
  expiresAt: string;
  limits: { resources: LabResources; enforced: EnforcedLimits | null };
  progress: ProgressEvent[];
}

export type SessionErrorCode = 'unknown_lab' | 'too_many_labs' | 'lab_failed';

export class SessionError extends Error {
  readonly code: SessionErrorCode;
  readonly details: Record<string, string>;
  constructor(code: SessionErrorCode, message: string, details: Record<string, string> = {}) {
    super(message);
    this.name = 'SessionError';
    this.code = code;
    this.details = details;
  }
}

export type Authorization = { ok: true; session: Session } | { ok: false; code: 'unauthorized' | 'forbidden' | 'lab_gone' };

export interface SessionsOptions {
  driver: Driver;
  labs: ReadonlyMap<string, LabDefinition>;
  limits: { maxTtl: number; maxLabs: number; maxLabsPerClient: number };
  /** How often the reaper looks for expired or idle labs (ms). */
  reapInterval?: number;
  /** Called when stopping a lab fails (the lab is forgotten anyway). */
  onError?: (error: unknown, context: string) => void;
  now?: () => number;
}

interface Entry {
  session: Session;
  tokenHash: Buffer;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

export interface SessionsEvents {
  /** A lab stopped (deleted, expired, idle, failed or shutdown): terminals must close. */
  stopped: [session: Session, reason: StopReason];
}

export class Sessions extends EventEmitter<SessionsEvents> {
  readonly driver: Driver;
  readonly labs: ReadonlyMap<string, LabDefinition>;
  readonly #limits: SessionsOptions['limits'];
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #onError: (error: unknown, context: string) => void;
  readonly #pending = new Set<Promise<unknown>>();
  #reaper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SessionsOptions) {
    super();
    this.driver = options.driver;
    this.labs = options.labs;
    this.#limits = options.limits;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    const interval = options.reapInterval ?? 15_000;
    if (interval > 0) {
      this.#reaper = setInterval(() => void this.reap(), interval);
      this.#reaper.unref();
    }
  }

  /**
   * Creates a session and starts its lab. Resolves once the driver has started it; throws a
   * SessionError (unknown lab, quota, start failure).
   */
  async create(labId: string, owner: string): Promise<{ session: Session; token: string }> {
    if (this.#closed) throw new SessionError('lab_failed', 'the server is shutting down');
    const lab = this.labs.get(labId);
    if (!lab) throw new SessionError('unknown_lab', `no lab named ${labId}`, { lab: labId });
    const live = [...this.#entries.values()].map((entry) => entry.session);
    if (live.length >= this.#limits.maxLabs) {
      throw new SessionError('too_many_labs', 'the server runs as many labs as it can', { max: String(this.#limits.maxLabs) });
    }
    if (live.filter((session) => session.owner === owner).length >= this.#limits.maxLabsPerClient) {
      throw new SessionError('too_many_labs', 'this client runs as many labs as it may', { max: String(this.#limits.maxLabsPerClient) });
    }

    const id = randomBytes(12).toString('base64url');
    const token = randomBytes(32).toString('base64url');
    const createdAt = this.#now();
    const expiresAt = createdAt + Math.min(lab.ttl, this.#limits.maxTtl);
    const progress: ProgressEvent[] = [{ step: 'queued', percent: 0 }];

    const session: Session = {
      id,
      labId,
      lab,
      owner,
      createdAt,
      expiresAt,
      status: 'starting',
      progress,
      lastActivity: createdAt,
      ready: Promise.resolve() as unknown as Promise<LabHandle>,
    };
    this.#entries.set(id, { session, tokenHash: sha256(token) });

    const spec = { id, labId, workspace: lab.workspace, resources: lab.resources, env: { ...lab.env }, image: lab.image, expiresAt };
    const onProgress = (event: ProgressEvent): void => {
      if (session.status === 'starting') progress.push({ step: event.step, percent: event.percent });
    };
    // async wrapper: a driver that throws synchronously still yields a rejected promise.
    const ready = (async () => this.driver.start(spec, onProgress))();
    session.ready = ready;
    // Callers that only look at the status must not see an unhandled rejection.
    ready.catch(() => {});
    const settled = this.#settle(session, ready);
    this.#pending.add(settled);
    try {
      return { session: await settled, token };
    } finally {
      this.#pending.delete(settled);
    }
  }

  async #settle(session: Session, ready: Promise<LabHandle>): Promise<Session> {
    const { id, progress } = session;

    try {
      const handle = await ready;
      session.handle = handle;
      if (this.#entries.get(id)?.session !== session) {
        // Deleted (or shut down) while it was starting: release what the driver made.
        await this.driver.stop(handle).catch((error: unknown) => this.#onError(error, `stop ${id}`));
        throw new SessionError('lab_failed', 'the lab was stopped while it started');
      }
      session.status = 'running';
      if (progress.at(-1)?.step !== 'ready') progress.push({ step: 'ready', percent: 100 });
      return session;
    } catch (error) {
      if (this.#entries.get(id)?.session === session) {
        session.status = 'failed';
        this.#entries.delete(id);
        this.emit('stopped', session, 'failed');
      }
      if (error instanceof SessionError) throw error;
      throw new SessionError('lab_failed', error instanceof Error ? error.message : String(error));
    }
  }

  /** The live session with that id (starting or running), if any. */
  get(id: string): Session | undefined {
    return this.#entries.get(id)?.session;
  }

  /** Token check in constant time (hashes compared, so lengths never leak either). */
  authorize(id: string, token: string | undefined): Authorization {
    if (!token) return { ok: false, code: 'unauthorized' };
    const entry = this.#entries.get(id);
    if (!entry || entry.session.expiresAt <= this.#now()) return { ok: false, code: 'lab_gone' };
    if (!timingSafeEqual(sha256(token), entry.tokenHash)) return { ok: false, code: 'forbidden' };
    return { ok: true, session: entry.session };
  }

  /** Marks activity (API call, terminal input) so the idle reaper leaves the lab alone. */
  touch(id: string): void {
    const entry = this.#entries.get(id);
    if (entry) entry.session.lastActivity = this.#now();
  }

  /** Stops a lab and forgets it. Idempotent; resolves once the driver released it. */
  async stop(id: string, reason: StopReason = 'deleted'): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    this.#entries.delete(id);
    const { session } = entry;
    const wasStarting = session.status === 'starting';
    session.status = 'stopped';
    this.emit('stopped', session, reason);
    // A lab still starting is released by create() once the driver hands its handle back.
    if (!wasStarting && session.handle) {
      try {
        await this.driver.stop(session.handle);
      } catch (error) {
        this.#onError(error, `stop ${id}`);
      }
    }
    return true;
  }

  /** Stops labs past their TTL or idle for longer than their lab's idle limit. */
  async reap(): Promise<string[]> {
    const now = this.#now();
    const reaped: Promise<unknown>[] = [];
    const ids: string[] = [];
    for (const { session } of this.#entries.values()) {
      if (session.status !== 'running') continue;
      const reason: StopReason | undefined =
        session.expiresAt <= now ? 'expired' : now - session.lastActivity >= session.lab.idle ? 'idle' : undefined;
      if (reason) {
        ids.push(session.id);
        reaped.push(this.stop(session.id, reason));
      }
    }
    await Promise.all(reaped);
    return ids;
  }

  /** Sessions in the 'running' state. */
  runningCount(): number {
    let count = 0;
    for (const { session } of this.#entries.values()) if (session.status === 'running') count += 1;
    return count;
  }

  all(): Session[] {
    return [...this.#entries.values()].map((entry) => entry.session);
  }

  /** On shutdown: no new labs, stop every lab, stop the reaper. */
  async stopAll(): Promise<void> {
    this.#closed = true;
    if (this.#reaper) clearInterval(this.#reaper);
    this.#reaper = undefined;
    const starting = [...this.#pending].map((promise) => promise.catch(() => undefined));
    await Promise.all(this.all().map((session) => this.stop(session.id, 'shutdown')));
    // Labs that were starting are released by create() once their start settles.
    await Promise.all(starting);
  }

  static view(session: Session): SessionView {
    return {
      id: session.id,
      lab: session.labId,
      status: session.status,
      createdAt: new Date(session.createdAt).toISOString(),
      expiresAt: new Date(session.expiresAt).toISOString(),
      limits: { resources: { ...session.lab.resources }, enforced: session.handle ? session.handle.limits : null },
      progress: session.progress.map((event) => ({ ...event })),
    };
  }
}
