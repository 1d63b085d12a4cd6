/**
 * Local driver: one long-lived bubblewrap sandbox per lab, run as a host uid unique to the lab.
 *
 *   keeper:  perl lab-helper.pl start (joins the lab cgroups, rlimits, own mount namespace with the
 *              lab's devpts instance, drops to uid U)
 *              → bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --seccomp … sleep infinity
 *              (with spec.gateway: … perl gateway.pl <port> 7 -- sleep infinity, which first starts
 *              the lab's forwarder from 127.0.0.1:<port> to the server's socket, passed as fd 7)
 *   enter:   perl lab-helper.pl enter (joins the lab cgroups, rlimits, setns into every namespace of
 *              the sandbox's pid 1, chroot, fork, empty bounding set, uid/gid 1000, no_new_privs,
 *              seccomp)
 *              → bash -l (attach, on a node-pty) or argv (exec, on pipes)
 *
 * See lab-helper.pl for why the entry path is not `setpriv … nsenter …`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as pty from 'node-pty';
import type { IPty } from 'node-pty';
import type {
  Driver,
  EnforcedLimits,
  ExecResult,
  Json,
  LabClaim,
  LabHandle,
  LabTemplate,
  LabTerminal,
  LabUsage,
  ProgressEvent,
  ServiceSpec,
  ServiceState,
  TerminalSize,
} from '../driver.ts';
import {
  cgroupPids,
  createLabCgroup,
  killCgroup,
  labCgroupDirs,
  listLabCgroups,
  readLabUsage,
  removeCgroupDirs,
  setupCgroups,
  type CgroupSetup,
} from './cgroups.ts';
import {
  ETC_FILES,
  FD,
  LAB_GID,
  LAB_PTY_MAX,
  LAB_SHELL,
  LAB_UID,
  PROC_MASKED,
  SERVICE_SOCKET_DIR,
  ROOT_ENTRIES,
  bwrapArgs,
  checkGatewayPort,
  checkHomeFileName,
  checkWorkspace,
  diskSplit,
  encodeEnv,
  groupFile,
  helperArgs,
  hostsFile,
  labEnv,
  passwdFile,
  profileFile,
  type HostLayout,
  type Rlimits,
} from './sandbox-args.ts';
import { SeccompError, labSeccompFilter } from './seccomp.ts';
import { UidPool, procInfo, processStart, scanProcs } from './uids.ts';
import { ptyTerminal } from '../pty-terminal.ts';

const HELPER = path.join(import.meta.dirname, 'lab-helper.pl');
const GATEWAY = path.join(import.meta.dirname, 'gateway.pl');
/** open(2)'s O_PATH (same value on x64 and arm64); node does not export it. */
const O_PATH = 0o10000000;
/** How much of a service's log a failed start reports. */
const SERVICE_LOG_TAIL = 2000;

/** A service process of a lab (ServiceSpec), as the driver started it. */
interface RunningService {
  spec: ServiceSpec;
  /** The entry helper: the service is its child inside the lab; its exit is the service's. */
  child: ChildProcess;
  /** Settles once the socket accepts connections, or the start failed. */
  started: Promise<void>;
}
const OUTPUT_CAP = 64 * 1024;

export interface LocalDriverOptions {
  /** First host uid for labs (default 200000). */
  uidBase?: number;
  /** How many uids (= max concurrent labs, default 10000). */
  uidCount?: number;
  /** cgroup mount point (default /sys/fs/cgroup) and our group's name under it (default atelier). */
  cgroupBase?: string;
  cgroupName?: string;
  /**
   * 'none' (default): the lab's own loopback only; it reaches the forge and S3 through spec.gateway.
   * 'host': share the host network (for debugging only: the lab reaches every host port).
   */
  network?: 'none' | 'host';
  /** Max time for a sandbox to come up (default 10 s). */
  startTimeoutMs?: number;
  /** Default exec timeout (default 30 s). */
  execTimeoutMs?: number;
  /** Open files per process (default 4096). */
  nofile?: number;
  /** Ptys a lab may hold at once (default LAB_PTY_MAX). */
  ptyMax?: number;
  /**
   * Host directory (root only) of the uid leases and claimed labs' records, shared by every
   * server on the host (default /run/atelier: gone with a reboot, as the labs are).
   */
  stateDir?: string;
  /** This deployment's name: list() and reaping see its labs only (default atelier). */
  deployment?: string;
}

/** What a handle carries (LabHandle.state): enough for another process to find the lab again. */
interface LocalState {
  uid: number;
  /** Host pid of the sandbox's pid 1 (bwrap's init), and its start time: pids are reused. */
  pid1: number;
  pid1Start: string;
  workspace: string;
  cgroupDirs: string[];
  procsFiles: string[];
  rlimits: Rlimits;
  /** Inside the lab: 127.0.0.1:<port> leads to the lab server's gateway socket. */
  gatewayPort?: number;
  /** The CPU and memory it was started with (unknown for a recovered lab: its cgroups tell). */
  resources?: { cpu: number; memory: number };
}

/**
 * Writes the claim's home files as the lab's user, in its home, in one process: stdin has a line
 * with the name and one with the base64 content per file. Root cannot create them from the host:
 * the home tmpfs belongs to the lab's user namespace, where root has no uid.
 */
const HOME_FILES_WRITER = ['/bin/sh', '-c', 'umask 077 && cd "$HOME" && while IFS= read -r name && IFS= read -r data; do printf %s "$data" | base64 -d > "$name" || exit 1; done'];

interface ClaimWriter {
  child: ChildProcess;
  /** Sends the records, ends stdin and resolves with the writer's exit (124 after 10 s). */
  finish(records: string): Promise<{ code: number; stderr: string }>;
}

/** What a claim adds, kept root-only on the host so that a restarted server finds it again. */
interface ClaimRecord {
  sessionId: string;
  learnerId?: string;
  expiresAt: number;
  env: Record<string, string>;
}

/** A lab as this process knows it: its state and what lives in memory only. */
interface Internal extends LocalState {
  id: string;
  labId: string;
  sessionId?: string;
  limits: EnforcedLimits;
  /** The whole environment of its processes (the lab's, then the learner's once claimed). */
  env: Record<string, string>;
  /** Host pid of the outer bwrap, our child (undefined for a recovered lab). */
  bwrapPid?: number;
  stopped: boolean;
  /** The previous usage() reading's CPU time: the next one averages since it. */
  cpuSample?: CpuSample;
}

interface CpuSample {
  usec: number;
  at: number;
  /** Cores it found, given again to a reading too close after it to measure anything. */
  used: number;
}

/** Readings closer than this to the previous one repeat it (their window would be all noise). */
const MIN_CPU_WINDOW_MS = 250;

export class LocalDriverError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'LocalDriverError';
  }
}

function which(cmd: string): string | null {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/**
 * An O_PATH descriptor of the gateway socket, opened as root: the lab reaches the socket through it
 * (connect to /proc/self/fd/N), whatever the permissions of the directories on its host path.
 * O_PATH grants nothing but connect() and fstat() on it. The caller closes it once spawned.
 */
function openGatewaySocket(socketPath: string): number {
  if (typeof socketPath !== 'string' || !path.isAbsolute(socketPath)) {
    throw new LocalDriverError('bad_spec', 'gateway.socketPath must be an absolute path');
  }
  let fd: number;
  try {
    fd = fs.openSync(socketPath, O_PATH);
  } catch (e) {
    throw new LocalDriverError('no_gateway', `cannot open the gateway socket ${socketPath}: ${(e as Error).message}`);
  }
  if (!fs.fstatSync(fd).isSocket()) {
    fs.closeSync(fd);
    throw new LocalDriverError('no_gateway', `the gateway ${socketPath} is not a Unix socket`);
  }
  return fd;
}

let gatewaySource: string | undefined;

function detectHostLayout(): HostLayout {
  const symlinks: Record<string, string> = {};
  const dirs: string[] = [];
  for (const p of ROOT_ENTRIES) {
    try {
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) symlinks[p] = fs.readlinkSync(p);
      else if (st.isDirectory()) dirs.push(p);
    } catch {
      /* absent */
    }
  }
  const procMasked: HostLayout['procMasked'] = { files: [], dirs: [] };
  for (const p of PROC_MASKED) {
    try {
      (fs.statSync(p).isDirectory() ? procMasked.dirs : procMasked.files).push(p);
    } catch {
      /* this kernel has no such file */
    }
  }
  return { symlinks, dirs, etc: ETC_FILES.filter((f) => fs.existsSync(f)), procMasked };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGKILL a detached child's whole process group (the entry helper and what it runs). */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

function stateOf(handle: LabHandle): LocalState {
  const state = handle.state as Partial<LocalState> | null;
  if (
    !state ||
    typeof state !== 'object' ||
    !Number.isInteger(state.uid) ||
    !Number.isInteger(state.pid1) ||
    typeof state.pid1Start !== 'string' ||
    typeof state.workspace !== 'string' ||
    !Array.isArray(state.cgroupDirs) ||
    !Array.isArray(state.procsFiles) ||
    typeof state.rlimits !== 'object'
  ) {
    throw new LocalDriverError('bad_handle', 'not a local driver lab handle');
  }
  return state as LocalState;
}

/** The markers bwrap set on a sandbox (ids, not secrets), read from its pid 1 or its children. */
function sandboxMarkers(pid: number): Record<string, string> {
  const read = (file: string): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  const kids = read(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/).filter(Boolean);
  const markers: Record<string, string> = {};
  // bwrap's init may have the markers in the keeper's environment only.
  for (const source of [read(`/proc/${pid}/environ`), ...kids.map((kid) => read(`/proc/${kid}/environ`))]) {
    for (const pair of source.split('\0')) {
      const match = /^(ATELIER_LAB_INSTANCE|ATELIER_LAB_ID|ATELIER_WORKSPACE)=(.*)$/s.exec(pair);
      if (match) markers[match[1] as string] ??= match[2] as string;
    }
  }
  return markers;
}

function handleOf(i: Internal): LabHandle {
  return { id: i.id, labId: i.labId, ...(i.sessionId ? { sessionId: i.sessionId } : {}), limits: i.limits, state: localState(i) };
}

function localState(i: Internal): LocalState & { [key: string]: Json } {
  return {
    uid: i.uid,
    pid1: i.pid1,
    pid1Start: i.pid1Start,
    workspace: i.workspace,
    cgroupDirs: [...i.cgroupDirs],
    procsFiles: [...i.procsFiles],
    rlimits: { ...i.rlimits },
    ...(i.gatewayPort === undefined ? {} : { gatewayPort: i.gatewayPort }),
    ...(i.resources ? { resources: { ...i.resources } } : {}),
  };
}


export class LocalDriver implements Driver {
  readonly name = 'local';
  private readonly opts: Required<LocalDriverOptions>;
  private readonly uids: UidPool;
  private readonly arch: string;
  private cgroups: CgroupSetup | null = null;
  private host: HostLayout | null = null;
  private seccomp: { bpf: Buffer; hex: string } | null = null;
  /** Labs of this process by uid (made here, or found again from a handle or by list()). */
  private readonly labs = new Map<number, Internal>();
  /** Labs of another live server of the deployment (a replica) that this one serves too, never owns. */
  private readonly foreign = new Map<number, Internal>();
  private readonly ptys = new Map<number, Set<IPty>>();
  private readonly services = new Map<number, Map<string, RunningService>>();
  /** An unclaimed lab's home-file writer, started with it and waiting on its stdin (see claim). */
  private readonly claimWriters = new Map<number, ClaimWriter>();
  private readonly onExit = () => this.killAllSync();

  constructor(options: LocalDriverOptions = {}) {
    this.opts = {
      uidBase: options.uidBase ?? 200_000,
      uidCount: options.uidCount ?? 10_000,
      cgroupBase: options.cgroupBase ?? '/sys/fs/cgroup',
      cgroupName: options.cgroupName ?? 'atelier',
      network: options.network ?? 'none',
      startTimeoutMs: options.startTimeoutMs ?? 10_000,
      execTimeoutMs: options.execTimeoutMs ?? 30_000,
      nofile: options.nofile ?? 4096,
      ptyMax: options.ptyMax ?? LAB_PTY_MAX,
      stateDir: options.stateDir ?? '/run/atelier',
      deployment: options.deployment ?? 'atelier',
    };
    this.uids = new UidPool(this.opts.uidBase, this.opts.uidCount, { dir: path.join(this.opts.stateDir, 'uids'), deployment: this.opts.deployment });
    this.arch = process.arch;
  }

  /** Checks the host once; throws errors meant for the operator. */
  private prepare(): { cgroups: CgroupSetup; host: HostLayout; seccomp: { bpf: Buffer; hex: string } } {
    if (this.cgroups && this.host && this.seccomp) return { cgroups: this.cgroups, host: this.host, seccomp: this.seccomp };
    if (process.platform !== 'linux') throw new LocalDriverError('unsupported', 'the local driver needs Linux');
    if (process.getuid?.() !== 0) {
      throw new LocalDriverError('not_root', 'the local driver must run as root (it gives every lab its own unprivileged uid)');
    }
    if (this.arch !== 'x64' && this.arch !== 'arm64') {
      throw new LocalDriverError('unsupported', `the local driver supports x64 and arm64, not ${this.arch}`);
    }
    if (!which('bwrap')) {
      throw new LocalDriverError('no_bwrap', 'bubblewrap is not installed: run `npm start`, which installs it (or `apt-get install bubblewrap`)');
    }
    if (!fs.existsSync('/usr/bin/perl')) {
      throw new LocalDriverError('no_perl', 'perl is not installed (/usr/bin/perl, Debian package perl-base)');
    }
    if (!fs.existsSync('/usr/bin/sleep') || !fs.existsSync(LAB_SHELL)) {
      throw new LocalDriverError('no_shell', 'the host lacks /usr/bin/sleep or /bin/bash, which labs need');
    }
    const v = spawnSync('bwrap', ['--version'], { encoding: 'utf8' });
    const m = /(\d+)\.(\d+)/.exec(v.stdout ?? '');
    if (!m || Number(m[1]) === 0 && Number(m[2]) < 8) {
      throw new LocalDriverError('old_bwrap', `bubblewrap 0.8 or later is needed (found ${(v.stdout ?? '').trim() || 'none'})`);
    }
    let bpf: Buffer;
    try {
      bpf = labSeccompFilter(this.arch);
    } catch (e) {
      if (e instanceof SeccompError) throw new LocalDriverError('no_seccomp', e.message);
      throw e;
    }
    this.seccomp = { bpf, hex: bpf.toString('hex') };
    this.cgroups = setupCgroups(this.opts.cgroupBase, this.opts.cgroupName);
    this.host = detectHostLayout();
    process.once('exit', this.onExit);
    return { cgroups: this.cgroups, host: this.host, seccomp: this.seccomp };
  }

  /** What the host can enforce, for the operator (e.g. logged at server start). */
  describe(): { cgroups: string; problems: string[] } {
    const { cgroups } = this.prepare();
    return { cgroups: cgroups.mode, problems: cgroups.problems };
  }

  async provision(spec: LabTemplate, onProgress: (e: ProgressEvent) => void = () => {}): Promise<LabHandle> {
    const { cgroups, host, seccomp } = this.prepare();
    const workspace = checkWorkspace(spec.workspace);
    const env = labEnv(spec.env, workspace);
    const r = spec.resources;
    for (const k of ['cpu', 'memory', 'disk', 'pids'] as const) {
      if (!(Number.isFinite(r[k]) && r[k] > 0)) throw new LocalDriverError('bad_spec', `resources.${k} must be a positive number`);
    }
    let gatewayPort: number | undefined;
    // On the host's network the lab reaches the server's own port directly: no forwarder (which
    // could not bind the server's port number there anyway).
    if (spec.gateway && this.opts.network === 'none') {
      try {
        gatewayPort = checkGatewayPort(spec.gateway.port);
      } catch (e) {
        throw new LocalDriverError('bad_spec', (e as Error).message);
      }
      gatewaySource ??= fs.readFileSync(GATEWAY, 'utf8');
    }
    onProgress({ step: 'sandbox', percent: 10 });
    const uid = this.uids.allocate();
    let cg: ReturnType<typeof createLabCgroup> | null = null;
    let child: ChildProcess | null = null;
    let gatewayFd: number | null = null;
    const id = `${uid}-${randomBytes(6).toString('base64url')}`;
    const tools = Object.entries(spec.tools ?? {});
    try {
      // Leftovers of a crashed server with the same uid (its cgroups, its lab's claim record).
      removeCgroupDirs(labCgroupDirs(cgroups, uid));
      fs.rmSync(this.claimFile(uid), { force: true });
      cg = createLabCgroup(cgroups, uid, r);
      onProgress({ step: 'limits', percent: 30 });
      const rlimits: Rlimits = { nproc: Math.floor(r.pids), nofile: this.opts.nofile, core: 0 };
      const disk = diskSplit(r.disk);
      const args = bwrapArgs({
        instanceId: id,
        labId: spec.labId,
        workspace,
        homeBytes: disk.home,
        tmpBytes: disk.tmp,
        shmBytes: disk.shm,
        network: this.opts.network,
        host,
        ...(gatewayPort !== undefined ? { gateway: { port: gatewayPort } } : {}),
        ...(tools.length ? { tools: tools.map(([name]) => name) } : {}),
      });
      if (spec.gateway && gatewayPort !== undefined) gatewayFd = openGatewaySocket(spec.gateway.socketPath);
      const bwrap = which('bwrap') as string;
      // The helper keeps fds up to the last one bwrap reads: 7 (the gateway socket) and 8
      // (gateway.pl) when there is a gateway, 9 (/etc/profile), 10 (seccomp), then one per tool.
      const fds = FD.firstTool + tools.length;
      const gatewayStdio = gatewayFd === null ? ['ignore' as const, 'ignore' as const] : [gatewayFd, 'pipe' as const];
      const helperOptions = {
        cgroupProcs: cg.procsFiles,
        rlimits,
        uid,
        gid: uid,
        fds,
        ptys: this.opts.ptyMax,
        ...(gatewayFd !== null ? { gatewayFd: FD.gateway } : {}),
      };
      child = spawn('/usr/bin/perl', helperArgs(HELPER, this.arch, 'start', helperOptions, [bwrap, ...args]), {
        cwd: '/',
        env: {},
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', ...gatewayStdio, 'pipe', 'pipe', ...tools.map(() => 'pipe' as const)],
      });
      if (gatewayFd !== null) {
        fs.closeSync(gatewayFd);
        gatewayFd = null;
      }
      const stdio = child.stdio as unknown as Array<NodeJS.ReadWriteStream | null>;
      // bwrap closes the data fds once read; a failed start resets them: the exit reports the error.
      for (const s of stdio) s?.on('error', () => {});
      stdio[FD.passwd]?.end(passwdFile());
      stdio[FD.group]?.end(groupFile());
      stdio[FD.hosts]?.end(hostsFile(spec.labId));
      if (gatewayStdio[1] === 'pipe') stdio[FD.forwarder]?.end(gatewaySource ?? '');
      stdio[FD.profile]?.end(profileFile());
      stdio[FD.seccomp]?.end(seccomp.bpf);
      tools.forEach(([, content], index) => stdio[FD.firstTool + index]?.end(content));
      const pid1 = await this.waitForSandbox(child);
      onProgress({ step: 'workspace', percent: 70 });
      await this.waitForKeeper(pid1, child);
      const limits: EnforcedLimits = {
        memory: cg.enforced.memory,
        pids: true, // RLIMIT_NPROC on the lab's unique uid caps its processes even without cgroups
        cpu: cg.enforced.cpu,
        disk: true,
        mechanisms: [...(cg.mechanism ? [cg.mechanism] : []), 'rlimit', 'tmpfs-size'],
      };
      const internal: Internal = {
        id,
        labId: spec.labId,
        limits,
        uid,
        pid1,
        pid1Start: processStart(pid1) ?? '',
        bwrapPid: child.pid,
        workspace,
        env,
        cgroupDirs: cg.dirs,
        procsFiles: cg.procsFiles,
        rlimits,
        ...(gatewayPort !== undefined ? { gatewayPort } : {}),
        stopped: false,
        resources: { cpu: r.cpu, memory: r.memory },
      };
      this.labs.set(uid, internal);
      const handle = handleOf(internal);
      // bwrap's stderr, inherited by the sandbox's pid 1, the keeper and the forwarder, was our
      // socket: only its start errors matter, and once the lab runs nothing of it may still reach
      // the server (a lab could take it with pidfd_getfd where seccomp is off, or flood it).
      child.stderr?.destroy();
      child.unref();
      for (const s of stdio) (s as unknown as { unref?: () => void } | null)?.unref?.();
      this.claimWriters.set(uid, this.startClaimWriter(internal));
      onProgress({ step: 'ready', percent: 100 });
      return handle;
    } catch (e) {
      if (gatewayFd !== null) fs.closeSync(gatewayFd);
      if (child?.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await this.killUid(uid, cg?.dirs ?? []).catch(() => {});
      if (cg) removeCgroupDirs(cg.dirs);
      this.uids.release(uid);
      throw e;
    }
  }

  /** Resolves with the host pid of the sandbox's pid 1, from bwrap's --info-fd. */
  private waitForSandbox(child: ChildProcess): Promise<number> {
    return new Promise((resolve, reject) => {
      let info = '';
      let stderr = '';
      const stdio = child.stdio as unknown as Array<NodeJS.ReadableStream | null>;
      const timer = setTimeout(() => done(new LocalDriverError('start_timeout', 'the sandbox did not start in time')), this.opts.startTimeoutMs);
      const done = (err: Error | null, pid?: number) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve(pid as number);
      };
      const onExit = (code: number | null, signal: string | null) => {
        done(new LocalDriverError('start_failed', `the sandbox failed to start (${signal ?? `exit ${code}`}): ${stderr.trim().slice(0, 2000)}`));
      };
      child.on('exit', onExit);
      child.on('error', (e) => done(new LocalDriverError('start_failed', `cannot run the sandbox: ${e.message}`)));
      stdio[2]?.on('data', (d: Buffer) => {
        if (stderr.length < 8192) stderr += d.toString();
      });
      stdio[FD.info]?.on('data', (d: Buffer) => {
        info += d.toString();
        const m = /"child-pid"\s*:\s*(\d+)/.exec(info);
        if (m) done(null, Number(m[1]));
      });
    });
  }

  /** bwrap's pid 1 forks the command only once the mounts are done; wait for that exec. */
  private async waitForKeeper(pid1: number, child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.opts.startTimeoutMs;
    for (let i = 0; ; i++) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new LocalDriverError('start_failed', 'the sandbox exited during setup');
      }
      try {
        const kids = fs.readFileSync(`/proc/${pid1}/task/${pid1}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
        for (const k of kids) {
          if (fs.readlinkSync(`/proc/${k}/exe`).endsWith('/sleep')) return;
        }
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new LocalDriverError('start_timeout', 'the sandbox did not become ready in time');
      await sleep(i < 50 ? 1 : 10);
    }
  }

  private claimFile(uid: number): string {
    return path.join(this.opts.stateDir, 'labs', `${uid}.json`);
  }

  private readClaim(uid: number): ClaimRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.claimFile(uid), 'utf8')) as ClaimRecord;
    } catch {
      return undefined;
    }
  }

  /** Written before the lab is handed over: a server restarted meanwhile finds the learner's environment. */
  private writeClaim(uid: number, record: ClaimRecord): void {
    const dir = path.dirname(this.claimFile(uid));
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temporary = `${this.claimFile(uid)}.${process.pid}`;
    fs.writeFileSync(temporary, JSON.stringify(record), { mode: 0o600 });
    fs.renameSync(temporary, this.claimFile(uid));
  }

  /**
   * The lab a handle names, as this process knows it; a handle made by another process (a restart)
   * is checked against the host (its pid 1 still runs as its uid, started when it says) and its
   * claim's environment read back.
   */
  private lab(handle: LabHandle): Internal {
    const state = stateOf(handle);
    const known = this.labs.get(state.uid) ?? this.foreign.get(state.uid);
    if (known && known.pid1 === state.pid1) return known;
    if (!this.uids.contains(state.uid)) throw new LocalDriverError('bad_handle', `uid ${state.uid} is not in this driver's range`);
    const p = procInfo(state.pid1);
    const alive = p !== null && p.uid === state.uid && p.state !== 'Z' && processStart(state.pid1) === state.pid1Start;
    const claim = this.readClaim(state.uid);
    const internal: Internal = {
      ...state,
      id: handle.id,
      labId: handle.labId,
      ...(claim ? { sessionId: claim.sessionId } : {}),
      limits: handle.limits,
      env: labEnv(claim?.env ?? {}, state.workspace),
      stopped: !alive,
    };
    if (alive && this.uids.mayAdopt(state.uid)) {
      this.uids.adopt(state.uid);
      this.labs.set(state.uid, internal);
    } else if (alive) {
      // Its server lives (a replica of the deployment): this one opens terminals and runs checks
      // in it, and may stop it, but neither lists it as its own nor stops it when closing.
      this.foreign.set(state.uid, internal);
    }
    return internal;
  }

  async claim(handle: LabHandle, claim: LabClaim): Promise<LabHandle> {
    const i = this.lab(handle);
    this.checkAlive(i);
    if (i.sessionId !== undefined || this.readClaim(i.uid)) throw new LocalDriverError('already_claimed', 'the lab already belongs to a session');
    const env = labEnv({ ...i.env, ...claim.env }, i.workspace);
    const files = Object.entries(claim.homeFiles ?? {}).map(([name, content]) => [checkHomeFileName(name), content] as const);
    this.writeClaim(i.uid, {
      sessionId: claim.sessionId,
      ...(claim.learnerId === undefined ? {} : { learnerId: claim.learnerId }),
      expiresAt: claim.expiresAt,
      env,
    });
    i.env = env;
    i.sessionId = claim.sessionId;
    const records = files.map(([name, content]) => `${name}\n${Buffer.from(content).toString('base64')}\n`).join('');
    const writer = this.claimWriters.get(i.uid);
    this.claimWriters.delete(i.uid);
    const made = writer && writer.child.exitCode === null ? await writer.finish(records) : await this.exec(handle, HOME_FILES_WRITER, { stdin: records, timeoutMs: 10_000 });
    if (made.code !== 0) throw new LocalDriverError('claim_failed', `cannot write the home files: ${made.stderr.trim().slice(0, 500)}`);
    return { ...handle, sessionId: claim.sessionId };
  }

  /**
   * The process that writes a claim's home files, started with the lab and waiting on its stdin:
   * a claim then spawns nothing (spawning from the server's thread was most of a pooled launch's
   * cost: the burst profile showed spawn first).
   */
  private startClaimWriter(i: Internal): ClaimWriter {
    const child = spawn('/usr/bin/perl', this.enterArgs(i, HOME_FILES_WRITER), {
      cwd: '/',
      env: this.enterEnv(i),
      stdio: ['pipe', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => (stderr = (stderr + data.toString()).slice(-2000)));
    child.stdin?.on('error', () => {});
    child.on('error', () => {});
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
    child.unref();
    for (const stream of [child.stdin, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
    return {
      child,
      finish: async (records) => {
        child.stdin?.end(records);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<number>((resolve) => {
          timer = setTimeout(() => {
            killGroup(child);
            resolve(124);
          }, 10_000);
        });
        const code = await Promise.race([exited, timeout]);
        clearTimeout(timer);
        return { code, stderr };
      },
    };
  }

  async update(handle: LabHandle, change: { expiresAt: number }): Promise<void> {
    const i = this.lab(handle);
    const claim = this.readClaim(i.uid);
    // Local labs are stopped by the sessions' reaper; the record keeps the expiry for a restart.
    if (claim) this.writeClaim(i.uid, { ...claim, expiresAt: change.expiresAt });
  }

  async poll(handle: LabHandle): Promise<boolean> {
    const state = stateOf(handle);
    const p = procInfo(state.pid1);
    return p !== null && p.uid === state.uid && p.state !== 'Z' && processStart(state.pid1) === state.pid1Start;
  }

  gatewayOrigin(serverPort: number): string {
    return `http://127.0.0.1:${serverPort}`;
  }

  private enterArgs(i: Internal, argv: string[]): string[] {
    return helperArgs(
      HELPER,
      this.arch,
      'enter',
      { cgroupProcs: i.procsFiles, rlimits: i.rlimits, uid: LAB_UID, gid: LAB_GID, target: i.pid1, wd: i.workspace },
      argv,
    );
  }

  /** The entry helper's whole environment: the lab's (decoded only once privileges are gone) and the filter. */
  private enterEnv(i: Internal): Record<string, string> {
    return { ATELIER_ENV: encodeEnv(i.env), ATELIER_SECCOMP: this.prepare().seccomp.hex };
  }

  private checkAlive(i: Internal): void {
    if (i.stopped) throw new LocalDriverError('stopped', 'the lab is stopped');
    const p = procInfo(i.pid1);
    if (!p || p.uid !== i.uid || p.state === 'Z') throw new LocalDriverError('not_running', 'the lab is not running');
  }

  async attach(handle: LabHandle, size: TerminalSize): Promise<LabTerminal> {
    const i = this.lab(handle);
    this.checkAlive(i);
    const term = pty.spawn('/usr/bin/perl', this.enterArgs(i, [LAB_SHELL, '-l']), {
      name: 'xterm-256color',
      cols: Math.max(1, Math.floor(size.cols) || 80),
      rows: Math.max(1, Math.floor(size.rows) || 24),
      cwd: '/',
      env: this.enterEnv(i),
    });
    let set = this.ptys.get(i.uid);
    if (!set) this.ptys.set(i.uid, (set = new Set()));
    set.add(term);
    term.onExit(() => set.delete(term));
    return ptyTerminal(term);
  }

  async exec(handle: LabHandle, argv: string[], options: { timeoutMs?: number; stdin?: string } = {}): Promise<ExecResult> {
    const i = this.lab(handle);
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      throw new LocalDriverError('bad_argv', 'argv must be a non-empty list of strings');
    }
    this.checkAlive(i);
    const timeoutMs = options.timeoutMs ?? this.opts.execTimeoutMs;
    return new Promise((resolve) => {
      const child = spawn('/usr/bin/perl', this.enterArgs(i, argv), {
        cwd: '/',
        env: this.enterEnv(i),
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true, // own process group: a timeout kills the whole entry chain
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      let timedOut = false;
      let finished = false;
      const collect = (bufs: Buffer[], len: number, d: Buffer): number => {
        if (len < OUTPUT_CAP) bufs.push(d.subarray(0, OUTPUT_CAP - len));
        return len + d.length;
      };
      child.stdout?.on('data', (d: Buffer) => (outLen = collect(out, outLen, d)));
      child.stderr?.on('data', (d: Buffer) => (errLen = collect(err, errLen, d)));
      child.stdin?.on('error', () => {});
      child.stdin?.end(options.stdin ?? '');
      const finish = (code: number) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        clearTimeout(grace);
        let stderr = Buffer.concat(err).toString('utf8');
        if (timedOut) stderr += `${stderr && !stderr.endsWith('\n') ? '\n' : ''}[atelier] timed out after ${timeoutMs} ms\n`;
        resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr, timedOut });
      };
      let grace: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        // The helper SIGKILLs the command and reaps it; then the rest of its process group goes.
        try {
          if (child.pid) process.kill(child.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        setTimeout(() => killGroup(child), 50).unref();
        // Processes the command left in the background may keep the pipes open: do not wait for them.
        grace = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish(124);
        }, 200);
      }, timeoutMs);
      child.on('error', (e) => {
        err.push(Buffer.from(`[atelier] ${e.message}\n`));
        finish(127);
      });
      const status = (code: number | null, signal: NodeJS.Signals | null) =>
        timedOut ? 124 : (code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1));
      child.on('close', (code, signal) => finish(status(code, signal)));
      // A command may leave background processes holding its stdout/stderr: once it has exited,
      // give the pipes a short grace period, then return without them.
      child.on('exit', (code, signal) => {
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish(status(code, signal));
        }, 250).unref();
      });
    });
  }

  async stop(handle: LabHandle): Promise<void> {
    const i = this.lab(handle);
    i.stopped = true;
    // Kill the lab first and the terminals' entry processes after: they reap their shell, whereas
    // a shell orphaned by killing them first would wait for the host's init to reap it.
    await this.killUid(i.uid, i.cgroupDirs, i.pid1);
    for (const t of this.ptys.get(i.uid) ?? []) {
      try {
        t.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    this.ptys.delete(i.uid);
    this.services.delete(i.uid);
    this.claimWriters.delete(i.uid);
    // The cgroups can only go once empty; the kernel may take a moment after the last exit.
    let left = i.cgroupDirs;
    for (let n = 0; n < 200 && (left = removeCgroupDirs(left)).length; n++) await sleep(5);
    if (left.length) throw new LocalDriverError('stop_failed', `cannot remove cgroups ${left.join(', ')}`);
    if (this.labs.get(i.uid) === i) this.labs.delete(i.uid);
    if (this.foreign.get(i.uid) === i) this.foreign.delete(i.uid);
    fs.rmSync(this.claimFile(i.uid), { force: true });
    this.uids.release(i.uid);
  }

  /** SIGKILL every process of the lab until none remains (5 s max). */
  private async killUid(uid: number, cgroupDirs: string[], pid1?: number): Promise<void> {
    // Killing pid 1 of the sandbox makes the kernel kill everything in its pid namespace at once.
    if (pid1) {
      const p = procInfo(pid1);
      if (p && p.uid === uid) {
        try {
          process.kill(pid1, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    killCgroup(cgroupDirs);
    const deadline = Date.now() + 5000;
    // Every process entering a lab joins its cgroups before it can fork, so while the cgroups
    // still hold processes they are the list to kill; /proc is scanned by uid (a full scan, which
    // a class deleting its labs at once would pay per pass) only to confirm the end, or without cgroups.
    let scanEveryPass = cgroupDirs.length === 0;
    for (let n = 0; ; n++) {
      const pids = new Set<number>();
      for (const p of cgroupPids(cgroupDirs)) {
        const info = procInfo(p);
        if (info && info.state !== 'Z') pids.add(p);
      }
      if (pids.size === 0 || scanEveryPass) {
        for (const p of scanProcs((u) => u === uid)) pids.add(p.pid);
        // Stragglers outside the cgroups: from now on the uid is the list.
        if (pids.size > 0) scanEveryPass = true;
      }
      if (pids.size === 0) return;
      // Give the kernel a moment to tear the pid namespace down before killing stragglers by uid
      // (killing bwrap's outer process too early orphans pid 1 to the host's init).
      if (n >= 10 && n % 2 === 0) {
        // kill(-1) as the lab's uid: atomic in the kernel, so a fork loop cannot outrun it.
        spawnSync('/usr/bin/setpriv', ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', '/usr/bin/kill', '-KILL', '-1'], {
          env: {},
          stdio: 'ignore',
        });
      }
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (Date.now() > deadline) throw new LocalDriverError('stop_failed', `processes of lab uid ${uid} survive SIGKILL: ${[...pids].join(' ')}`);
      await sleep(n < 20 ? 2 : 20);
    }
  }

  /**
   * A connection to the socket a service of the lab listens on, reached through the lab's own root
   * (/proc/<pid 1>/root) as root. The lab user owns the socket's directory and could put a symlink
   * there, which root would follow to any socket of the host: the socket is opened O_PATH and
   * O_NOFOLLOW (every other component of its path is a mount point on the lab's read-only root),
   * checked to be a socket, and connected to through that descriptor.
   */
  connectService(handle: LabHandle, name: string): net.Socket {
    const i = this.lab(handle);
    this.checkAlive(i);
    const service = this.services.get(i.uid)?.get(name);
    if (!service) throw new LocalDriverError('no_service', `the lab runs no service ${name}`);
    let fd: number;
    try {
      fd = fs.openSync(`/proc/${i.pid1}/root${service.spec.socket}`, O_PATH | fs.constants.O_NOFOLLOW);
    } catch (e) {
      throw new LocalDriverError('service_down', `the service ${name} does not listen: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    let isSocket = false;
    try {
      isSocket = fs.fstatSync(fd).isSocket();
    } catch {
      /* closed below */
    }
    if (!isSocket) {
      fs.closeSync(fd);
      throw new LocalDriverError('service_down', `the service ${name}'s socket was replaced by something else`);
    }
    const socket = net.connect(`/proc/self/fd/${fd}`);
    // connect(2) on a Unix socket is done once the call returns, but libuv reports it later: the
    // descriptor is kept until then.
    const release = (): void => {
      socket.off('connect', release);
      socket.off('error', release);
      fs.close(fd, () => {});
    };
    socket.once('connect', release);
    socket.once('error', release);
    return socket;
  }

  /** Resolves once a connection to the service's socket succeeds; false when refused or absent. */
  private probeService(handle: LabHandle, name: string): Promise<boolean> {
    return new Promise((resolve) => {
      let socket: net.Socket;
      try {
        socket = this.connectService(handle, name);
      } catch {
        resolve(false);
        return;
      }
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }

  async serviceState(handle: LabHandle, name: string): Promise<ServiceState> {
    const i = this.lab(handle);
    const service = this.services.get(i.uid)?.get(name);
    if (!service || service.child.exitCode !== null || service.child.signalCode !== null || i.stopped) return 'stopped';
    return (await this.probeService(handle, name)) ? 'running' : 'starting';
  }

  async startService(handle: LabHandle, spec: ServiceSpec, options: { timeoutMs?: number } = {}): Promise<void> {
    const i = this.lab(handle);
    this.checkAlive(i);
    if (!spec.socket.startsWith(`${SERVICE_SOCKET_DIR}/`) || spec.socket.slice(SERVICE_SOCKET_DIR.length + 1).includes('/')) {
      throw new LocalDriverError('bad_spec', `a service's socket must be directly in ${SERVICE_SOCKET_DIR}`);
    }
    let byName = this.services.get(i.uid);
    if (!byName) this.services.set(i.uid, (byName = new Map()));
    const current = byName.get(spec.name);
    if (current && current.child.exitCode === null && current.child.signalCode === null) return current.started;
    for (const [file, content] of Object.entries(spec.defaults ?? {})) {
      // As the lab's user, in the lab: the learner's own file, if there is one, is kept.
      const made = await this.exec(handle, ['/bin/sh', '-c', '[ -e "$0" ] || { mkdir -p "${0%/*}" && cat > "$0"; }', file], { stdin: content, timeoutMs: 5000 });
      if (made.code !== 0) throw new LocalDriverError('service_failed', `cannot write ${file} for ${spec.name}: ${made.stderr.trim().slice(0, 500)}`);
    }
    // The entry helper runs a shell that sends the service's output to its log in the lab (the
    // lab's disk quota bounds it; nothing of it flows through the server) and removes a socket
    // left by a previous run, which would make the service refuse to listen.
    const argv = ['/bin/sh', '-c', 'rm -f "$0"; mkdir -p "${ATELIER_SERVICE_LOG%/*}"; exec "$@" >>"$ATELIER_SERVICE_LOG" 2>&1 </dev/null', spec.socket, ...spec.argv];
    const env = labEnv({ ...i.env, ...(spec.env ?? {}), ATELIER_SERVICE_LOG: spec.log }, i.workspace);
    const child = spawn('/usr/bin/perl', this.enterArgs(i, argv), {
      cwd: '/',
      env: { ATELIER_ENV: encodeEnv(env), ATELIER_SECCOMP: this.prepare().seccomp.hex },
      stdio: 'ignore',
      detached: true, // its own process group: stopService ends the helper and the service together
    });
    child.on('error', () => {});
    child.unref();
    const timeoutMs = options.timeoutMs ?? 30_000;
    const started = (async () => {
      const deadline = Date.now() + timeoutMs;
      for (let n = 0; ; n++) {
        if (child.exitCode !== null || child.signalCode !== null || i.stopped) break;
        if (await this.probeService(handle, spec.name)) return;
        if (Date.now() > deadline) break;
        await sleep(n < 40 ? 25 : 100);
      }
      const exited = child.exitCode !== null || child.signalCode !== null;
      if (!exited) killGroup(child);
      const log = i.stopped ? { stdout: '' } : await this.exec(handle, ['/usr/bin/tail', '-c', String(SERVICE_LOG_TAIL), spec.log], { timeoutMs: 5000 }).catch(() => ({ stdout: '' }));
      const why = exited ? `exited (${child.signalCode ?? `code ${child.exitCode}`})` : `did not listen within ${timeoutMs} ms`;
      throw new LocalDriverError('service_failed', `the service ${spec.name} ${why}${log.stdout.trim() ? `: ${log.stdout.trim()}` : ''}`);
    })();
    started.catch(() => {});
    byName.set(spec.name, { spec, child, started });
    return started;
  }

  async stopService(handle: LabHandle, name: string): Promise<void> {
    const i = this.lab(handle);
    const service = this.services.get(i.uid)?.get(name);
    if (!service) return;
    this.services.get(i.uid)?.delete(name);
    if (service.child.exitCode !== null || service.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => service.child.once('exit', () => resolve()));
    killGroup(service.child);
    await Promise.race([exited, sleep(5000)]);
  }

  async list(): Promise<LabHandle[]> {
    const { cgroups } = this.prepare();
    const byUid = new Map<number, LabHandle>();
    for (const i of this.labs.values()) if (!i.stopped) byUid.set(i.uid, handleOf(i));
    const strays = new Set<number>();
    for (const p of scanProcs((u) => this.uids.contains(u))) {
      if (byUid.has(p.uid) || !this.uids.mayAdopt(p.uid)) continue;
      strays.add(p.uid);
      // A lab from before a restart: find its sandbox's pid 1 (NSpid ends in 1) and its markers.
      let status = '';
      try {
        status = fs.readFileSync(`/proc/${p.pid}/status`, 'utf8');
      } catch {
        continue;
      }
      const ns = /NSpid:\s+([\d\s]+)/.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
      if (ns.length < 2 || ns[ns.length - 1] !== '1') continue;
      const markers = sandboxMarkers(p.pid);
      const workspace = markers.ATELIER_WORKSPACE ?? '/home/onyxia/work';
      const dirs = labCgroupDirs(cgroups, p.uid).filter((d) => fs.existsSync(d));
      const claim = this.readClaim(p.uid);
      const internal: Internal = {
        id: markers.ATELIER_LAB_INSTANCE ?? `${p.uid}-recovered`,
        labId: markers.ATELIER_LAB_ID ?? 'unknown',
        ...(claim ? { sessionId: claim.sessionId } : {}),
        limits: { memory: false, pids: true, cpu: false, disk: true, mechanisms: ['unknown (recovered)'] },
        uid: p.uid,
        pid1: p.pid,
        pid1Start: processStart(p.pid) ?? '',
        workspace,
        env: labEnv(claim?.env ?? {}, workspace),
        cgroupDirs: dirs,
        procsFiles: dirs.map((d) => path.join(d, 'cgroup.procs')),
        rlimits: { nproc: 256, nofile: this.opts.nofile, core: 0 },
        stopped: false,
      };
      this.uids.adopt(p.uid);
      this.labs.set(p.uid, internal);
      byUid.set(p.uid, handleOf(internal));
      strays.delete(p.uid);
    }
    // Processes of our uids that are no sandbox (a start that crashed half-way): stopping them
    // is all there is to do, so they are listed as labs with no pid 1.
    for (const uid of strays) {
      if (byUid.has(uid)) continue;
      const dirs = labCgroupDirs(cgroups, uid).filter((d) => fs.existsSync(d));
      byUid.set(uid, {
        id: `${uid}-stray`,
        labId: 'unknown',
        limits: { memory: false, pids: true, cpu: false, disk: false, mechanisms: [] },
        state: { uid, pid1: 0, pid1Start: '', workspace: '/home/onyxia/work', cgroupDirs: dirs, procsFiles: [], rlimits: { nproc: 0, nofile: 0, core: 0 } },
      });
    }
    return [...byUid.values()];
  }

  /**
   * Stop every lab of this deployment on the host, including those of a previous server process,
   * and remove its stale lab cgroups. Call at server start (after deciding not to recover).
   */
  async reapAll(): Promise<number> {
    const { cgroups } = this.prepare();
    const labs = await this.list();
    await Promise.all(labs.map((h) => this.stop(h)));
    for (const uid of listLabCgroups(cgroups)) {
      if (this.uids.mayAdopt(uid) && !this.labs.has(uid) && scanProcs((u) => u === uid).length === 0) removeCgroupDirs(labCgroupDirs(cgroups, uid));
    }
    return labs.length;
  }

  /** Synchronous last resort on process exit: SIGKILL each sandbox's pid 1 (kills the whole lab). */
  killAllSync(): void {
    for (const i of this.labs.values()) {
      for (const pid of [i.pid1, i.bwrapPid]) {
        if (!pid) continue;
        const p = procInfo(pid);
        if (p && p.uid === i.uid) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    }
  }

  /**
   * Stops every lab this process runs: a local sandbox does not outlive its server (the exit
   * handler kills them anyway), unlike a pod.
   */
  async close(): Promise<void> {
    await Promise.all([...this.labs.values()].map((i) => this.stop(handleOf(i)).catch(() => {})));
    process.off('exit', this.onExit);
  }

  /**
   * The lab's CPU (cores on average since the previous reading; the first one since its cgroup
   * was made) and memory, from its cgroups; limits as it was started with. Undefined without a
   * cgroup counting its CPU time or its memory.
   */
  async usage(handle: LabHandle): Promise<LabUsage | undefined> {
    const i = this.lab(handle);
    if (i.stopped) return undefined;
    const read = readLabUsage(this.prepare().cgroups, i.uid);
    if (read.cpuUsec === undefined || read.memoryBytes === undefined) return undefined;
    const at = Date.now();
    const previous = i.cpuSample ?? { usec: 0, at: read.cpuSince ?? at, used: 0 };
    let used = previous.used;
    if (at - previous.at >= MIN_CPU_WINDOW_MS) {
      used = Math.max(0, (read.cpuUsec - previous.usec) / 1000 / (at - previous.at));
      i.cpuSample = { usec: read.cpuUsec, at, used };
    }
    return {
      cpu: { used, limit: i.resources?.cpu ?? read.cpuLimit ?? os.availableParallelism() },
      memory: { used: read.memoryBytes, limit: i.resources?.memory ?? read.memoryLimit ?? os.totalmem() },
      at,
    };
  }
}
