/**
 * The coordinator of replicas sharing one PostgreSQL (ATELIER_DATABASE_URL).
 *
 * Bus: every replica LISTENs on one channel of its deployment, on a connection of its own; a
 * message is a NOTIFY of a JSON envelope naming its sender, so a replica drops its own echo (its
 * subscribers had it at once). NOTIFY is sent on a connection of its own, in publishing order, so
 * a replica whose listening connection is down still reaches the others. When that connection drops, the replica reconnects
 * with back-off, LISTENs again and tells its subscribers there was a gap: NOTIFY keeps nothing
 * for a session that was not listening.
 *
 * Leadership: a session-level advisory lock per job name, taken with pg_try_advisory_lock on
 * another dedicated connection, tried again every `leadRetryMs` by replicas that do not hold it.
 * A holder that dies loses its connection and the lock with it, so another replica takes over
 * within about `leadRetryMs`; a holder whose connection drops aborts its run at once (and, back,
 * waits two rounds before trying again, so that a healthy replica takes over). Connections
 * are named `atelier bus <replica>` and `atelier lead <replica>` (application_name, pg_stat_activity).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { decodeMessage, encodeMessage, LeadNames, newReplicaId, Topics, type Coordinator, type Leadership, type MessageListener } from './coordinator.ts';

export interface PgCoordinatorOptions {
  url: string;
  /** Replicas of one deployment share a channel and locks; another deployment on the same database does not. */
  deployment: string;
  onError: (error: unknown, context: string) => void;
  /** How often a replica not leading tries a job's lock (ms): the takeover time after a holder dies. */
  leadRetryMs?: number;
  /** A dedicated connection is checked this often (ms), and a check slower than this fails it. */
  heartbeatMs?: number;
  /** Reconnection back-off (ms): the first delay, doubled up to `max`, with jitter. */
  reconnect?: { first: number; max: number };
}

interface ConnectionOptions {
  url: string;
  name: string;
  heartbeatMs: number;
  reconnect: { first: number; max: number };
  onError: (error: unknown, context: string) => void;
  /** Runs on each new connection before it counts as up (LISTEN). */
  setup: (client: pg.Client) => Promise<void>;
  up: (client: pg.Client, reconnected: boolean) => void;
  down: () => void;
}

/** A connection of its own, replaced with back-off whenever it fails. */
class DedicatedConnection {
  #client: pg.Client | undefined;
  #attempt = 0;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  readonly #heartbeat: NodeJS.Timeout;

  readonly #o: ConnectionOptions;

  constructor(o: ConnectionOptions) {
    this.#o = o;
    this.#heartbeat = setInterval(() => {
      const client = this.#client;
      if (client) client.query('SELECT 1').catch((error: unknown) => this.#lost(client, error));
    }, o.heartbeatMs);
    this.#heartbeat.unref();
  }

  get client(): pg.Client | undefined {
    return this.#client;
  }

  /** The first connection: rejects when the database cannot be reached. */
  async start(): Promise<void> {
    this.#up(await this.#connect(), false);
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#o.url,
      application_name: this.#o.name,
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      query_timeout: this.#o.heartbeatMs,
    });
    // Without a listener a dropped connection's error would end the process.
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client));
    try {
      await client.connect();
      await this.#o.setup(client);
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  #up(client: pg.Client, reconnected: boolean): void {
    if (this.#closed) {
      void client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#attempt = 0;
    this.#o.up(client, reconnected);
  }

  #lost(client: pg.Client, error?: unknown): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    void client.end().catch(() => undefined);
    if (this.#closed) return;
    this.#o.onError(error ?? new Error('connection ended'), `${this.#o.name}: connection lost, reconnecting`);
    this.#o.down();
    this.#schedule();
  }

  #schedule(): void {
    const delay = Math.min(this.#o.reconnect.first * 2 ** this.#attempt, this.#o.reconnect.max) * (0.5 + Math.random() / 2);
    this.#attempt += 1;
    this.#retry = setTimeout(() => {
      this.#connect().then(
        (client) => this.#up(client, true),
        (error: unknown) => {
          if (this.#closed) return;
          this.#o.onError(error, `${this.#o.name}: reconnection failed`);
          this.#schedule();
        },
      );
    }, delay);
    this.#retry.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}

interface Lease {
  name: string;
  key: string;
  run: (signal: AbortSignal) => Promise<void>;
  stopped: boolean;
  /** The connection holding the lock, while held. */
  heldOn?: pg.Client;
  controller?: AbortController;
  /** The run in progress (it may outlive the lock: it was aborted and is ending). */
  running?: Promise<void>;
  /** Not tried before (epoch ms): a replica that just lost the lock lets the others take it first. */
  notBefore: number;
}

/** A job's advisory lock key: a 64-bit number from the deployment and the name. */
function lockKey(deployment: string, name: string): string {
  return createHash('sha256').update(`atelier lead\0${deployment}\0${name}`).digest().readBigInt64BE(0).toString();
}

export class PgCoordinator implements Coordinator {
  readonly replicaId = newReplicaId();
  readonly #o: Required<PgCoordinatorOptions>;
  readonly #channel: string;
  readonly #topics: Topics;
  readonly #publisher: pg.Pool;
  readonly #bus: DedicatedConnection;
  readonly #locks: DedicatedConnection;
  readonly #names = new LeadNames();
  readonly #leases = new Set<Lease>();
  readonly #contendTimer: NodeJS.Timeout;
  #contending = false;

  private constructor(options: PgCoordinatorOptions) {
    this.#o = { leadRetryMs: 1000, heartbeatMs: 5000, reconnect: { first: 100, max: 5000 }, ...options };
    const { url, onError, heartbeatMs, reconnect } = this.#o;
    this.#channel = `atelier-bus-${options.deployment}`;
    this.#topics = new Topics(onError);
    // One connection: NOTIFYs of one replica leave, and arrive, in the order they were published
    // (a tick then an untick must not swap on the other replicas).
    this.#publisher = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000, application_name: `atelier publish ${this.replicaId}` });
    this.#publisher.on('error', (error) => onError(error, 'bus publisher: idle connection'));
    this.#bus = new DedicatedConnection({
      url,
      name: `atelier bus ${this.replicaId}`,
      heartbeatMs,
      reconnect,
      onError,
      setup: async (client) => {
        client.on('notification', (message) => {
          if (message.channel === this.#channel) this.#received(message.payload ?? '');
        });
        await client.query(`LISTEN ${client.escapeIdentifier(this.#channel)}`);
      },
      up: (_client, reconnected) => {
        if (reconnected) this.#topics.gap();
      },
      down: () => undefined,
    });
    this.#locks = new DedicatedConnection({
      url,
      name: `atelier lead ${this.replicaId}`,
      heartbeatMs,
      reconnect,
      onError,
      setup: async () => undefined,
      up: () => void this.#contend(),
      down: () => {
        // The session is gone and its locks with it: every run stops now. The replica whose
        // connection failed is the less healthy one: the others, trying every leadRetryMs, get
        // the lock first.
        for (const lease of this.#leases) {
          if (lease.heldOn) lease.notBefore = Date.now() + 2 * this.#o.leadRetryMs;
          lease.heldOn = undefined;
          lease.controller?.abort();
        }
      },
    });
    this.#contendTimer = setInterval(() => void this.#contend(), this.#o.leadRetryMs);
    this.#contendTimer.unref();
    this.lead = this.lead.bind(this);
  }

  /** Connects the bus and the lock connection; rejects when the database cannot be reached. */
  static async open(options: PgCoordinatorOptions): Promise<PgCoordinator> {
    const coordinator = new PgCoordinator(options);
    try {
      await coordinator.#bus.start();
      await coordinator.#locks.start();
    } catch (error) {
      await coordinator.close();
      throw error;
    }
    return coordinator;
  }

  #received(text: string): void {
    const message = decodeMessage(text);
    if (!message) {
      // Never the text itself: whoever could NOTIFY may have put anything in it.
      this.#o.onError(new Error(`dropped a malformed bus message of ${Buffer.byteLength(text)} bytes`), 'bus');
      return;
    }
    if (message.r === this.replicaId) return;
    this.#topics.deliver(message.t, message.p);
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    const text = encodeMessage(this.replicaId, topic, payload);
    this.#topics.deliver(topic, decodeMessage(text)!.p);
    await this.#publisher.query('SELECT pg_notify($1, $2)', [this.#channel, text]);
  }

  subscribe(topic: string, listener: MessageListener, onGap?: () => void): () => void {
    return this.#topics.subscribe(topic, listener, onGap);
  }

  lead(name: string, run: (signal: AbortSignal) => Promise<void>): Leadership {
    const release = this.#names.claim(name);
    const lease: Lease = { name, key: lockKey(this.#o.deployment, name), run, stopped: false, notBefore: 0 };
    this.#leases.add(lease);
    void this.#contend();
    let stopped: Promise<void> | undefined;
    return {
      get leading() {
        return lease.heldOn !== undefined;
      },
      stop: () => {
        stopped ??= (async () => {
          lease.stopped = true;
          lease.controller?.abort();
          await lease.running;
          this.#leases.delete(lease);
          release();
        })();
        return stopped;
      },
    };
  }

  /** Tries the lock of every job this replica wants and does not hold (one round at a time). */
  async #contend(): Promise<void> {
    if (this.#contending) return;
    this.#contending = true;
    try {
      for (const lease of this.#leases) {
        const client = this.#locks.client;
        if (!client) return;
        if (lease.stopped || lease.running || Date.now() < lease.notBefore) continue;
        let taken: boolean;
        try {
          taken = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [lease.key])).rows[0]?.ok === true;
        } catch (error) {
          this.#o.onError(error, `lead ${lease.name}`);
          return;
        }
        if (!taken) continue;
        if (lease.stopped || this.#locks.client !== client) {
          await this.#unlock(client, lease);
          continue;
        }
        this.#start(client, lease);
      }
    } finally {
      this.#contending = false;
    }
  }

  #start(client: pg.Client, lease: Lease): void {
    const controller = new AbortController();
    lease.heldOn = client;
    lease.controller = controller;
    lease.running = (async () => {
      try {
        await lease.run(controller.signal);
      } catch (error) {
        this.#o.onError(error, `lead ${lease.name}`);
      }
      // Still held on a live connection: given back, for whoever tries next.
      if (lease.heldOn === client && this.#locks.client === client) await this.#unlock(client, lease);
      lease.heldOn = undefined;
      lease.controller = undefined;
      lease.running = undefined;
    })();
  }

  async #unlock(client: pg.Client, lease: Lease): Promise<void> {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [lease.key]).catch((error: unknown) => this.#o.onError(error, `lead ${lease.name}: unlock`));
  }

  #closing: Promise<void> | undefined;

  /** Stops every lead (releasing its lock) and ends the connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#contendTimer);
    // Runs end (and unlock) while the lock connection is still up.
    await Promise.all(
      [...this.#leases].map(async (lease) => {
        lease.stopped = true;
        lease.controller?.abort();
        await lease.running;
      }),
    );
    this.#leases.clear();
    await this.#bus.close();
    await this.#locks.close();
    await this.#publisher.end();
  }
}
