/**
 * Pure builders for the local driver: bwrap's argv, the lab's /etc files, the lab's environment and
 * the helper's argv. No I/O here, so the unit tests can pin every flag.
 */
import path from 'node:path';

export const LAB_USER = 'onyxia';
export const LAB_UID = 1000;
export const LAB_GID = 1000;
export const LAB_HOME = '/home/onyxia';
export const LAB_SHELL = '/bin/bash';
/** Programs the platform ships into labs (LabSpec.tools), first on the PATH. */
export const TOOLS_DIR = '/opt/atelier/bin';
/**
 * The labs' Python virtual environment (aws v1, boto3…; server/cli/lab-python.ts builds it):
 * bound read-only at the same path as on the host (a venv's scripts name it), when present.
 */
export const LAB_PYTHON_DIR = '/opt/atelier/python';
/**
 * VS Code (code-server with the Node it needs; server/cli/code-server.ts installs it), bound
 * read-only like the Python environment, when present.
 */
export const LAB_CODE_SERVER_DIR = '/opt/atelier/code-server';
/**
 * Where the lab's services (JupyterLab, VS Code) put their Unix sockets: a small tmpfs of the lab
 * user's, mounted on the read-only root so that no component of the path but the socket's own
 * name can be replaced (the lab server opens it without following a link: see LocalDriver).
 */
export const SERVICE_SOCKET_DIR = '/run/atelier/services';
export const LAB_PATH = `${LAB_PYTHON_DIR}/bin:${TOOLS_DIR}:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin`;

/** Files of the host's /etc a shell needs; each is bound read-only only if it exists. */
export const ETC_FILES = [
  '/etc/ld.so.cache',
  '/etc/nsswitch.conf',
  '/etc/bash.bashrc',
  '/etc/profile.d',
  '/etc/inputrc',
  '/etc/localtime',
  '/etc/alternatives',
  '/etc/terminfo',
  '/etc/ssl/certs',
  '/etc/ssl/openssl.cnf',
  '/etc/ca-certificates',
  '/etc/os-release',
  '/etc/debian_version',
  '/etc/magic',
  '/etc/mime.types',
];

/** Top-level entries bound from the host, as the host has them (symlink into /usr, or a real dir). */
export const ROOT_ENTRIES = ['/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32'];

/**
 * Host-wide files of /proc that container runtimes hide (runc/containerd's masked paths: kernel
 * memory, keys, timers, hardware). Files read as /dev/null, directories as an empty read-only tmpfs.
 * (/sys/firmware and the like need nothing: labs have no /sys.)
 */
export const PROC_MASKED = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/config.gz',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
];

/** Parts of /proc that stay visible but read-only, as in runc's readonly paths. */
export const PROC_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Ptys one lab may hold at once (its own devpts instance's `max`): terminals, tmux panes, script. */
export const LAB_PTY_MAX = 64;

export interface HostLayout {
  /** path → symlink target, e.g. /bin → usr/bin */
  symlinks: Record<string, string>;
  /** real directories to bind read-only (e.g. /lib64 on some hosts) */
  dirs: string[];
  /** subset of ETC_FILES present on the host */
  etc: string[];
  /** PROC_MASKED entries the host's kernel has, by kind (a mount needs an existing target) */
  procMasked: { files: string[]; dirs: string[] };
}

/**
 * Fds the keeper's spawn passes to bwrap (see LocalDriver.start). With a gateway, 7 is an O_PATH
 * descriptor of the lab server's gateway socket (it stays open in the keeper and the forwarder)
 * and 8 carries gateway.pl's source. 10 carries the seccomp filter's BPF.
 */
export const FD = { info: 3, passwd: 4, group: 5, hosts: 6, gateway: 7, forwarder: 8, profile: 9, seccomp: 10, firstTool: 11 } as const;

/** Where the gateway lives inside a lab that has one (absent otherwise). */
export const GATEWAY_DIR = '/run/atelier';
export const GATEWAY_SOCKET = `${GATEWAY_DIR}/gateway.sock`;
export const GATEWAY_SCRIPT = `${GATEWAY_DIR}/gateway.pl`;
/** The keeper is bwrap's first child, so pid 2 in the lab's pid namespace. */
export const KEEPER_PID = 2;

export interface SandboxOptions {
  /** The driver's id of this lab instance (a marker list() recovers it by). */
  instanceId: string;
  labId: string;
  workspace: string;
  homeBytes: number;
  tmpBytes: number;
  shmBytes: number;
  /** 'none': loopback only (default). 'host': share the host's network (to reach the forge/S3). */
  network: 'none' | 'host';
  host: HostLayout;
  /** Forward 127.0.0.1:<port> in the lab's network namespace to the socket passed as FD.gateway. */
  gateway?: { port: number };
  /** Names of the tools passed as FD.firstTool, FD.firstTool + 1, … (installed in TOOLS_DIR). */
  tools?: string[];
}

/** Home files are dotfiles and such at the top of the home: plain names only. */
export function checkHomeFileName(name: string): string {
  if (!/^\.?[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new Error(`invalid home file name: ${name}`);
  return name;
}

/** Tool names become file names in the lab: plain names only. */
export function checkToolName(name: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{0,31}$/.test(name)) throw new Error(`invalid tool name: ${name}`);
  return name;
}

export function checkGatewayPort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`gateway.port must be an integer in 1..65535 (got ${String(port)})`);
  }
  return port;
}

export function hostnameFor(labId: string): string {
  const h = labId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return h || 'lab';
}

/** The workspace must live on one of the lab's writable tmpfs (home or /tmp). */
export function checkWorkspace(workspace: string): string {
  if (!path.posix.isAbsolute(workspace)) throw new Error(`workspace must be an absolute path: ${workspace}`);
  const ws = path.posix.normalize(workspace).replace(/\/+$/, '') || '/';
  const ok = (base: string) => ws === base || ws.startsWith(base + '/');
  if (!ok(LAB_HOME) && !ok('/tmp')) {
    throw new Error(`workspace must be under ${LAB_HOME} or /tmp (got ${workspace})`);
  }
  return ws;
}

export function bwrapArgs(o: SandboxOptions): string[] {
  const ws = checkWorkspace(o.workspace);
  const a: string[] = [
    '--unshare-all',
    '--unshare-user', // explicit (not "-try"): required by --disable-userns
    '--disable-userns', // the lab cannot create nested user namespaces
  ];
  if (o.network === 'host') a.push('--share-net');
  a.push(
    '--die-with-parent',
    '--uid', String(LAB_UID),
    '--gid', String(LAB_GID),
    '--hostname', hostnameFor(o.labId),
    '--ro-bind', '/usr', '/usr',
  );
  for (const [p, target] of Object.entries(o.host.symlinks)) a.push('--symlink', target, p);
  for (const d of o.host.dirs) a.push('--ro-bind', d, d);
  a.push('--perms', '0755', '--dir', '/etc');
  for (const f of o.host.etc) a.push('--ro-bind-try', f, f);
  a.push(
    '--perms', '0644', '--ro-bind-data', String(FD.passwd), '/etc/passwd',
    '--perms', '0644', '--ro-bind-data', String(FD.group), '/etc/group',
    '--perms', '0644', '--ro-bind-data', String(FD.hosts), '/etc/hosts',
    '--perms', '0644', '--ro-bind-data', String(FD.profile), '/etc/profile',
  );
  if (o.network === 'host') a.push('--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf');
  a.push(
    '--proc', '/proc',
  );
  for (const f of o.host.procMasked.files) a.push('--dev-bind', '/dev/null', f);
  for (const d of o.host.procMasked.dirs) a.push('--perms', '0555', '--size', '4096', '--tmpfs', d, '--remount-ro', d);
  // Sources are the host's procfs: what these show is host-wide (or the reader's own netns) anyway.
  for (const p of PROC_READONLY) a.push('--ro-bind-try', p, p);
  a.push(
    '--dev', '/dev',
    // Not the host's: lab-helper.pl (start, --ptys, mandatory) mounted a devpts instance with a
    // `max` there in the lab's own mount namespace, which bwrap 0.8's --dev cannot do.
    '--dev-bind', '/dev/pts', '/dev/pts',
    '--perms', '1777', '--size', String(o.shmBytes), '--tmpfs', '/dev/shm',
    '--remount-ro', '/dev', // bwrap's /dev tmpfs has no size: keep it read-only
    '--perms', '0700', '--size', String(o.homeBytes), '--tmpfs', LAB_HOME,
    '--perms', '1777', '--size', String(o.tmpBytes), '--tmpfs', '/tmp',
  );
  if (ws !== LAB_HOME && ws !== '/tmp') a.push('--perms', '0755', '--dir', ws);
  if (o.gateway) {
    // The socket is reached through the keeper's descriptor, not bound by path: bwrap runs as the
    // lab's host uid and resolves bind sources by name, so the server's (private) data directory
    // would have to be world-traversable. The symlink sits on the read-only root: it cannot be
    // removed or replaced, and it leads nowhere once the keeper (hence the lab) is gone.
    a.push(
      '--perms', '0755', '--dir', GATEWAY_DIR,
      '--perms', '0444', '--ro-bind-data', String(FD.forwarder), GATEWAY_SCRIPT,
      '--symlink', `/proc/${KEEPER_PID}/fd/${FD.gateway}`, GATEWAY_SOCKET,
    );
  }
  const tools = o.tools ?? [];
  if (tools.length) {
    a.push('--perms', '0755', '--dir', '/opt', '--perms', '0755', '--dir', '/opt/atelier', '--perms', '0755', '--dir', TOOLS_DIR);
    tools.forEach((name, index) => a.push('--perms', '0555', '--ro-bind-data', String(FD.firstTool + index), `${TOOLS_DIR}/${checkToolName(name)}`));
  }
  a.push('--ro-bind-try', LAB_PYTHON_DIR, LAB_PYTHON_DIR, '--ro-bind-try', LAB_CODE_SERVER_DIR, LAB_CODE_SERVER_DIR);
  a.push('--perms', '0700', '--size', String(1024 * 1024), '--tmpfs', SERVICE_SOCKET_DIR);
  a.push(
    '--chdir', ws,
    '--remount-ro', '/', // the sandbox's root tmpfs has no size cap either
    // Markers so that list() can recover a lab after a server restart (not secret).
    '--setenv', 'ATELIER_LAB_INSTANCE', o.instanceId,
    '--setenv', 'ATELIER_LAB_ID', o.labId,
    '--setenv', 'ATELIER_WORKSPACE', ws,
    '--info-fd', String(FD.info),
    // Atelier's seccomp policy (seccomp-bpf.py), for pid 1 and everything below.
    '--seccomp', String(FD.seccomp),
    '--',
    ...keeperArgv(o.gateway),
  );
  return a;
}

/**
 * The sandbox's pid 2, which lives as long as the lab: `sleep infinity`; with a gateway, perl first
 * binds 127.0.0.1:<port>, forks the forwarder, then becomes that same `sleep infinity` (the driver's
 * readiness wait and list() look for it).
 */
export function keeperArgv(gateway?: { port: number }): string[] {
  const sleep = ['/usr/bin/sleep', 'infinity'];
  if (!gateway) return sleep;
  return ['/usr/bin/perl', GATEWAY_SCRIPT, String(checkGatewayPort(gateway.port)), String(FD.gateway), '--', ...sleep];
}

export function passwdFile(): string {
  return [
    'root:x:0:0:root:/root:/usr/sbin/nologin',
    `${LAB_USER}:x:${LAB_UID}:${LAB_GID}:${LAB_USER}:${LAB_HOME}:${LAB_SHELL}`,
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    '',
  ].join('\n');
}

export function groupFile(): string {
  return ['root:x:0:', `${LAB_USER}:x:${LAB_GID}:`, 'nogroup:x:65534:', ''].join('\n');
}

/** `localhost` is 127.0.0.1 only: the gateway listens there, and a client trying ::1 first would be refused. */
/**
 * The lab's /etc/profile. The host's (Debian's) resets PATH for login shells, which would hide
 * the lab's tools: this one keeps the PATH the lab was given and does the rest as Debian does.
 */
export function profileFile(): string {
  return [
    '# Atelier lab: PATH comes from the lab (its tools first); the rest as Debian does.',
    `PATH="\${PATH:-${LAB_PATH}}"`,
    'export PATH',
    'if [ "${PS1-}" ] && [ "${BASH-}" ] && [ "$BASH" != "/bin/sh" ] && [ -f /etc/bash.bashrc ]; then . /etc/bash.bashrc; fi',
    'if [ -d /etc/profile.d ]; then',
    '  for i in /etc/profile.d/*.sh; do [ -r "$i" ] && . "$i"; done',
    '  unset i',
    'fi',
    '',
  ].join('\n');
}

export function hostsFile(labId: string): string {
  const h = hostnameFor(labId);
  return `127.0.0.1\tlocalhost ${h}\n::1\tip6-localhost ip6-loopback\n`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The complete environment of every lab process: built here, never inherited from the server. */
export function labEnv(extra: Record<string, string>, workspace: string): Record<string, string> {
  const env: Record<string, string> = {
    HOME: LAB_HOME,
    USER: LAB_USER,
    LOGNAME: LAB_USER,
    SHELL: LAB_SHELL,
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
    PATH: LAB_PATH,
  };
  for (const [k, v] of Object.entries(extra)) {
    if (!ENV_NAME.test(k)) throw new Error(`invalid environment variable name: ${JSON.stringify(k)}`);
    if (typeof v !== 'string' || v.includes('\0')) throw new Error(`invalid value for environment variable ${k}`);
    env[k] = v;
  }
  env.PWD = workspace;
  return env;
}

/** ATELIER_ENV for the helper: hex of NUL-separated KEY=VALUE (no quoting issues, no shell). */
export function encodeEnv(env: Record<string, string>): string {
  return Buffer.from(Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join(''), 'utf8').toString('hex');
}

export interface Rlimits {
  nproc: number;
  nofile: number;
  core: number;
}

export function helperArgs(
  helper: string,
  arch: string,
  mode: 'start' | 'enter',
  o: {
    cgroupProcs: string[];
    rlimits: Rlimits;
    uid: number;
    gid: number;
    target?: number;
    wd?: string;
    fds?: number;
    /** start: how many ptys the lab's devpts instance holds (LAB_PTY_MAX) */
    ptys?: number;
    /** start: the descriptor of the gateway socket, re-opened so that it names no host directory */
    gatewayFd?: number;
  },
  argv: string[],
): string[] {
  const a = [helper, arch, mode];
  for (const f of o.cgroupProcs) a.push(`--cgroup=${f}`);
  for (const [k, v] of Object.entries(o.rlimits)) a.push(`--rlimit=${k}:${v}:${v}`);
  a.push(`--uid=${o.uid}`, `--gid=${o.gid}`);
  if (o.target !== undefined) a.push(`--target=${o.target}`);
  if (o.wd !== undefined) a.push(`--wd=${o.wd}`);
  if (o.fds !== undefined) a.push(`--fds=${o.fds}`);
  if (o.ptys !== undefined) a.push(`--ptys=${o.ptys}`);
  if (o.gatewayFd !== undefined) a.push(`--gateway-fd=${o.gatewayFd}`);
  a.push('--', ...argv);
  return a;
}

/** Split a disk budget between home, /tmp and /dev/shm. */
export function diskSplit(disk: number): { home: number; tmp: number; shm: number } {
  const MiB = 1024 * 1024;
  const d = Math.max(disk, 4 * MiB);
  const tmp = Math.max(MiB, Math.floor(d / 4 / 4096) * 4096);
  const home = Math.max(MiB, d - tmp);
  const shm = Math.min(64 * MiB, tmp);
  return { home, tmp, shm };
}
