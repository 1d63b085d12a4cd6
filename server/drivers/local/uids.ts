/**
 * Host uids for labs (one unprivileged uid per running lab, so "every process of uid U" is exactly
 * "every process of the lab") and /proc scanning.
 */
import fs from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Real uid, as the host sees it. */
  uid: number;
  state: string;
  name: string;
}

function parseStatus(pid: number, text: string): ProcInfo | null {
  let ppid = 0;
  let uid = -1;
  let state = '';
  let name = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('Name:')) name = line.slice(5).trim();
    else if (line.startsWith('State:')) state = line.slice(6).trim().charAt(0);
    else if (line.startsWith('PPid:')) ppid = Number(line.slice(5));
    else if (line.startsWith('Uid:')) uid = Number(line.slice(4).trim().split(/\s+/)[0]);
  }
  return uid < 0 ? null : { pid, ppid, uid, state, name };
}

export function procInfo(pid: number): ProcInfo | null {
  try {
    return parseStatus(pid, fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return null;
  }
}

/** Every live (non-zombie) process of the host whose real uid satisfies `match`. */
export function scanProcs(match: (uid: number) => boolean): ProcInfo[] {
  const out: ProcInfo[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(e);
    // Cheap filter first: /proc/<pid> is owned by the process's effective uid.
    let st: fs.Stats;
    try {
      st = fs.statSync(`/proc/${e}`);
    } catch {
      continue;
    }
    if (!match(st.uid)) {
      // A process may switch uids; only trust the dir owner to exclude root-owned, non-lab processes.
      if (st.uid !== 0) continue;
    }
    const p = procInfo(pid);
    if (p && p.state !== 'Z' && p.state !== 'X' && match(p.uid)) out.push(p);
  }
  return out;
}

export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The start time of a process (clock ticks since boot, /proc/<pid>/stat field 22): a pid with its start names one process. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Uids handed out by every pool of this process (tests run several servers side by side). */
const allocatedInProcess = new Set<number>();

/** Who holds a uid: a lease file per uid, shared by every server on the host. */
interface LeaseOwner {
  pid: number;
  start: string;
  deployment: string;
}

export interface LeaseOptions {
  /** Host directory of the leases (root only). */
  dir: string;
  /** The holder's deployment: a dead holder's labs are adopted by its own deployment only. */
  deployment: string;
}

/**
 * Lab uids of a range, leased host-wide: two servers on one host (a restart overlapping the old
 * process, tests side by side, two deployments with overlapping ranges) never hand out the same
 * uid, and neither reaps the other's labs. A lease is a file created O_EXCL naming its holder
 * (pid and start time, since pids are reused); Node has no flock(2), and a file that outlives a
 * crashed holder is what lets its deployment adopt the labs it left.
 */
export class UidPool {
  readonly base: number;
  readonly size: number;
  private readonly used = new Set<number>();
  readonly #lease: LeaseOptions | undefined;
  readonly #self: LeaseOwner | undefined;

  constructor(base: number, size: number, lease?: LeaseOptions) {
    if (!Number.isInteger(base) || base < 1000 || !Number.isInteger(size) || size < 1 || base + size > 2 ** 31) {
      throw new Error(`invalid lab uid range ${base}+${size}`);
    }
    this.base = base;
    this.size = size;
    this.#lease = lease;
    this.#self = lease ? { pid: process.pid, start: processStart(process.pid) ?? '', deployment: lease.deployment } : undefined;
  }

  contains(uid: number): boolean {
    return uid >= this.base && uid < this.base + this.size;
  }

  /**
   * Lowest uid neither allocated (by any pool of this process), nor leased by a live server, nor
   * owning a live process (a lab from before a restart). /proc is scanned once, then again only
   * when the range looks full: scanning on every launch cost a class-wide burst seconds of the
   * server's only thread.
   */
  allocate(): number {
    if (!this.#scanned) this.#rescan();
    const uid = this.#firstFree() ?? (this.#rescan(), this.#firstFree());
    if (uid === undefined) throw new Error(`no free lab uid in ${this.base}..${this.base + this.size - 1}: too many labs`);
    this.used.add(uid);
    allocatedInProcess.add(uid);
    return uid;
  }

  #scanned = false;
  #busy = new Set<number>();

  #rescan(): void {
    this.#busy = new Set(scanProcs((u) => this.contains(u)).map((p) => p.uid));
    this.#scanned = true;
  }

  #firstFree(): number | undefined {
    for (let uid = this.base; uid < this.base + this.size; uid++) {
      if (this.used.has(uid) || this.#busy.has(uid) || allocatedInProcess.has(uid)) continue;
      if (this.#take(uid)) return uid;
    }
    return undefined;
  }

  #file(uid: number): string {
    return `${this.#lease!.dir}/${uid}`;
  }

  #owner(uid: number): LeaseOwner | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.#file(uid), 'utf8')) as LeaseOwner;
    } catch {
      return undefined;
    }
  }

  static #alive(owner: LeaseOwner): boolean {
    return processStart(owner.pid) === owner.start;
  }

  #isSelf(owner: LeaseOwner | undefined): boolean {
    return owner !== undefined && owner.pid === this.#self?.pid && owner.start === this.#self.start;
  }

  #dirMade = false;

  /** The leases' directory, made on the first lease rather than before every one. */
  #ensureDir(): void {
    if (this.#dirMade || !this.#lease) return;
    fs.mkdirSync(this.#lease.dir, { recursive: true, mode: 0o700 });
    this.#dirMade = true;
  }

  /** Creates the uid's lease; a lease whose holder died and whose uid runs nothing is stale and taken over. */
  #take(uid: number): boolean {
    if (!this.#lease) return true;
    this.#ensureDir();
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(this.#file(uid), JSON.stringify(this.#self), { flag: 'wx', mode: 0o600 });
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = this.#owner(uid);
      if (owner && UidPool.#alive(owner)) return false;
      if (scanProcs((u) => u === uid).length > 0) return false;
      fs.rmSync(this.#file(uid), { force: true });
    }
    return false;
  }

  /**
   * Whether this pool may take over a lab of that uid found on the host: unleased (a server from
   * before leases, or one that crashed mid-start), its own, or left by a dead server of its deployment.
   */
  mayAdopt(uid: number): boolean {
    if (!this.contains(uid)) return false;
    if (!this.#lease) return true;
    const owner = this.#owner(uid);
    if (owner === undefined || this.#isSelf(owner)) return true;
    return owner.deployment === this.#lease.deployment && !UidPool.#alive(owner);
  }

  /** Takes a uid whose lab this pool now runs (recovered by list(), or named by a handle). */
  adopt(uid: number): void {
    this.used.add(uid);
    allocatedInProcess.add(uid);
    if (!this.#lease || this.#isSelf(this.#owner(uid))) return;
    this.#ensureDir();
    fs.writeFileSync(this.#file(uid), JSON.stringify(this.#self), { mode: 0o600 });
  }

  release(uid: number): void {
    this.used.delete(uid);
    this.#busy.delete(uid);
    allocatedInProcess.delete(uid);
    if (this.#lease && this.#isSelf(this.#owner(uid))) fs.rmSync(this.#file(uid), { force: true });
  }
}
