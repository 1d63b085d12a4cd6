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
export const LAB_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

/** Files of the host's /etc a shell needs; each is bound read-only only if it exists. */
export const ETC_FILES = [
  '/etc/ld.so.cache',
  '/etc/nsswitch.conf',
  '/etc/bash.bashrc',
  '/etc/profile',
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

export interface HostLayout {
  /** path → symlink target, e.g. /bin → usr/bin */
  symlinks: Record<string, string>;
  /** real directories to bind read-only (e.g. /lib64 on some hosts) */
  dirs: string[];
  /** subset of ETC_FILES present on the host */
  etc: string[];
}

/** Fds the keeper's spawn passes to bwrap (see LocalDriver.start). */
export const FD = { info: 3, passwd: 4, group: 5, hosts: 6 } as const;

export interface SandboxOptions {
  sessionId: string;
  labId: string;
  workspace: string;
  homeBytes: number;
  tmpBytes: number;
  shmBytes: number;
  /** 'none': loopback only (default). 'host': share the host's network (to reach the forge/S3). */
  network: 'none' | 'host';
  host: HostLayout;
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
  );
  if (o.network === 'host') a.push('--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf');
  a.push(
    '--proc', '/proc',
    '--dev', '/dev',
    '--perms', '1777', '--size', String(o.shmBytes), '--tmpfs', '/dev/shm',
    '--remount-ro', '/dev', // bwrap's /dev tmpfs has no size: keep it read-only
    '--perms', '0700', '--size', String(o.homeBytes), '--tmpfs', LAB_HOME,
    '--perms', '1777', '--size', String(o.tmpBytes), '--tmpfs', '/tmp',
  );
  if (ws !== LAB_HOME && ws !== '/tmp') a.push('--perms', '0755', '--dir', ws);
  a.push(
    '--chdir', ws,
    '--remount-ro', '/', // the sandbox's root tmpfs has no size cap either
    // Markers so that list() can recover a lab after a server restart (not secret).
    '--setenv', 'ATELIER_SESSION_ID', o.sessionId,
    '--setenv', 'ATELIER_LAB_ID', o.labId,
    '--setenv', 'ATELIER_WORKSPACE', ws,
    '--info-fd', String(FD.info),
    '--',
    '/usr/bin/sleep', 'infinity',
  );
  return a;
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

export function hostsFile(labId: string): string {
  const h = hostnameFor(labId);
  return `127.0.0.1\tlocalhost ${h}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
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
  o: { cgroupProcs: string[]; rlimits: Rlimits; uid: number; gid: number; target?: number; wd?: string },
  argv: string[],
): string[] {
  const a = [helper, arch, mode];
  for (const f of o.cgroupProcs) a.push(`--cgroup=${f}`);
  for (const [k, v] of Object.entries(o.rlimits)) a.push(`--rlimit=${k}:${v}:${v}`);
  a.push(`--uid=${o.uid}`, `--gid=${o.gid}`);
  if (o.target !== undefined) a.push(`--target=${o.target}`);
  if (o.wd !== undefined) a.push(`--wd=${o.wd}`);
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
