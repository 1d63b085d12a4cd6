/**
 * Lab sessions: the lifecycle of labs over a Driver. A session is minted with a random id and a
 * random 256-bit token; the token is the only credential of the lab (HTTP and terminal).
 *
 *   queued ──(a slot frees)──▶ starting ──▶ running ──▶ stopped (deleted, expired, idle, shutdown)
 *      │                          └──────────▶ failed
 *      └──(deleted)──▶ stopped
 *
 * A launch starts at once when the server has room (fewer than `maxLabs` labs starting or
 * running, fewer than `maxStarting` sandboxes being built); otherwise it waits in a FIFO queue and
 * starts when a lab leaves or a start ends. Quotas (per learner, per client address, launches per
 * minute) refuse before anything is queued. A lab's clock (ttl, lifetime cap) starts when its
 * start begins, not while it waits.
 *
 * Stopped or expired sessions are forgotten at once, so their token never works again; a lab that
 * failed to start leaves a short-lived tombstone so its page learns why (`lab_failed`).
 *
 * Every lab event is one structured log line (`lab queued`, `lab started`, `lab stopped`,
 * `lab extended`, `quota refused`): ids, lab, learner, durations and reasons — never a token and
 * never an environment value (error texts are scrubbed of the lab's environment values).
 */
import { EventEmitter } from 'node:events';
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import type { Driver, EnforcedLimits, LabHandle, LabResources, LabTemplate, ProgressEvent } from '../drivers/driver.ts';
import type { LabDefinition, ServiceKind } from './schema.ts';
import { labQuotaRefusal, RateLimiter, type QuotaRefusal } from './quotas.ts';
import { LaunchQueue, StartStatistics, estimateWaitSeconds } from './queue.ts';
import { WarmPools } from './warm-pool.ts';
import type { SessionRecord, SessionRecords } from './records.ts';
import type { Coordinator } from '../cluster/coordinator.ts';
import { launches, launchDuration } from '../metrics.ts';

export type LabStatus = 'queued' | 'starting' | 'running' | 'stopped' | 'failed';

export type StopReason = 'deleted' | 'expired' | 'idle' | 'failed' | 'shutdown';

export interface Session {
  readonly id: string;
  readonly labId: string;
  readonly lab: LabDefinition;
  /** The client address that launched it; the per-client quota counts by it. */
  readonly owner: string;
  /** The learner the lab belongs to: they reach it from any page, and its checks see their data. */
  readonly learnerId?: string;
  /** Resources granted at launch (the lab's own, or less, as the Configure panel asked). */
  readonly resources: LabResources;
  /** What the learner chose at launch, shown in the lab's note. */
  readonly configured: LaunchChoices;
  /**
   * Names the lab's service origins (`<service>-<appId>.<apps domain>`): random, lower-case (host
   * names know no case), and not the session id, which the API's paths carry.
   */
  readonly appId: string;
  /** The password the service's own login page asks for (the note shows it); with an openable service only. */
  readonly servicePassword?: string;
  /** When the launch was asked for. */
  readonly createdAt: number;
  /** Milliseconds: the lab's ttl and idle limit, capped by the server's. */
  readonly ttl: number;
  readonly idle: number;
  /** When its start began (it left the queue); undefined while queued. */
  startedAt?: number;
  /** When it became ready. */
  readyAt?: number;
  /** Hard expiry; provisional while queued (the clock starts with the start). Extended by extend(). */
  expiresAt: number;
  /** The latest expiresAt may ever be (extensions included). */
  maxExpiresAt: number;
  status: LabStatus;
  progress: ProgressEvent[];
  /** The start took (or is taking) longer than the slow threshold (~2 s). */
  slow: boolean;
  handle?: LabHandle;
  lastActivity: number;
  /** Resolves once the lab runs; rejects if it failed to start or was deleted before. */
  ready: Promise<LabHandle>;
}

/** What the API shows of a session (never the token's hash, never the handle's internals). */
export interface SessionView {
  id: string;
  lab: string;
  /** The lab's title in each language, for pages that show a lab they did not launch (the dock, My services). */
  title: LabDefinition['title'];
  status: LabStatus;
  createdAt: string;
  /** Hard expiry (provisional while queued). */
  expiresAt: string;
  /** How far POST /api/labs/:id/extend may push expiresAt. */
  maxExpiresAt: string;
  /** When the idle reaper stops it unless something happens (API call, terminal open or typing). */
  idleExpiresAt: string;
  /** Queued only: 1 = next to start. */
  position?: number;
  /** Queued or starting: seconds until ready, estimated. */
  estimatedWaitSeconds?: number;
  /** The start took, or is taking, more than ~2 s. */
  slow: boolean;
  /** Milliseconds from the start's beginning to ready; null until ready. */
  startDurationMs: number | null;
  limits: { resources: LabResources; enforced: EnforcedLimits | null };
  configured: LaunchChoices;
  /** The chosen service's password (its login page asks for it), shown in the note. */
  servicePassword?: string;
  progress: ProgressEvent[];
}

export interface LaunchChoices {
  repository?: string;
  secrets?: string;
  /** The service chosen in the catalogue (default: the lab's first). */
  service?: ServiceKind;
}

/** What a launch may add to the lab's definition. */
export interface LaunchOptions {
  learnerId?: string;
  /** Injected into every process of the lab (credentials, git settings, secrets). Never logged. */
  env?: Record<string, string>;
  resources?: LabResources;
  choices?: LaunchChoices;
  /** Files for the lab user's home (git and s3cmd settings), written when the sandbox is made. */
  homeFiles?: Record<string, string>;
  /** Runs once the sandbox is up and before the lab is ready (a clone…). */
  prepare?: (handle: LabHandle, onProgress: (event: ProgressEvent) => void) => Promise<void>;
}

export type SessionErrorCode = 'unknown_lab' | 'too_many_labs' | 'rate_limited' | 'queue_full' | 'lab_failed';

export class SessionError extends Error {
  readonly code: SessionErrorCode;
  readonly details: Record<string, string>;
  /** rate_limited, queue_full: seconds after which trying again makes sense. */
  readonly retryAfterSeconds: number | undefined;
  constructor(code: SessionErrorCode, message: string, details: Record<string, string> = {}, retryAfterSeconds?: number) {
    super(message);
    this.name = 'SessionError';
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export type Authorization =
  | { ok: true; session: Session }
  | { ok: false; code: 'unauthorized' | 'forbidden' | 'lab_gone' | 'lab_failed' };

export type Extension = { ok: true; session: Session } | { ok: false; code: 'extend_limit' | 'lab_not_started' };

/** The logger's shape (pino's, as fastify's `app.log`). */
export interface SessionsLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface SessionLimits {
  /** Milliseconds: cap on a lab's ttl. */
  maxTtl: number;
  /** Labs starting or running at once; more are queued. */
  maxLabs: number;
  /** Labs (queued included) per client address. */
  maxLabsPerClient: number;
  /** Labs (queued included) per learner; default 3. */
  maxLabsPerLearner?: number;
  /** Launches per learner (or address, without a learner) per minute; default 10. */
  launchesPerMinute?: number;
  /** Sandboxes being built at once; default 8. */
  maxStarting?: number;
  /** Launches waiting; default 1000. */
  maxQueue?: number;
  /** Milliseconds: cap on a lab's whole life, extensions included; default 8 h. */
  maxLifetime?: number;
  /** Milliseconds one extension adds; default the lab's (capped) ttl. */
  extendStep?: number;
  /** Milliseconds: cap on a lab's idle limit; default none. */
  maxIdle?: number;
}

export interface SessionsOptions {
  driver: Driver;
  labs: ReadonlyMap<string, LabDefinition>;
  limits: SessionLimits;
  /** Where labs reach the lab server's forge and S3 endpoint (see LabTemplate.gateway); known once listening. */
  gateway?: () => LabTemplate['gateway'];
  /** Programs shipped into every lab (labs/tools/*). */
  tools?: LabTemplate['tools'];
  /** Ready instances kept by all warm pools together (each lab's own size is its lab.yaml `pool`); default 0: none. */
  poolMax?: number;
  /** Replicas: sessions shared through the database and the bus, so any replica serves any lab. */
  replication?: SessionReplication;
  /** How often the reaper looks for expired or idle labs (ms). */
  reapInterval?: number;
  /** Called when stopping a lab fails (the lab is forgotten anyway). */
  onError?: (error: unknown, context: string) => void;
  /** Lab events, one structured line each. */
  log?: SessionsLog | (() => SessionsLog | undefined);
  /** A start longer than this is flagged `slow` (ms, default 2000). */
  slowStartMs?: number;
  now?: () => number;
}

/**
 * How replicas share sessions: rows every replica reads (records.ts) and a message on the bus
 * when one changes. A launch is driven (queued, started) by the replica that took it, its holder;
 * any replica authorizes its tokens, opens its terminals, runs its checks, extends and stops it;
 * one replica at a time (the bus's leader) reaps.
 */
export interface SessionReplication {
  records: SessionRecords;
  bus: Pick<Coordinator, 'replicaId' | 'publish' | 'subscribe' | 'lead'>;
}

/** The bus topic of session changes: `{ id, from, gone? }`. */
const sessionTopic = 'lab.session';
/** A replica shares a session's activity (typing, API calls) at most this often: the idle limit is minutes. */
const activityShareMs = 15_000;
/** A session another replica left queued or starting for this long is taken for gone (its holder died). */
const staleStartMs = 15 * 60_000;
/** Tokens kept per session (a learner opening many pages): the oldest go first. */
const maxTokens = 32;

interface Entry {
  session: Session;
  /** Driven by another replica (its launch options, queue place and start are there). */
  remote?: boolean;
  /** When this replica last shared the session's activity. */
  activityShared?: number;
  /** Several tokens: each page of a course that opens the learner's lab gets its own. */
  tokenHashes: Buffer[];
  /** Kept until the start begins (a queued lab starts later with them), then dropped. */
  launch?: LaunchOptions;
  resolve: (handle: LabHandle) => void;
  reject: (error: unknown) => void;
}

interface Tombstone {
  tokenHashes: Buffer[];
  until: number;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Quiet time after the last launch began or became ready before warm pools refill (ms): its
 * learner's terminal opens right after it is ready, and is part of the launch they wait for.
 */
export const refillCalmMs = 3_000;

/** How long a lab that failed to start answers `lab_failed` (then `lab_gone`). */
const tombstoneMs = 5 * 60_000;
const maxTombstones = 10_000;

/** `text` with every environment value of the lab (credentials, secrets) masked. */
export function scrub(text: string, env: Record<string, string> | undefined): string {
  let out = text;
  const values = Object.values(env ?? {})
    .filter((value) => value.length >= 4)
    .sort((a, b) => b.length - a.length);
  for (const value of values) out = out.split(value).join('[redacted]');
  return out;
}

export interface SessionsEvents {
  /**
   * A lab stopped (deleted, expired, idle, failed or shutdown): terminals must close. `local`:
   * this replica stopped it (or saw it fail); false when it heard another replica had.
   */
  stopped: [session: Session, reason: StopReason, local: boolean];
  /** A lab this replica started became running (once per session, on that replica only). */
  launched: [session: Session];
  /** Something a page shows changed: status, progress, queue position, slow, expiry. */
  changed: [session: Session];
}

export class Sessions extends EventEmitter<SessionsEvents> {
  readonly driver: Driver;
  readonly labs: ReadonlyMap<string, LabDefinition>;
  readonly #limits: Required<Omit<SessionLimits, 'extendStep' | 'maxIdle'>> & Pick<SessionLimits, 'extendStep' | 'maxIdle'>;
  readonly #gateway: SessionsOptions['gateway'];
  readonly #tools: SessionsOptions['tools'];
  readonly #entries = new Map<string, Entry>();
  /** appId → session id, for the service origins' every request. */
  readonly #byAppId = new Map<string, string>();
  readonly #failed = new Map<string, Tombstone>();
  readonly #queue = new LaunchQueue();
  readonly #stats: StartStatistics;
  readonly #rate: RateLimiter;
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #now: () => number;
  readonly #onError: (error: unknown, context: string) => void;
  readonly #log: () => SessionsLog | undefined;
  readonly #slowStartMs: number;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #pools: WarmPools;
  /** Driver starts in progress (including those of labs deleted meanwhile). */
  #inFlight = 0;
  #reaper: NodeJS.Timeout | undefined;
  readonly #replication: SessionReplication | undefined;
  /** Writes of each session's row, in order (a change never overtakes an earlier one of the same session). */
  readonly #writes = new Map<string, Promise<void>>();
  #unsubscribe: (() => void) | undefined;
  #leadership: { stop(): Promise<void> } | undefined;
  /** Refills wait for a calm moment: no launch began or became ready since this instant (a class's burst goes first). */
  #calmAt = 0;
  #calmTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SessionsOptions) {
    super();
    this.driver = options.driver;
    this.labs = options.labs;
    const limits = options.limits;
    this.#limits = {
      maxTtl: limits.maxTtl,
      maxLabs: limits.maxLabs,
      maxLabsPerClient: limits.maxLabsPerClient,
      maxLabsPerLearner: limits.maxLabsPerLearner ?? 3,
      launchesPerMinute: limits.launchesPerMinute ?? 10,
      maxStarting: limits.maxStarting ?? 8,
      maxQueue: limits.maxQueue ?? 1000,
      maxLifetime: limits.maxLifetime ?? 8 * 3600_000,
      ...(limits.extendStep === undefined ? {} : { extendStep: limits.extendStep }),
      ...(limits.maxIdle === undefined ? {} : { maxIdle: limits.maxIdle }),
    };
    this.#gateway = options.gateway;
    this.#tools = options.tools;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    const log = options.log;
    this.#log = typeof log === 'function' ? log : () => log;
    this.#slowStartMs = options.slowStartMs ?? 2_000;
    this.#stats = new StartStatistics({ now: this.#now });
    this.#rate = new RateLimiter(this.#limits.launchesPerMinute, 60_000, this.#now);
    this.#pools = new WarmPools({
      driver: this.driver,
      sizes: new Map([...this.labs.values()].filter((lab) => lab.pool > 0).map((lab) => [lab.id, lab.pool])),
      template: (labId) => {
        const lab = this.labs.get(labId);
        // Without its gateway a pooled lab could never reach the forge or S3: wait for it.
        return lab && (this.#gateway === undefined || this.#gateway() !== undefined) ? this.#template(lab, lab.resources) : undefined;
      },
      max: options.poolMax ?? 0,
      mayProvision: () => this.#mayRefill(),
      onChange: () => this.#pump(),
      onError: this.#onError,
      now: this.#now,
    });
    this.#replication = options.replication;
    const interval = options.reapInterval ?? 15_000;
    if (interval > 0 && this.#replication) {
      // One replica reaps for all; another takes over within seconds when it dies.
      this.#leadership = this.#replication.bus.lead('lab-reaper', async (signal) => {
        while (!signal.aborted) {
          await this.reap();
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, interval);
            signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
          });
        }
      });
    } else if (interval > 0) {
      this.#reaper = setInterval(() => void this.reap(), interval);
      this.#reaper.unref();
    }
  }

  /** The server's limits, as configured (for the API and tests). */
  get limits(): Readonly<SessionLimits> {
    return this.#limits;
  }

  #info(fields: Record<string, unknown>, message: string): void {
    this.#log()?.info(fields, message);
  }

  #warn(fields: Record<string, unknown>, message: string): void {
    this.#log()?.warn(fields, message);
  }

  static #fields(session: Session): Record<string, unknown> {
    return { session: session.id, lab: session.labId, ...(session.learnerId ? { learner: session.learnerId } : {}) };
  }

  // ------------------------------------------------------------------ replicas

  /** Runs a write of the session's row after the previous ones, then tells the other replicas. */
  #write(id: string, write: (records: SessionRecords) => Promise<void>, gone = false): void {
    const replication = this.#replication;
    if (!replication) return;
    const previous = this.#writes.get(id) ?? Promise.resolve();
    const next = previous
      .then(() => write(replication.records))
      .then(() => replication.bus.publish(sessionTopic, { id, from: replication.bus.replicaId, ...(gone ? { gone: true } : {}) }))
      .catch((error: unknown) => this.#onError(error, `share session ${id}`));
    this.#writes.set(id, next);
    void next.finally(() => {
      if (this.#writes.get(id) === next) this.#writes.delete(id);
    });
  }

  /** Shares these fields of the session as they are now (a record's fields are the session's own). */
  #share(session: Session, fields: (keyof Omit<Session, 'lab' | 'ready'>)[]): void {
    if (!this.#replication) return;
    const patch = Object.fromEntries(fields.map((field) => [field, session[field]]));
    this.#write(session.id, (records) => records.patch(session.id, patch));
  }

  static #record(entry: Pick<Entry, 'session' | 'tokenHashes'>, holder: string): SessionRecord {
    const { session } = entry;
    return {
      id: session.id,
      labId: session.labId,
      owner: session.owner,
      ...(session.learnerId ? { learnerId: session.learnerId } : {}),
      resources: session.resources,
      configured: session.configured,
      appId: session.appId,
      ...(session.servicePassword ? { servicePassword: session.servicePassword } : {}),
      createdAt: session.createdAt,
      ttl: session.ttl,
      idle: session.idle,
      ...(session.startedAt === undefined ? {} : { startedAt: session.startedAt }),
      ...(session.readyAt === undefined ? {} : { readyAt: session.readyAt }),
      expiresAt: session.expiresAt,
      maxExpiresAt: session.maxExpiresAt,
      status: session.status,
      progress: session.progress,
      slow: session.slow,
      ...(session.handle ? { handle: session.handle } : {}),
      lastActivity: session.lastActivity,
      tokenHashes: entry.tokenHashes.map((hash) => hash.toString('hex')),
      holder,
    };
  }

  /**
   * Joins the deployment's other replicas: reads every session they share, then follows their
   * changes. Sessions whose lab the driver no longer runs (a lab that died with its server) are
   * dropped. Without replication, nothing to do.
   */
  async join(): Promise<void> {
    const replication = this.#replication;
    if (!replication) return;
    const resync = async (): Promise<void> => {
      const records = await replication.records.all();
      const live = new Set(records.map((record) => record.id));
      for (const record of records) this.#applyRemote(record);
      // Missed while the bus was away: sessions stopped elsewhere.
      for (const entry of [...this.#entries.values()]) if (entry.remote && !live.has(entry.session.id)) this.#dropRemote(entry.session.id);
    };
    this.#unsubscribe = replication.bus.subscribe(
      sessionTopic,
      (payload) => {
        const { id, from, gone } = (payload ?? {}) as { id?: unknown; from?: unknown; gone?: unknown };
        if (typeof id !== 'string' || from === replication.bus.replicaId) return;
        if (gone === true) {
          this.#dropRemote(id);
          return;
        }
        replication.records.get(id).then(
          (record) => (record ? this.#applyRemote(record) : this.#dropRemote(id)),
          (error: unknown) => this.#onError(error, `read session ${id}`),
        );
      },
      () => void resync().catch((error: unknown) => this.#onError(error, 'resync sessions')),
    );
    await resync();
    // Asked of each lab, not of list(): another live replica's labs are not this one's to list.
    for (const entry of [...this.#entries.values()]) {
      const handle = entry.session.handle;
      if (entry.remote && handle && !(await this.driver.poll(handle).catch(() => true))) {
        this.#dropRemote(entry.session.id);
        this.#write(entry.session.id, (records) => records.remove(entry.session.id), true);
      }
    }
  }

  /** Another replica's view of a session: taken as it is, but for what this replica drives. */
  #applyRemote(record: SessionRecord): void {
    const hashes = record.tokenHashes.map((hex) => Buffer.from(hex, 'hex'));
    const entry = this.#entries.get(record.id);
    if (entry && !entry.remote) {
      // Ours: the others change only its expiry (an extension), its activity and its tokens.
      const { session } = entry;
      session.expiresAt = Math.max(session.expiresAt, record.expiresAt);
      session.lastActivity = Math.max(session.lastActivity, record.lastActivity);
      entry.tokenHashes = hashes;
      this.#notify(session);
      return;
    }
    const lab = this.labs.get(record.labId);
    if (!lab) return;
    if (!entry) {
      const { promise: ready, resolve, reject } = deferred<LabHandle>();
      // The row's own fields (token hashes, holder) stay out of the session.
      const { tokenHashes: _hashes, holder: _holder, ...fields } = record;
      const session: Session = { ...fields, lab, ready };
      this.#entries.set(record.id, { session, tokenHashes: hashes, remote: true, resolve, reject });
      this.#byAppId.set(record.appId, record.id);
      if (record.status === 'running' && record.handle) resolve(record.handle);
      this.#notify(session);
      return;
    }
    const { session } = entry;
    const wasRunning = session.status === 'running';
    Object.assign(session, {
      status: record.status,
      progress: record.progress,
      slow: record.slow,
      expiresAt: record.expiresAt,
      maxExpiresAt: record.maxExpiresAt,
      lastActivity: Math.max(session.lastActivity, record.lastActivity),
      ...(record.startedAt === undefined ? {} : { startedAt: record.startedAt }),
      ...(record.readyAt === undefined ? {} : { readyAt: record.readyAt }),
      ...(record.handle ? { handle: record.handle } : {}),
    });
    entry.tokenHashes = hashes;
    if (!wasRunning && session.status === 'running' && session.handle) entry.resolve(session.handle);
    this.#notify(session);
  }

  /** A session another replica stopped (or one whose row is gone): forgotten here too. */
  #dropRemote(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    const { session } = entry;
    const previous = session.status;
    this.#forget(id, false);
    session.status = 'stopped';
    if (!entry.remote && previous === 'queued') this.#queue.remove(id);
    entry.reject(new SessionError('lab_failed', 'the lab was stopped'));
    this.emit('stopped', session, 'deleted', false);
    this.#notify(session);
    // A lab this replica was starting is released by #settle once the driver hands it back.
  }

  /** Labs starting or running (what the server-wide cap counts). */
  #activeCount(): number {
    let count = 0;
    for (const { session } of this.#entries.values()) if (session.status === 'starting' || session.status === 'running') count += 1;
    return count;
  }

  /** Room for one more start: pooled instances count, being labs the machine runs. */
  #hasRoom(): boolean {
    return (
      !this.#closed &&
      this.#inFlight + this.#pools.provisioningCount() < this.#limits.maxStarting &&
      this.#activeCount() + this.#pools.size < this.#limits.maxLabs
    );
  }

  /** What every instance of the lab is made from, at these resources. */
  #template(lab: LabDefinition, resources: LabResources): LabTemplate {
    const gateway = this.#gateway?.();
    return {
      labId: lab.id,
      workspace: lab.workspace,
      resources,
      env: { ...lab.env },
      ...(lab.image ? { image: lab.image } : {}),
      ...(gateway ? { gateway } : {}),
      ...(this.#tools ? { tools: this.#tools } : {}),
    };
  }

  /**
   * Whether a pool may begin a refill now: no launch waits or starts, none came for a moment, and
   * the server has room. A burst's claims then share the machine with nothing of the pools'
   * (measured: refills during a 150-launch burst took a third of the server's thread, in spawn
   * and cgroup mkdir). Not calm yet: one timer tries again once it is.
   */
  #mayRefill(): boolean {
    if (this.#queue.size > 0 || this.#inFlight > 0 || !this.#hasRoom()) return false;
    const wait = this.#calmAt - this.#now();
    if (wait <= 0) return true;
    if (!this.#calmTimer && !this.#closed) {
      this.#calmTimer = setTimeout(() => {
        this.#calmTimer = undefined;
        this.#pools.fill();
      }, wait);
      this.#calmTimer.unref();
    }
    return false;
  }

  /** Ready instances in the lab's warm pool (the benches and tests wait on it). */
  pooled(labId?: string): number {
    return this.#pools.readyCount(labId);
  }

  /** Begins filling the warm pools (once the gateway listens); refills follow by themselves. */
  warm(): void {
    this.#pools.fill();
  }

  #rateKey(owner: string, learnerId: string | undefined): string {
    return learnerId === undefined ? `client:${owner}` : `learner:${learnerId}`;
  }

  /** Why one more launch by (owner, learner) would be refused now, if it would. */
  quotaRefusal(owner: string, learnerId?: string): QuotaRefusal | undefined {
    const live = [...this.#entries.values()].map((entry) => entry.session);
    const quota = labQuotaRefusal(live, { owner, ...(learnerId === undefined ? {} : { learnerId }) }, this.#limits);
    if (quota) return quota;
    const retryMs = this.#rate.retryAfterMs(this.#rateKey(owner, learnerId));
    if (retryMs > 0) return { code: 'rate_limited', max: this.#limits.launchesPerMinute, retryAfterSeconds: Math.ceil(retryMs / 1000) };
    if ((this.#queue.size > 0 || !this.#hasRoom()) && this.#queue.size >= this.#limits.maxQueue) {
      // The head of the queue moves after about one start, or one departure when full.
      const retryAfterSeconds = Math.min(300, Math.max(5, this.#estimate(1)));
      return { code: 'queue_full', max: this.#limits.maxQueue, retryAfterSeconds };
    }
    return undefined;
  }

  /**
   * Throws the SessionError a launch by (owner, learner) would get from the quotas, logging it
   * (`quota refused`). Callers check before expensive launch preparations; create() checks again.
   */
  admit(labId: string, owner: string, learnerId?: string): void {
    const refusal = this.quotaRefusal(owner, learnerId);
    if (!refusal) return;
    launches.inc({ lab: labId, result: 'refused' });
    this.#info(
      { lab: labId, ...(learnerId ? { learner: learnerId } : {}), client: owner, code: refusal.code, max: refusal.max, ...('scope' in refusal ? { scope: refusal.scope } : {}) },
      'quota refused',
    );
    const details: Record<string, string> = { max: String(refusal.max) };
    if (refusal.code === 'too_many_labs') throw new SessionError('too_many_labs', `at most ${refusal.max} labs per ${refusal.scope}`, details);
    if (refusal.code === 'rate_limited') {
      throw new SessionError('rate_limited', `at most ${refusal.max} launches a minute`, { ...details, seconds: String(refusal.retryAfterSeconds) }, refusal.retryAfterSeconds);
    }
    throw new SessionError('queue_full', `the queue holds ${refusal.max} launches`, { ...details, seconds: String(refusal.retryAfterSeconds) }, refusal.retryAfterSeconds);
  }

  /**
   * Creates a session. With room, starts it and resolves once it runs, or after `waitMs` with the
   * lab still starting (the page then follows it); without room, queues it and resolves at once
   * (it starts when a slot frees). `queued` is true when the lab does not run yet. Throws a
   * SessionError: unknown lab, quota (too_many_labs, rate_limited, queue_full), a start failure
   * within `waitMs`.
   */
  async create(
    labId: string,
    owner: string,
    options: LaunchOptions = {},
    { waitMs = Infinity }: { waitMs?: number } = {},
  ): Promise<{ session: Session; token: string; queued: boolean }> {
    if (this.#closed) throw new SessionError('lab_failed', 'the server is shutting down');
    const lab = this.labs.get(labId);
    if (!lab) throw new SessionError('unknown_lab', `no lab named ${labId}`, { lab: labId });
    this.admit(labId, owner, options.learnerId);
    this.#rate.hit(this.#rateKey(owner, options.learnerId));
    this.#calmAt = this.#now() + refillCalmMs;

    const id = randomBytes(12).toString('base64url');
    const token = randomBytes(32).toString('base64url');
    const createdAt = this.#now();
    const ttl = Math.min(lab.ttl, this.#limits.maxTtl, this.#limits.maxLifetime);
    const idle = Math.min(lab.idle, this.#limits.maxIdle ?? Infinity);

    const { promise: ready, resolve, reject } = deferred<LabHandle>();
    const session: Session = {
      id,
      labId,
      lab,
      owner,
      ...(options.learnerId ? { learnerId: options.learnerId } : {}),
      resources: options.resources ?? lab.resources,
      configured: options.choices ?? {},
      appId: appIdAlphabet(randomBytes(10)),
      ...(options.choices?.service && options.choices.service !== 'terminal' ? { servicePassword: randomBytes(12).toString('base64url') } : {}),
      createdAt,
      ttl,
      idle,
      expiresAt: createdAt + ttl,
      maxExpiresAt: createdAt + Math.max(ttl, this.#limits.maxLifetime),
      status: 'queued',
      progress: [{ step: 'queued', percent: 0 }],
      slow: false,
      lastActivity: createdAt,
      ready,
    };
    const entry: Entry = { session, tokenHashes: [sha256(token)], launch: options, resolve, reject };
    this.#entries.set(id, entry);
    this.#byAppId.set(session.appId, id);
    const holder = this.#replication?.bus.replicaId ?? '';
    this.#write(id, (records) => records.insert(Sessions.#record(entry, holder)));

    // A full server gives up another lab's pooled instance before making a learner wait.
    if (this.#queue.size === 0 && !this.#hasRoom()) this.#pools.evict(labId);
    if (this.#queue.size === 0 && this.#hasRoom()) {
      // Same instant as createdAt: a lab that never waited has expiresAt - createdAt = its ttl.
      const started = this.#begin(entry, createdAt);
      if (waitMs === Infinity) return { session: await started, token, queued: false };
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(resolve, waitMs, undefined);
      });
      try {
        const running = await Promise.race([started, timeout]);
        return { session, token, queued: running === undefined };
      } finally {
        clearTimeout(timer);
      }
    }
    const position = this.#queue.push(id);
    launches.inc({ lab: labId, result: 'queued' });
    this.#info({ ...Sessions.#fields(session), position, estimatedWaitSeconds: this.#estimate(position) }, 'lab queued');
    return { session, token, queued: true };
  }

  /** Starts the entry's lab now; resolves with its session once it runs, rejects if it fails. */
  #begin(entry: Entry, startedAt = this.#now()): Promise<Session> {
    const { session } = entry;
    const options = entry.launch ?? {};
    delete entry.launch;
    const { id, lab, progress } = session;
    session.status = 'starting';
    session.startedAt = startedAt;
    session.expiresAt = startedAt + session.ttl;
    session.maxExpiresAt = startedAt + Math.max(session.ttl, this.#limits.maxLifetime);
    session.lastActivity = startedAt;
    this.#share(session, ['status', 'startedAt', 'expiresAt', 'maxExpiresAt', 'lastActivity', 'progress']);
    this.#inFlight += 1;
    const slowTimer = setTimeout(() => {
      if (session.status !== 'starting') return;
      session.slow = true;
      this.#share(session, ['slow']);
      this.#notify(session);
    }, this.#slowStartMs);
    slowTimer.unref();

    // A pooled instance has the lab's own resources: a launch that asked for less makes its own.
    const sameResources = (Object.keys(lab.resources) as (keyof LabResources)[]).every((key) => lab.resources[key] === session.resources[key]);
    const pooled = sameResources ? this.#pools.take(session.labId) : undefined;
    const env = { ...lab.env, ...options.env };
    const onProgress = (event: ProgressEvent): void => {
      if (session.status === 'starting' && event.step !== 'ready') {
        // The backend's own words (a pod event) go to the page as they are, bounded.
        progress.push({ step: event.step, percent: event.percent, ...(event.message ? { message: event.message.slice(0, 300) } : {}) });
        this.#share(session, ['progress']);
        this.#notify(session);
      }
    };
    // async wrapper: a driver that throws synchronously still yields a rejected promise.
    const ready = (async () => {
      const claim = {
        sessionId: id,
        ...(session.learnerId ? { learnerId: session.learnerId } : {}),
        env: { ...options.env },
        ...(options.homeFiles ? { homeFiles: options.homeFiles } : {}),
        expiresAt: session.expiresAt,
      };
      let provisioned = pooled ?? (await this.driver.provision(this.#template(lab, session.resources), onProgress));
      let handle = provisioned;
      try {
        if (pooled) {
          onProgress({ step: 'claim', percent: 80 });
          try {
            handle = await this.driver.claim(pooled, claim);
          } catch (error) {
            // A pooled lab that died while it waited (a pod evicted, a sandbox killed): the
            // learner gets a new one rather than the error.
            this.#onError(error, `claim pooled ${pooled.id}`);
            await this.driver.stop(pooled).catch(() => {});
            provisioned = handle = await this.driver.provision(this.#template(lab, session.resources), onProgress);
            handle = await this.driver.claim(provisioned, claim);
          }
        } else handle = await this.driver.claim(provisioned, claim);
        await options.prepare?.(handle, onProgress);
      } catch (error) {
        await this.driver.stop(handle).catch((stopError: unknown) => this.#onError(stopError, `stop ${id}`));
        throw error;
      }
      return handle;
    })();
    ready.then(entry.resolve, entry.reject);
    this.#notify(session);
    const settled = this.#settle(session, ready, env, pooled !== undefined).finally(() => {
      this.#inFlight -= 1;
      clearTimeout(slowTimer);
      this.#pending.delete(settled);
      this.#pump();
    });
    this.#pending.add(settled);
    settled.catch(() => {});
    return settled;
  }

  async #settle(session: Session, ready: Promise<LabHandle>, env: Record<string, string>, pooled: boolean): Promise<Session> {
    const { id, progress } = session;

    try {
      const handle = await ready;
      session.handle = handle;
      if (this.#entries.get(id)?.session !== session) {
        // Deleted (or shut down) while it was starting: release what the driver made.
        await this.driver.stop(handle).catch((error: unknown) => this.#onError(error, `stop ${id}`));
        throw new SessionError('lab_failed', 'the lab was stopped while it started');
      }
      const readyAt = this.#now();
      this.#calmAt = readyAt + refillCalmMs;
      session.status = 'running';
      session.readyAt = readyAt;
      const durationMs = readyAt - (session.startedAt ?? readyAt);
      if (durationMs > this.#slowStartMs) session.slow = true;
      if (progress.at(-1)?.step !== 'ready') progress.push({ step: 'ready', percent: 100 });
      this.#share(session, ['status', 'readyAt', 'slow', 'progress', 'handle']);
      this.#stats.recordStart(durationMs);
      launches.inc({ lab: session.labId, result: 'started' });
      launchDuration.observe({ lab: session.labId }, (readyAt - session.createdAt) / 1000);
      this.#info(
        { ...Sessions.#fields(session), durationMs, waitedMs: (session.startedAt ?? readyAt) - session.createdAt, slow: session.slow, pooled },
        'lab started',
      );
      this.#notify(session);
      this.emit('launched', session);
      return session;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (this.#entries.get(id)?.session === session) {
        session.status = 'failed';
        const entry = this.#entries.get(id)!;
        this.#forget(id);
        this.#bury(id, entry.tokenHashes);
        launches.inc({ lab: session.labId, result: 'failed' });
        this.#warn({ ...Sessions.#fields(session), reason: 'failed', error: scrub(message, env) }, 'lab stopped');
        this.emit('stopped', session, 'failed', true);
        this.#notify(session);
      }
      if (error instanceof SessionError) throw error;
      throw new SessionError('lab_failed', scrub(message, env));
    }
  }

  /** Starts queued labs while there is room. */
  #pump(): void {
    let moved = false;
    while (this.#queue.size > 0 && this.#hasRoom()) {
      const id = this.#queue.shift()!;
      const entry = this.#entries.get(id);
      if (!entry || entry.session.status !== 'queued') continue;
      moved = true;
      void this.#begin(entry);
    }
    if (moved) this.#notifyQueued();
    this.#pools.fill();
  }

  #bury(id: string, tokenHashes: Buffer[]): void {
    const now = this.#now();
    for (const [known, tombstone] of this.#failed) {
      if (tombstone.until > now && this.#failed.size < maxTombstones) break;
      this.#failed.delete(known);
    }
    this.#failed.set(id, { tokenHashes, until: now + tombstoneMs });
  }

  /** Wakes long-polls of that session. */
  #notify(session: Session): void {
    const waiters = this.#waiters.get(session.id);
    if (waiters) {
      this.#waiters.delete(session.id);
      for (const wake of waiters) wake();
    }
    this.emit('changed', session);
  }

  #notifyQueued(): void {
    for (const id of this.#queue.ids()) {
      const entry = this.#entries.get(id);
      if (entry) this.#notify(entry.session);
    }
  }

  /** Seconds until the lab at `position` in the queue runs, estimated. */
  #estimate(position: number): number {
    const now = this.#now();
    const dueInMs: number[] = [];
    for (const { session } of this.#entries.values()) {
      if (session.status !== 'running') continue;
      dueInMs.push(Math.min(session.expiresAt, session.lastActivity + session.idle) - now);
    }
    return estimateWaitSeconds({
      position,
      active: this.#activeCount(),
      maxActive: this.#limits.maxLabs,
      maxStarting: this.#limits.maxStarting,
      averageStartMs: this.#stats.averageStartMs(),
      departureRate: this.#stats.departureRate(),
      dueInMs,
    });
  }

  /**
   * Resolves when something about the session changes (progress, status, queue position, slow),
   * at once if it already has more than `seen` progress events or is no longer queued or
   * starting, or after `timeoutMs`, or when `signal` aborts.
   */
  waitForChange(session: Session, seen: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (session.progress.length > seen || (session.status !== 'queued' && session.status !== 'starting')) return Promise.resolve();
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(session.id);
      if (!waiters) this.#waiters.set(session.id, (waiters = new Set()));
      const set = waiters;
      const wake = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        set.delete(wake);
        if (set.size === 0 && this.#waiters.get(session.id) === set) this.#waiters.delete(session.id);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      signal?.addEventListener('abort', wake, { once: true });
      set.add(wake);
    });
  }

  /** The live session with that id (queued, starting or running), if any. */
  get(id: string): Session | undefined {
    return this.#entries.get(id)?.session;
  }

  /** Token check in constant time (hashes compared, so lengths never leak either). */
  authorize(id: string, token: string | undefined): Authorization {
    if (!token) return { ok: false, code: 'unauthorized' };
    const hash = sha256(token);
    // Every hash is compared, so the time taken does not tell which token (if any) matched.
    const matches = (known: Buffer[]): boolean => known.map((candidate) => timingSafeEqual(hash, candidate)).includes(true);
    const entry = this.#entries.get(id);
    const now = this.#now();
    if (!entry) {
      const tombstone = this.#failed.get(id);
      if (tombstone && tombstone.until > now && matches(tombstone.tokenHashes)) return { ok: false, code: 'lab_failed' };
      return { ok: false, code: 'lab_gone' };
    }
    if (entry.session.status !== 'queued' && entry.session.expiresAt <= now) return { ok: false, code: 'lab_gone' };
    if (!matches(entry.tokenHashes)) return { ok: false, code: 'forbidden' };
    return { ok: true, session: entry.session };
  }

  /** The learner's live session of that lab, if any: a lab belongs to the learner, not the page. */
  #forget(id: string, share = true): void {
    const entry = this.#entries.get(id);
    if (entry) this.#byAppId.delete(entry.session.appId);
    this.#entries.delete(id);
    if (entry && share) this.#write(id, (records) => records.remove(id), true);
  }

  /** The live session whose service origins carry this app id. */
  byAppId(appId: string): Session | undefined {
    const id = this.#byAppId.get(appId);
    return id === undefined ? undefined : this.#entries.get(id)?.session;
  }

  findForLearner(learnerId: string, labId: string): Session | undefined {
    for (const { session } of this.#entries.values()) {
      if (session.learnerId === learnerId && session.labId === labId && session.status !== 'stopped') return session;
    }
    return undefined;
  }

  /**
   * Running sessions of a learner that this replica holds (it re-runs their checks when their
   * forge or bucket changes; another replica's are its own to check).
   */
  forLearner(learnerId: string): Session[] {
    return [...this.#entries.values()]
      .filter(({ session, remote }) => !remote && session.learnerId === learnerId && session.status === 'running')
      .map(({ session }) => session);
  }

  /** A further token for a live session (another page of the learner opening the same lab). */
  issueToken(id: string): string | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    const token = randomBytes(32).toString('base64url');
    // Bounded: a learner reloading pages all day must not grow the list without end.
    const hash = sha256(token);
    entry.tokenHashes = [...entry.tokenHashes.slice(-(maxTokens - 1)), hash];
    this.#write(id, (records) => records.addToken(id, hash.toString('hex'), maxTokens));
    return token;
  }

  /** Marks activity (API call, terminal input) so the idle reaper leaves the lab alone. */
  touch(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    const now = this.#now();
    entry.session.lastActivity = now;
    // The reaper may run on another replica: it hears of activity, at most every few seconds.
    if (this.#replication && now - (entry.activityShared ?? 0) >= activityShareMs) {
      entry.activityShared = now;
      this.#share(entry.session, ['lastActivity']);
    }
  }

  /**
   * Pushes the lab's expiry by one step (the configured step, or the lab's ttl), never past its
   * lifetime cap. A queued lab has no clock yet: lab_not_started.
   */
  extend(id: string): Extension | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    const { session } = entry;
    if (session.status !== 'running' && session.status !== 'starting') return { ok: false, code: 'lab_not_started' };
    if (session.expiresAt >= session.maxExpiresAt) return { ok: false, code: 'extend_limit' };
    const step = this.#limits.extendStep ?? session.ttl;
    const before = session.expiresAt;
    session.expiresAt = Math.min(session.expiresAt + step, session.maxExpiresAt);
    session.lastActivity = this.#now();
    this.#share(session, ['expiresAt', 'lastActivity']);
    if (session.handle) this.driver.update(session.handle, { expiresAt: session.expiresAt }).catch((error: unknown) => this.#onError(error, `update ${id}`));
    this.#info(
      { ...Sessions.#fields(session), addedMs: session.expiresAt - before, expiresAt: new Date(session.expiresAt).toISOString() },
      'lab extended',
    );
    this.#notify(session);
    return { ok: true, session };
  }

  /** Stops a lab (or drops it from the queue) and forgets it. Idempotent; resolves once the driver released it. */
  async stop(id: string, reason: StopReason = 'deleted'): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    this.#forget(id);
    const { session } = entry;
    const previous = session.status;
    session.status = 'stopped';
    const now = this.#now();
    this.#info(
      { ...Sessions.#fields(session), reason, was: previous, ...(session.startedAt === undefined ? {} : { livedMs: now - session.startedAt }) },
      'lab stopped',
    );
    this.emit('stopped', session, reason, true);
    this.#notify(session);
    if (previous === 'queued') {
      delete entry.launch;
      this.#queue.remove(id);
      entry.reject(new SessionError('lab_failed', 'the lab was stopped before it started'));
      this.#notifyQueued();
      return true;
    }
    // A lab still starting is released by #settle once the driver hands its handle back.
    if (previous !== 'starting' && session.handle) {
      try {
        await this.driver.stop(session.handle);
      } catch (error) {
        this.#onError(error, `stop ${id}`);
      }
    }
    this.#stats.recordDeparture();
    this.#pump();
    return true;
  }

  /** Stops labs past their TTL or idle for longer than their lab's idle limit. */
  async reap(): Promise<string[]> {
    const now = this.#now();
    const reaped: Promise<unknown>[] = [];
    const ids: string[] = [];
    for (const [id, tombstone] of this.#failed) if (tombstone.until <= now) this.#failed.delete(id);
    for (const { session, remote } of [...this.#entries.values()]) {
      // Another replica's launch that never got anywhere: its holder died with it.
      if (remote && (session.status === 'queued' || session.status === 'starting') && now - session.createdAt >= staleStartMs) {
        ids.push(session.id);
        this.#dropRemote(session.id);
        this.#write(session.id, (records) => records.remove(session.id), true);
      }
    }
    for (const { session } of this.#entries.values()) {
      if (session.status !== 'running') continue;
      const reason: StopReason | undefined =
        session.expiresAt <= now ? 'expired' : now - session.lastActivity >= session.idle ? 'idle' : undefined;
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

  /** Launches waiting for a slot. */
  queuedCount(): number {
    return this.#queue.size;
  }

  all(): Session[] {
    return [...this.#entries.values()].map((entry) => entry.session);
  }

  /**
   * On shutdown: no new labs, drop the queue, stop the reaper, and stop every lab — but for a
   * replica, whose running labs are the deployment's (another replica serves them): it stops
   * only the launches it was still driving.
   */
  async stopAll(): Promise<void> {
    this.#closed = true;
    await this.#leadership?.stop();
    this.#unsubscribe?.();
    if (this.#reaper) clearInterval(this.#reaper);
    clearTimeout(this.#calmTimer);
    this.#reaper = undefined;
    for (const id of [...this.#queue.ids()]) await this.stop(id, 'shutdown');
    const starting = [...this.#pending].map((promise) => promise.catch(() => undefined));
    const mine = [...this.#entries.values()].filter((entry) => !this.#replication || (!entry.remote && entry.session.status !== 'running'));
    await Promise.all(mine.map(({ session }) => this.stop(session.id, 'shutdown')));
    // Labs that were starting are released by #settle once their start settles.
    await Promise.all(starting);
    await this.#pools.close();
    await Promise.all([...this.#writes.values()]);
    for (const waiters of [...this.#waiters.values()]) for (const wake of [...waiters]) wake();
  }

  /** The session as the API shows it, with its queue position and wait estimate. */
  describe(session: Session): SessionView {
    const view = Sessions.view(session);
    if (session.status === 'queued') {
      const position = this.#queue.position(session.id);
      if (position !== undefined) {
        view.position = position;
        view.estimatedWaitSeconds = this.#estimate(position);
      }
    } else if (session.status === 'starting') {
      const elapsed = this.#now() - (session.startedAt ?? this.#now());
      view.estimatedWaitSeconds = Math.max(1, Math.ceil((this.#stats.averageStartMs() - elapsed) / 1000));
    }
    return view;
  }

  /** The session as the API shows it, without queue information (see describe()). */
  static view(session: Session): SessionView {
    return {
      id: session.id,
      lab: session.labId,
      title: { ...session.lab.title },
      status: session.status,
      createdAt: new Date(session.createdAt).toISOString(),
      expiresAt: new Date(session.expiresAt).toISOString(),
      maxExpiresAt: new Date(session.maxExpiresAt).toISOString(),
      idleExpiresAt: new Date(session.lastActivity + session.idle).toISOString(),
      slow: session.slow,
      startDurationMs: session.readyAt !== undefined && session.startedAt !== undefined ? session.readyAt - session.startedAt : null,
      limits: { resources: { ...session.resources }, enforced: session.handle ? session.handle.limits : null },
      configured: { ...session.configured },
      ...(session.servicePassword ? { servicePassword: session.servicePassword } : {}),
      progress: session.progress.map((event) => ({ ...event })),
    };
  }
}

/**
 * A session's `ready`, settled from outside (Promise.withResolvers, once the project targets
 * ES2024); callers that only look at the status must not see an unhandled rejection.
 */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Lower-case base32 (RFC 4648's letters, lower-cased): 10 random bytes give 16 characters. */
function appIdAlphabet(bytes: Buffer): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += letters[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
