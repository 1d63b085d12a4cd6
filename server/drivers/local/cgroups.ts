/**
 * Per-lab cgroups, v1 (one hierarchy per controller) or v2 (unified), detected at runtime.
 * Layout: v2 <base>/<name>/lab-<uid>;  v1 <base>/<controller>/<name>/lab-<uid>.
 * Besides the limits, they tell what a lab consumes (the dock's Monitoring tab): v2 counts CPU
 * time in every group; v1 only in the cpuacct hierarchy, which labs join for that alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LabResources } from '../driver.ts';

export type CgroupMode = 'v1' | 'v2' | 'none';
type Controller = 'memory' | 'pids' | 'cpu';
const CONTROLLERS: Controller[] = ['memory', 'pids', 'cpu'];
/** v1 hierarchies a lab joins: the limited controllers, and cpuacct for its CPU time. */
type Hierarchy = Controller | 'cpuacct';
const V1_HIERARCHIES: Hierarchy[] = [...CONTROLLERS, 'cpuacct'];
const CPU_PERIOD = 100_000;

export interface CgroupSetup {
  mode: CgroupMode;
  /**
   * Parent directory of every lab cgroup, per hierarchy (v2: the same dir for all; v1: co-mounted
   * hierarchies such as cpu,cpuacct resolve to the same dir too). cpuacct: v1 only.
   */
  parents: Partial<Record<Hierarchy, string>>;
  /** Why a controller is unavailable (for the operator). */
  problems: string[];
}

export interface LabCgroup {
  dirs: string[];
  procsFiles: string[];
  enforced: Record<Controller, boolean>;
  mechanism: string | null;
  problems: string[];
}

function write(file: string, value: string): void {
  fs.writeFileSync(file, value);
}

function tryWrite(file: string, value: string, problems: string[]): boolean {
  try {
    write(file, value);
    return true;
  } catch (e) {
    problems.push(`${file}: ${(e as Error).message}`);
    return false;
  }
}

/** Detect the cgroup version and prepare the parent group(s). Never throws. */
export function setupCgroups(base = '/sys/fs/cgroup', name = 'atelier'): CgroupSetup {
  const problems: string[] = [];
  if (fs.existsSync(path.join(base, 'cgroup.controllers'))) {
    const parent = path.join(base, name);
    try {
      const available = fs.readFileSync(path.join(base, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
      const wanted = CONTROLLERS.filter((c) => available.includes(c));
      for (const c of CONTROLLERS) if (!wanted.includes(c)) problems.push(`cgroup v2: controller ${c} not available`);
      // Enable in base (the root cgroup is exempt from the no-internal-process rule), then in ours.
      const enabled = new Set(fs.readFileSync(path.join(base, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/));
      for (const c of wanted) if (!enabled.has(c)) tryWrite(path.join(base, 'cgroup.subtree_control'), `+${c}`, problems);
      fs.mkdirSync(parent, { recursive: true });
      const readSet = () => fs.readFileSync(path.join(parent, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/);
      const already = readSet();
      for (const c of wanted) if (!already.includes(c)) tryWrite(path.join(parent, 'cgroup.subtree_control'), `+${c}`, problems);
      const active = readSet();
      const parents: CgroupSetup['parents'] = {};
      for (const c of CONTROLLERS) if (active.includes(c)) parents[c] = parent;
      return { mode: 'v2', parents, problems };
    } catch (e) {
      problems.push(`cgroup v2 at ${base}: ${(e as Error).message}`);
      return { mode: 'none', parents: {}, problems };
    }
  }
  const parents: CgroupSetup['parents'] = {};
  for (const c of V1_HIERARCHIES) {
    const mount = path.join(base, c);
    if (!fs.existsSync(path.join(mount, 'cgroup.procs'))) {
      problems.push(`cgroup v1: ${c} hierarchy not mounted at ${mount}`);
      continue;
    }
    try {
      // Distros link cpu and cpuacct to one cpu,cpuacct mount: one directory, joined once.
      const parent = path.join(fs.realpathSync(mount), name);
      fs.mkdirSync(parent, { recursive: true });
      parents[c] = parent;
    } catch (e) {
      problems.push(`cgroup v1 ${c}: ${(e as Error).message}`);
    }
  }
  const limited = CONTROLLERS.some((c) => parents[c]);
  return { mode: limited ? 'v1' : 'none', parents: limited ? parents : {}, problems };
}

export function labCgroupName(uid: number): string {
  return `lab-${uid}`;
}

/** Every directory a lab's cgroup may occupy (for removal, also after a restart). */
export function labCgroupDirs(setup: CgroupSetup, uid: number): string[] {
  const dirs = new Set<string>();
  for (const p of Object.values(setup.parents)) if (p) dirs.add(path.join(p, labCgroupName(uid)));
  return [...dirs];
}

export function createLabCgroup(setup: CgroupSetup, uid: number, r: LabResources): LabCgroup {
  const problems: string[] = [];
  const enforced: Record<Controller, boolean> = { memory: false, pids: false, cpu: false };
  const dirs: string[] = [];
  const procsFiles: string[] = [];
  const ensure = (parent: string): string | null => {
    const dir = path.join(parent, labCgroupName(uid));
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      problems.push(`${dir}: ${(e as Error).message}`);
      return null;
    }
    if (!dirs.includes(dir)) {
      dirs.push(dir);
      procsFiles.push(path.join(dir, 'cgroup.procs'));
    }
    return dir;
  };
  const memory = String(Math.floor(r.memory));
  const quota = Math.max(1000, Math.round(r.cpu * CPU_PERIOD));
  if (setup.mode === 'v2') {
    const parent = setup.parents.memory ?? setup.parents.pids ?? setup.parents.cpu;
    const dir = parent ? ensure(parent) : null;
    if (dir) {
      if (setup.parents.memory) {
        enforced.memory = tryWrite(path.join(dir, 'memory.max'), memory, problems);
        if (fs.existsSync(path.join(dir, 'memory.swap.max'))) tryWrite(path.join(dir, 'memory.swap.max'), '0', problems);
      }
      if (setup.parents.pids) enforced.pids = tryWrite(path.join(dir, 'pids.max'), String(r.pids), problems);
      if (setup.parents.cpu) enforced.cpu = tryWrite(path.join(dir, 'cpu.max'), `${quota} ${CPU_PERIOD}`, problems);
    }
  } else if (setup.mode === 'v1') {
    const m = setup.parents.memory && ensure(setup.parents.memory);
    if (m) {
      enforced.memory = tryWrite(path.join(m, 'memory.limit_in_bytes'), memory, problems);
      const memsw = path.join(m, 'memory.memsw.limit_in_bytes');
      if (fs.existsSync(memsw)) tryWrite(memsw, memory, problems); // no swapping around the limit
    }
    const p = setup.parents.pids && ensure(setup.parents.pids);
    if (p) enforced.pids = tryWrite(path.join(p, 'pids.max'), String(r.pids), problems);
    const c = setup.parents.cpu && ensure(setup.parents.cpu);
    if (c) {
      enforced.cpu =
        tryWrite(path.join(c, 'cpu.cfs_period_us'), String(CPU_PERIOD), problems) &&
        tryWrite(path.join(c, 'cpu.cfs_quota_us'), String(quota), problems);
    }
    if (setup.parents.cpuacct) ensure(setup.parents.cpuacct);
  }
  const any = enforced.memory || enforced.pids || enforced.cpu;
  return { dirs, procsFiles, enforced, mechanism: any ? `cgroup-${setup.mode}` : null, problems };
}

/** Pids listed in the lab's cgroups. */
export function cgroupPids(dirs: string[]): number[] {
  const pids = new Set<number>();
  for (const d of dirs) {
    try {
      for (const l of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) pids.add(Number(l));
    } catch {
      /* gone */
    }
  }
  return [...pids];
}

/** cgroup v2's cgroup.kill where present (atomic, race-free). Returns true if used. */
export function killCgroup(dirs: string[]): boolean {
  let used = false;
  for (const d of dirs) {
    const f = path.join(d, 'cgroup.kill');
    if (fs.existsSync(f)) {
      try {
        write(f, '1');
        used = true;
      } catch {
        /* ignore */
      }
    }
  }
  return used;
}

/** rmdir every lab cgroup dir; returns the ones that still exist. */
export function removeCgroupDirs(dirs: string[]): string[] {
  const left: string[] = [];
  for (const d of dirs) {
    try {
      fs.rmdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(d);
    }
  }
  return left;
}

/** Names of lab cgroups present under the parents (to clean up after a crash). */
export function listLabCgroups(setup: CgroupSetup): number[] {
  const uids = new Set<number>();
  for (const p of Object.values(setup.parents)) {
    if (!p) continue;
    try {
      for (const e of fs.readdirSync(p)) {
        const m = /^lab-(\d+)$/.exec(e);
        if (m) uids.add(Number(m[1]));
      }
    } catch {
      /* ignore */
    }
  }
  return [...uids];
}

/** What a lab's cgroups say it consumes and may consume; a field is absent where no group tells. */
export interface CgroupUsage {
  /** CPU time the lab's processes used since its group was made, in microseconds. */
  cpuUsec?: number;
  /** When that group was made (epoch ms): the start of the first CPU window. */
  cpuSince?: number;
  /** Bytes charged to the lab, page cache included (what its memory limit is held against). */
  memoryBytes?: number;
  /** Cores of its CPU quota; absent: no quota. */
  cpuLimit?: number;
  /** Bytes of its memory limit; absent: no limit. */
  memoryLimit?: number;
}

/** v1 writes "no limit" as the largest page-aligned signed 64-bit value: anything near it is none. */
const UNLIMITED_BYTES = 2 ** 62;

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A file holding one non-negative integer, or undefined. */
function readCount(file: string | undefined): number | undefined {
  const text = file === undefined ? undefined : readText(file);
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}

/** The `key value` line of a flat-keyed file such as v2's cpu.stat. */
export function flatKey(text: string, key: string): number | undefined {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** v2 cpu.max "<quota> <period>" (or "max <period>") in cores; undefined when unlimited. */
export function parseCpuMax(text: string): number | undefined {
  const m = /^(\d+) (\d+)$/.exec(text.trim());
  if (!m || Number(m[2]) === 0) return undefined;
  return Number(m[1]) / Number(m[2]);
}

function createdAt(dir: string): number | undefined {
  try {
    // A cgroup directory's ctime is its creation: nothing the lab does changes it (no subgroups).
    return fs.statSync(dir).ctimeMs;
  } catch {
    return undefined;
  }
}

function withoutUndefined(usage: CgroupUsage): CgroupUsage {
  return Object.fromEntries(Object.entries(usage).filter(([, v]) => v !== undefined)) as CgroupUsage;
}

/** Reads the lab's consumption and limits from its cgroups (a few small files). Never throws. */
export function readLabUsage(setup: CgroupSetup, uid: number): CgroupUsage {
  const dir = (h: Hierarchy): string | undefined => {
    const parent = setup.parents[h];
    return parent ? path.join(parent, labCgroupName(uid)) : undefined;
  };
  if (setup.mode === 'v2') {
    const d = dir('memory') ?? dir('cpu') ?? dir('pids');
    if (!d) return {};
    const stat = readText(path.join(d, 'cpu.stat'));
    const cpuUsec = stat === undefined ? undefined : flatKey(stat, 'usage_usec');
    const cpuMax = readText(path.join(d, 'cpu.max'));
    const memoryMax = readCount(path.join(d, 'memory.max'));
    return withoutUndefined({
      cpuUsec,
      cpuSince: cpuUsec === undefined ? undefined : createdAt(d),
      memoryBytes: readCount(path.join(d, 'memory.current')),
      cpuLimit: cpuMax === undefined ? undefined : parseCpuMax(cpuMax),
      memoryLimit: memoryMax,
    });
  }
  if (setup.mode === 'v1') {
    const file = (h: Hierarchy, name: string): string | undefined => {
      const d = dir(h);
      return d ? path.join(d, name) : undefined;
    };
    const nanoseconds = readCount(file('cpuacct', 'cpuacct.usage'));
    const acct = dir('cpuacct');
    // -1 says "no quota": not a count, so it reads as none.
    const quota = readCount(file('cpu', 'cpu.cfs_quota_us'));
    const period = readCount(file('cpu', 'cpu.cfs_period_us'));
    const limit = readCount(file('memory', 'memory.limit_in_bytes'));
    return withoutUndefined({
      cpuUsec: nanoseconds === undefined ? undefined : nanoseconds / 1000,
      cpuSince: nanoseconds === undefined || !acct ? undefined : createdAt(acct),
      memoryBytes: readCount(file('memory', 'memory.usage_in_bytes')),
      cpuLimit: quota !== undefined && period ? quota / period : undefined,
      memoryLimit: limit !== undefined && limit < UNLIMITED_BYTES ? limit : undefined,
    });
  }
  return {};
}
