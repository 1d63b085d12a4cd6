/**
 * The one interface between the lab server and whatever runs labs (a local sandbox, a pod).
 * Modelled on JupyterHub's Spawner: nothing outside `drivers/` knows which backend runs.
 */
import type { Socket } from 'node:net';

export interface LabResources {
  /** CPU cores (fractional allowed). */
  cpu: number;
  /** Bytes. */
  memory: number;
  /** Bytes of writable storage (home + /tmp). */
  disk: number;
  /** Maximum number of processes. */
  pids: number;
}

/**
 * What a lab is made from, before any learner has it: everything lab.yaml and the server decide.
 * A driver provisions labs from templates ahead of demand (a warm pool) and hands one to a learner
 * with claim(), which adds what belongs to them.
 */
export interface LabTemplate {
  /** The lab definition's id (labs/<labId>/lab.yaml). */
  labId: string;
  /** Absolute path inside the lab where shells start, e.g. /home/onyxia/work. */
  workspace: string;
  resources: LabResources;
  /** The lab's own environment (lab.yaml `env`): the same for every learner. */
  env: Record<string, string>;
  /** Container image; only the kubernetes driver uses it. */
  image?: string;
  /**
   * How the lab reaches the lab server's forge and S3 endpoint: a Unix socket on the host,
   * forwarded to 127.0.0.1:<port> inside the lab's own network namespace (the local driver).
   */
  gateway?: { socketPath: string; port: number };
  /** Programs shipped into the lab, read-only and first on its PATH (e.g. mc): name → content. */
  tools?: Record<string, string>;
}

/** What giving a provisioned lab to a learner adds to it. */
export interface LabClaim {
  /** The session the lab now serves (url-safe). */
  sessionId: string;
  /** The learner it belongs to, if any (a label, for operators and culling). */
  learnerId?: string;
  /** Added to the lab's environment for every process started from now on (credentials, secrets). Never logged. */
  env: Record<string, string>;
  /** Files created in the lab user's home, mode 0600 (dotfiles): name → content. Never logged. */
  homeFiles?: Record<string, string>;
  /** Epoch milliseconds after which the lab may be reaped. */
  expiresAt: number;
}

/** A template and a claim at once (one environment: the lab's and the learner's merged). */
export type LabSpec = LabTemplate & LabClaim;

export interface ProgressEvent {
  /** Stable machine key, translated by the UI (i18n key under `progress.`). */
  step: string;
  /** 0..100 */
  percent: number;
  /** The backend's own words for it (a pod event's message), shown as they are; never a secret. */
  message?: string;
}

/** Which limits the backend actually enforces, shown in the lab's status. */
export interface EnforcedLimits {
  memory: boolean;
  pids: boolean;
  cpu: boolean;
  disk: boolean;
  /** How: e.g. "cgroup-v1", "cgroup-v2", "rlimit", "tmpfs-size". */
  mechanisms: string[];
}

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface LabHandle {
  /** The driver's name for this lab instance (unique within the deployment, url-safe). */
  id: string;
  labId: string;
  /** The session it serves once claimed. */
  sessionId?: string;
  limits: EnforcedLimits;
  /**
   * What the driver needs to find the lab again, as plain JSON: a handle saved by one process is
   * usable by another (a restart, another replica). Opaque to the rest of the server; never a secret.
   */
  readonly state: Json;
}

export interface ExecResult {
  /** The command's exit status (124 after a timeout, as timeout(1) says it). */
  code: number;
  stdout: string;
  stderr: string;
  /** The command was killed because it ran past its timeout. */
  timedOut: boolean;
}

/** A listener's registration, undone by dispose(). */
export interface Subscription {
  dispose(): void;
}

/**
 * A terminal in the lab: a login shell on a pty, as a stream of characters with a size. Locally a
 * node-pty; in a pod an exec stream through the API server. pause/resume are its flow control.
 */
export interface LabTerminal {
  onData(listener: (data: string) => void): Subscription;
  /** Once: the shell ended (code null when it was killed, or the lab went away). */
  onExit(listener: (exit: { code: number | null }) => void): Subscription;
  write(data: string): void;
  resize(size: TerminalSize): void;
  pause(): void;
  resume(): void;
  /** Ends the shell and everything it runs. Idempotent. */
  close(): void;
}

export interface TerminalSize {
  cols: number;
  rows: number;
}

/**
 * A long-running program of the lab that the learner opens in the browser (JupyterLab, VS Code):
 * run as the lab's user with the lab's limits, listening on a Unix socket inside the lab, never on
 * a TCP port of the host. The lab server reaches it through Driver.connectService.
 */
export interface ServiceSpec {
  /** Stable name within the lab (`jupyterlab`, `vscode`): one process per name. */
  name: string;
  /** What to run inside the lab, in its workspace, without a shell. */
  argv: string[];
  /** Added to the lab's environment for this process only (its password). Never logged. */
  env?: Record<string, string>;
  /** The Unix socket it listens on, inside the lab (under SERVICE_SOCKET_DIR for the local driver). */
  socket: string;
  /** Where its output goes, inside the lab (read back when it fails to start). */
  log: string;
  /**
   * Files the service reads its defaults from (its settings), created before it starts unless the
   * learner already has them: absolute path inside the lab → content.
   */
  defaults?: Record<string, string>;
}

export type ServiceState = 'stopped' | 'starting' | 'running';

/** What a lab consumes now, against its limits (the dock's Monitoring tab). */
export interface LabUsage {
  /** Cores used on average since the previous reading (or since the lab started). */
  cpu: { used: number; limit: number };
  /** Bytes of memory in use (page cache included, as the kernel counts it for the limit). */
  memory: { used: number; limit: number };
  /** Epoch milliseconds of the reading. */
  at: number;
}

export interface Driver {
  readonly name: string;
  /**
   * Makes a lab from its template, with no learner yet; resolves once a shell can be attached.
   * Reports progress on the way.
   */
  provision(template: LabTemplate, onProgress?: (event: ProgressEvent) => void): Promise<LabHandle>;
  /**
   * Gives a provisioned lab to a learner: their environment and home files, its session, its
   * expiry. Resolves with the claimed handle; the one given must not be used after.
   */
  claim(handle: LabHandle, claim: LabClaim): Promise<LabHandle>;
  /** A new interactive login shell in the lab, in its workspace, on its own pty. */
  attach(handle: LabHandle, size: TerminalSize): Promise<LabTerminal>;
  /** Run argv inside the lab as the lab's user, without a shell unless argv asks for one. */
  exec(handle: LabHandle, argv: string[], options?: { timeoutMs?: number; stdin?: string }): Promise<ExecResult>;
  /** Carries a change of the lab's life to the backend (an extension: a pod's expiry label). */
  update(handle: LabHandle, change: { expiresAt: number }): Promise<void>;
  /** Kill every process of the lab and release its resources. Idempotent. */
  stop(handle: LabHandle): Promise<void>;
  /** Whether the lab still runs, whoever made it (KubeSpawner's poll): a replica joining checks the sessions it is told of. */
  poll(handle: LabHandle): Promise<boolean>;
  /**
   * The labs of this deployment the backend still runs, claimed or not (to recover or reap after
   * a restart); never another deployment's, nor those of another live server sharing the host.
   */
  list(): Promise<LabHandle[]>;
  /** The origin labs reach the lab server's forge and S3 at, given the port the server listens on. */
  gatewayOrigin(serverPort: number): string;
  /** Releases what the driver holds in this process (watches, timers, handlers). Labs go on. */
  close(): Promise<void>;
  /**
   * Starts the service unless it runs; resolves once its socket accepts connections, rejects with
   * what its log says when it exits or does not listen within timeoutMs.
   */
  startService(handle: LabHandle, spec: ServiceSpec, options?: { timeoutMs?: number }): Promise<void>;
  /** Whether the service's process runs and its socket accepts connections. */
  serviceState(handle: LabHandle, name: string): Promise<ServiceState>;
  /** Stops the service's processes (the lab goes on). Idempotent. */
  stopService(handle: LabHandle, name: string): Promise<void>;
  /** A new connection to the running service's socket (the proxy's upstream). */
  connectService(handle: LabHandle, name: string): Socket;
  /** CPU and memory in use against the lab's limits; undefined where the backend cannot tell. */
  usage(handle: LabHandle): Promise<LabUsage | undefined>;
}

