/**
 * A driver with no sandbox, for the tests of what sits above drivers (sessions, queue, quotas,
 * warm pools) and for the driver contract: a lab is a record in memory and a temporary home
 * directory; its commands are plain processes of the test's own user, in that home. It isolates
 * nothing, needs no root, and starts a lab in microseconds; hooks let a test slow or fail it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import * as pty from 'node-pty';
import { ptyTerminal } from '../../server/drivers/pty-terminal.ts';
import type {
  Driver,
  ExecResult,
  LabClaim,
  LabHandle,
  LabTemplate,
  LabTerminal,
  LabUsage,
  ProgressEvent,
  ServiceSpec,
  ServiceState,
  TerminalSize,
} from '../../server/drivers/driver.ts';

interface MemoryLab {
  id: string;
  labId: string;
  home: string;
  env: Record<string, string>;
  sessionId?: string;
  expiresAt?: number;
  stopped: boolean;
  terminals: Set<pty.IPty>;
}

/** The labs of every MemoryDriver of one deployment: a driver made anew (a restart, a replica) finds them. */
const deployments = new Map<string, Map<string, MemoryLab>>();

export interface MemoryDriverOptions {
  /** Labs of one deployment are shared by its drivers (default: a deployment of its own). */
  deployment?: string;
  /** Before each provision resolves (a slow backend); throwing fails it. */
  beforeProvision?: (template: LabTemplate) => Promise<void> | void;
  /** Before each claim resolves; throwing fails it. */
  beforeClaim?: (claim: LabClaim) => Promise<void> | void;
}

const OUTPUT_CAP = 64 * 1024;

export class MemoryDriver implements Driver {
  readonly name = 'memory';
  readonly #labs: Map<string, MemoryLab>;
  readonly #options: MemoryDriverOptions;
  /** Calls made, in order, for tests to look at. */
  readonly calls: { method: string; id: string }[] = [];

  constructor(options: MemoryDriverOptions = {}) {
    this.#options = options;
    const deployment = options.deployment ?? randomBytes(6).toString('hex');
    let labs = deployments.get(deployment);
    if (!labs) deployments.set(deployment, (labs = new Map()));
    this.#labs = labs;
  }

  #lab(handle: LabHandle): MemoryLab {
    const id = (handle.state as { id?: unknown } | null)?.id;
    const lab = typeof id === 'string' ? this.#labs.get(id) : undefined;
    if (!lab || lab.stopped) throw new Error('the lab is not running');
    return lab;
  }

  #handle(lab: MemoryLab): LabHandle {
    return {
      id: lab.id,
      labId: lab.labId,
      ...(lab.sessionId ? { sessionId: lab.sessionId } : {}),
      limits: { memory: false, pids: false, cpu: false, disk: false, mechanisms: ['none (memory driver)'] },
      state: { id: lab.id },
    };
  }

  async provision(template: LabTemplate, onProgress: (event: ProgressEvent) => void = () => {}): Promise<LabHandle> {
    onProgress({ step: 'sandbox', percent: 10 });
    await this.#options.beforeProvision?.(template);
    const id = `mem-${randomBytes(6).toString('hex')}`;
    const home = mkdtempSync(join(tmpdir(), 'atelier-memory-lab-'));
    mkdirSync(join(home, 'work'));
    const lab: MemoryLab = { id, labId: template.labId, home, env: { ...template.env }, stopped: false, terminals: new Set() };
    this.#labs.set(id, lab);
    this.calls.push({ method: 'provision', id });
    onProgress({ step: 'ready', percent: 100 });
    return this.#handle(lab);
  }

  async claim(handle: LabHandle, claim: LabClaim): Promise<LabHandle> {
    const lab = this.#lab(handle);
    if (lab.sessionId !== undefined) throw new Error('the lab already belongs to a session');
    await this.#options.beforeClaim?.(claim);
    lab.env = { ...lab.env, ...claim.env };
    lab.sessionId = claim.sessionId;
    lab.expiresAt = claim.expiresAt;
    for (const [name, content] of Object.entries(claim.homeFiles ?? {})) {
      if (!/^\.?[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new Error(`invalid home file name: ${name}`);
      writeFileSync(join(lab.home, name), content, { mode: 0o600 });
    }
    this.calls.push({ method: 'claim', id: lab.id });
    return this.#handle(lab);
  }

  #env(lab: MemoryLab): Record<string, string> {
    return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: lab.home, LANG: 'C.UTF-8', TERM: 'xterm-256color', ...lab.env };
  }

  async attach(handle: LabHandle, size: TerminalSize): Promise<LabTerminal> {
    const lab = this.#lab(handle);
    const term = pty.spawn('/bin/bash', ['--noprofile', '--norc', '-i'], {
      name: 'xterm-256color',
      cols: size.cols,
      rows: size.rows,
      cwd: join(lab.home, 'work'),
      env: { ...this.#env(lab), PS1: '$ ' },
    });
    lab.terminals.add(term);
    term.onExit(() => lab.terminals.delete(term));
    return ptyTerminal(term);
  }

  async exec(handle: LabHandle, argv: string[], options: { timeoutMs?: number; stdin?: string } = {}): Promise<ExecResult> {
    const lab = this.#lab(handle);
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise((resolve) => {
      const child = spawn(argv[0] as string, argv.slice(1), { cwd: join(lab.home, 'work'), env: this.#env(lab), detached: true });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.on('data', (data: Buffer) => (stdout = (stdout + data.toString()).slice(0, OUTPUT_CAP)));
      child.stderr.on('data', (data: Buffer) => (stderr = (stderr + data.toString()).slice(0, OUTPUT_CAP)));
      child.stdin.on('error', () => {});
      child.stdin.end(options.stdin ?? '');
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {
          // Gone.
        }
      }, timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        resolve({ code: 127, stdout, stderr: `${stderr}${error.message}\n`, timedOut });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: timedOut ? 124 : (code ?? 1), stdout, stderr: timedOut ? `${stderr}[atelier] timed out after ${timeoutMs} ms\n` : stderr, timedOut });
      });
    });
  }

  async update(handle: LabHandle, change: { expiresAt: number }): Promise<void> {
    this.#lab(handle).expiresAt = change.expiresAt;
    this.calls.push({ method: 'update', id: handle.id });
  }

  async stop(handle: LabHandle): Promise<void> {
    const id = (handle.state as { id?: unknown } | null)?.id;
    const lab = typeof id === 'string' ? this.#labs.get(id) : undefined;
    if (!lab) return;
    lab.stopped = true;
    this.#labs.delete(lab.id);
    for (const term of lab.terminals) {
      try {
        term.kill('SIGKILL');
      } catch {
        // Gone.
      }
    }
    rmSync(lab.home, { recursive: true, force: true });
    this.calls.push({ method: 'stop', id: lab.id });
  }

  async poll(handle: LabHandle): Promise<boolean> {
    const id = (handle.state as { id?: unknown } | null)?.id;
    return typeof id === 'string' && this.#labs.get(id)?.stopped === false;
  }

  async list(): Promise<LabHandle[]> {
    return [...this.#labs.values()].filter((lab) => !lab.stopped).map((lab) => this.#handle(lab));
  }

  gatewayOrigin(serverPort: number): string {
    return `http://127.0.0.1:${serverPort}`;
  }

  async close(): Promise<void> {}

  /** Services need a program listening in the lab: the memory driver offers none. */
  async startService(_handle: LabHandle, spec: ServiceSpec): Promise<void> {
    throw new Error(`the memory driver runs no service (${spec.name})`);
  }

  async serviceState(): Promise<ServiceState> {
    return 'stopped';
  }

  async stopService(): Promise<void> {}

  connectService(_handle: LabHandle, name: string): net.Socket {
    throw new Error(`the memory driver runs no service (${name})`);
  }

  async usage(): Promise<LabUsage | undefined> {
    return undefined;
  }
}
