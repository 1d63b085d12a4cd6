/**
 * Per-lab cgroups, v1 (one hierarchy per controller) or v2 (unified), detected at runtime.
 * Layout: v2 <base>/<name>/lab-<uid>;  v1 <base>/<controller>/<name>/lab-<uid>.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LabResources } from '../driver.ts';

export type CgroupMode = 'v1' | 'v2' | 'none';
type Controller = 'memory' | 'pids' | 'cpu';
const CONTROLLERS: Controller[] = ['memory', 'pids', 'cpu'];
const CPU_PERIOD = 100_000;

export interface CgroupSetup {
  mode: CgroupMode;
  /** Parent directory of every lab cgroup, per controller (v2: the same dir for all). */
  parents: Partial<Record<Controller, string>>;
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
  for (const c of CONTROLLERS) {
    const root = path.join(base, c);
    if (!fs.existsSync(path.join(root, 'cgroup.procs'))) {
      problems.push(`cgroup v1: ${c} hierarchy not mounted at ${root}`);
      continue;
    }
    try {
      const parent = path.join(root, name);
      fs.mkdirSync(parent, { recursive: true });
      parents[c] = parent;
    } catch (e) {
      problems.push(`cgroup v1 ${c}: ${(e as Error).message}`);
    }
  }
  return { mode: Object.keys(parents).length ? 'v1' : 'none', parents, problems };
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
