/**
 * The one interface between the lab server and whatever runs labs (a local sandbox, a pod).
 * Modelled on JupyterHub's Spawner: nothing outside `drivers/` knows which backend runs.
 */
import type { IPty } from 'node-pty';
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

export interface LabSpec {
  /** Session id, unique on this server (url-safe). */
  id: string;
  /** The lab definition's id (labs/<labId>/lab.yaml). */
  labId: string;
  /** Absolute path inside the lab where shells start, e.g. /home/onyxia/work. */
  workspace: string;
  resources: LabResources;
  /** Extra environment for every process of the lab (credentials, settings). Never logged. */
  env: Record<string, string>;
  /** Container image; only the kubernetes driver uses it. */
  image?: string;
  /** Epoch milliseconds after which the lab may be reaped. */
  expiresAt: number;
  /**
   * How the lab reaches the lab server's forge and S3 endpoint: a Unix socket on the host,
   * forwarded to 127.0.0.1:<port> inside the lab's own network namespace.
   */
  gateway?: { socketPath: string; port: number };
  /** Programs shipped into the lab, read-only and first on its PATH (e.g. mc): name → content. */
  tools?: Record<string, string>;
  /** Files created in the lab user's home at start, mode 0600 (dotfiles): name → content. Never logged. */
  homeFiles?: Record<string, string>;
}

export interface ProgressEvent {
  /** Stable machine key, translated by the UI (i18n key under `progress.`). */
  step: string;
  /** 0..100 */
  percent: number;
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

export interface LabHandle {
  id: string;
  labId: string;
  limits: EnforcedLimits;
  /** Backend-specific data; opaque to the rest of the server. */
  readonly internal?: unknown;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
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
  /** Provision a lab; resolves once a shell can be attached. Reports progress on the way. */
  start(spec: LabSpec, onProgress?: (event: ProgressEvent) => void): Promise<LabHandle>;
  /** A new interactive login shell in the lab, in its workspace, on its own pty. */
  attach(handle: LabHandle, size: TerminalSize): Promise<IPty>;
  /** Run argv inside the lab as the lab's user, without a shell unless argv asks for one. */
  exec(handle: LabHandle, argv: string[], options?: { timeoutMs?: number; stdin?: string }): Promise<ExecResult>;
  /** Kill every process of the lab and release its resources. Idempotent. */
  stop(handle: LabHandle): Promise<void>;
  /** Labs this backend still runs (to recover or reap after a restart). */
  list(): Promise<LabHandle[]>;
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
