/**
 * The running labs' services: started on first open (or again after they stopped), reached
 * through one keep-alive agent each, forgotten with their lab. Below the web layer: it knows
 * sessions and the driver, not requests.
 */
import { Agent } from 'node:http';
import type { Socket } from 'node:net';
import type { Sessions, Session } from '../labs/sessions.ts';
import type { ServiceState } from '../drivers/driver.ts';
import { isOpenable, serviceSpec, type OpenableKind } from './catalog.ts';

/** Connections one service may hold at once through the proxy (JupyterLab opens a few per tab). */
const maxSocketsPerService = 32;

/** An http.Agent whose connections are new sockets to one service of one lab (no TCP anywhere). */
class ServiceAgent extends Agent {
  readonly #connect: () => Socket;
  constructor(connect: () => Socket) {
    super({ keepAlive: true, maxSockets: maxSocketsPerService, maxFreeSockets: 4, timeout: 120_000 });
    this.#connect = connect;
  }
  override createConnection(): Socket {
    return this.#connect();
  }
}

export class ServiceError extends Error {
  readonly code: 'not_offered' | 'lab_not_running' | 'service_failed';
  constructor(code: ServiceError['code'], message: string) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
  }
}

export class LabServices {
  readonly #sessions: Sessions;
  /** Per lab session, its services' agents (forgotten with the lab). */
  readonly #agents = new Map<string, Map<OpenableKind, ServiceAgent>>();
  readonly #starting = new Map<string, Promise<void>>();
  /** Labs whose service was started at launch (once each). */
  readonly #launched = new Set<string>();
  readonly #startTimeoutMs: number;

  constructor(sessions: Sessions, options: { startTimeoutMs?: number } = {}) {
    this.#sessions = sessions;
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
    sessions.on('stopped', (session) => this.#forget(session));
    // Services their lab's catalogue starts at launch: as soon as the lab runs, in the background.
    sessions.on('changed', (session) => {
      const kind = session.configured.service;
      if (session.status !== 'running' || !kind || !isOpenable(kind) || session.lab.catalog[kind]?.start !== 'launch') return;
      if (this.#launched.has(session.id)) return;
      this.#launched.add(session.id);
      void this.ensure(session, kind).catch(() => {});
    });
  }

  /** The openable service the session's learner chose at launch, if it is `kind`. */
  serviceOf(session: Session, kind: string): OpenableKind | undefined {
    const chosen = session.configured.service;
    return chosen !== undefined && isOpenable(chosen) && chosen === kind ? chosen : undefined;
  }

  #key(session: Session, kind: OpenableKind): string {
    return `${session.id}/${kind}`;
  }

  /** Starts the service unless it runs; resolves once it accepts connections. */
  async ensure(session: Session, kind: OpenableKind): Promise<void> {
    const handle = session.handle;
    if (session.status !== 'running' || !handle) throw new ServiceError('lab_not_running', 'the lab is not running');
    const key = this.#key(session, kind);
    const pending = this.#starting.get(key);
    if (pending) return pending;
    const driver = this.#sessions.driver;
    const start = (async () => {
      if ((await driver.serviceState(handle, kind)) === 'running') return;
      const spec = serviceSpec(kind, { password: session.servicePassword ?? '', workspace: session.lab.workspace });
      try {
        await driver.startService(handle, spec, { timeoutMs: this.#startTimeoutMs });
      } catch (error) {
        throw new ServiceError('service_failed', (error as Error).message);
      }
    })().finally(() => this.#starting.delete(key));
    this.#starting.set(key, start);
    return start;
  }

  state(session: Session, kind: OpenableKind): Promise<ServiceState> {
    const handle = session.handle;
    if (session.status !== 'running' || !handle) return Promise.resolve('stopped');
    return this.#sessions.driver.serviceState(handle, kind);
  }

  /** The agent the proxy sends this service's requests through. */
  agent(session: Session, kind: OpenableKind): Agent {
    let byKind = this.#agents.get(session.id);
    if (!byKind) this.#agents.set(session.id, (byKind = new Map()));
    let agent = byKind.get(kind);
    if (!agent) {
      const handle = session.handle;
      if (!handle) throw new ServiceError('lab_not_running', 'the lab is not running');
      agent = new ServiceAgent(() => this.#sessions.driver.connectService(handle, kind));
      byKind.set(kind, agent);
    }
    return agent;
  }

  #forget(session: Session): void {
    this.#launched.delete(session.id);
    for (const agent of this.#agents.get(session.id)?.values() ?? []) agent.destroy();
    this.#agents.delete(session.id);
  }

  close(): void {
    for (const byKind of this.#agents.values()) for (const agent of byKind.values()) agent.destroy();
    this.#agents.clear();
  }
}
