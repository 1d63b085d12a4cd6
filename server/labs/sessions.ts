/**
 * Lab sessions: the lifecycle of running labs over a Driver. A session is minted with a random
 * id and a random 256-bit token; the token is the only credential of the lab (HTTP and terminal).
 * Stopped or expired sessions are forgotten at once, so their token never works again.
 */
import { EventEmitter } from 'node:events';
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import type { Driver, EnforcedLimits, LabHandle, LabResources, LabSpec, ProgressEvent } from '../drivers/driver.ts';
import type { LabDefinition } from './schema.ts';

export type LabStatus = 'starting' | 'running' | 'stopped' | 'failed';

export type StopReason = 'deleted' | 'expired' | 'idle' | 'failed' | 'shutdown';

export interface Session {
  readonly id: string;
  readonly labId: string;
  readonly lab: LabDefinition;
  /** Who created it (client address until learners exist); used for quotas. */
  readonly owner: string;
  /** The learner the lab belongs to: they reach it from any page, and its checks see their data. */
  readonly learnerId?: string;
  /** Resources granted at launch (the lab's own, or less, as the Configure panel asked). */
  readonly resources: LabResources;
  /** What the learner chose at launch, shown in the lab's note. */
  readonly configured: LaunchChoices;
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
  configured: LaunchChoices;
  progress: ProgressEvent[];
}

export interface LaunchChoices {
  repository?: string;
  secrets?: string;
}

/** What a launch may add to the lab's definition. */
export interface LaunchOptions {
  learnerId?: string;
  /** Injected into every process of the lab (credentials, git settings, secrets). Never logged. */
  env?: Record<string, string>;
  resources?: LabResources;
  choices?: LaunchChoices;
  /** Runs once the sandbox is up and before the lab is ready (git setup, clone…). */
  prepare?: (handle: LabHandle, onProgress: (event: ProgressEvent) => void) => Promise<void>;
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
  /** Where labs reach the lab server's forge and S3 endpoint (see LabSpec.gateway); known once listening. */
  gateway?: () => LabSpec['gateway'];
  /** Programs shipped into every lab (labs/tools/*). */
  tools?: LabSpec['tools'];
  /** How often the reaper looks for expired or idle labs (ms). */
  reapInterval?: number;
  /** Called when stopping a lab fails (the lab is forgotten anyway). */
  onError?: (error: unknown, context: string) => void;
  now?: () => number;
}

interface Entry {
  session: Session;
  /** Several tokens: each page of a course that opens the learner's lab gets its own. */
  tokenHashes: Buffer[];
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
  readonly #gateway: SessionsOptions['gateway'];
  readonly #tools: SessionsOptions['tools'];
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
    this.#gateway = options.gateway;
    this.#tools = options.tools;
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
  async create(labId: string, owner: string, options: LaunchOptions = {}): Promise<{ session: Session; token: string }> {
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
      ...(options.learnerId ? { learnerId: options.learnerId } : {}),
      resources: options.resources ?? lab.resources,
      configured: options.choices ?? {},
      createdAt,
      expiresAt,
      status: 'starting',
      progress,
      lastActivity: createdAt,
      ready: Promise.resolve() as unknown as Promise<LabHandle>,
    };
    this.#entries.set(id, { session, tokenHashes: [sha256(token)] });

    const spec: LabSpec = {
      id,
      labId,
      workspace: lab.workspace,
      resources: session.resources,
      env: { ...lab.env, ...options.env },
      image: lab.image,
      expiresAt,
      ...(this.#gateway?.() ? { gateway: this.#gateway()! } : {}),
      ...(this.#tools ? { tools: this.#tools } : {}),
    };
    const onProgress = (event: ProgressEvent): void => {
      if (session.status === 'starting' && event.step !== 'ready') progress.push({ step: event.step, percent: event.percent });
    };
    // async wrapper: a driver that throws synchronously still yields a rejected promise.
    const ready = (async () => {
      const handle = await this.driver.start(spec, onProgress);
      try {
        await options.prepare?.(handle, onProgress);
      } catch (error) {
        await this.driver.stop(handle).catch((stopError: unknown) => this.#onError(stopError, `stop ${id}`));
        throw error;
      }
      return handle;
    })();
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
    const hash = sha256(token);
    // Every hash is compared, so the time taken does not tell which token (if any) matched.
    const matches = entry.tokenHashes.map((known) => timingSafeEqual(hash, known));
    if (!matches.includes(true)) return { ok: false, code: 'forbidden' };
    return { ok: true, session: entry.session };
  }

  /** The learner's live session of that lab, if any: a lab belongs to the learner, not the page. */
  findForLearner(learnerId: string, labId: string): Session | undefined {
    for (const { session } of this.#entries.values()) {
      if (session.learnerId === learnerId && session.labId === labId && session.status !== 'stopped') return session;
    }
    return undefined;
  }

  /** Live sessions of a learner (to re-run their checks when their forge or bucket changes). */
  forLearner(learnerId: string): Session[] {
    return this.all().filter((session) => session.learnerId === learnerId && session.status === 'running');
  }

  /** A further token for a live session (another page of the learner opening the same lab). */
  issueToken(id: string): string | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    const token = randomBytes(32).toString('base64url');
    // Bounded: a learner reloading pages all day must not grow the list without end.
    entry.tokenHashes = [...entry.tokenHashes.slice(-31), sha256(token)];
    return token;
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
      limits: { resources: { ...session.resources }, enforced: session.handle ? session.handle.limits : null },
      configured: { ...session.configured },
      progress: session.progress.map((event) => ({ ...event })),
    };
  }
}
