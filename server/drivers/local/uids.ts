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

/** Uids handed out by every pool of this process (tests run several servers side by side). */
const allocatedInProcess = new Set<number>();

export class UidPool {
  readonly base: number;
  readonly size: number;
  private readonly used = new Set<number>();

  constructor(base: number, size: number) {
    if (!Number.isInteger(base) || base < 1000 || !Number.isInteger(size) || size < 1 || base + size > 2 ** 31) {
      throw new Error(`invalid lab uid range ${base}+${size}`);
    }
    this.base = base;
    this.size = size;
  }

  contains(uid: number): boolean {
    return uid >= this.base && uid < this.base + this.size;
  }

  /**
   * Lowest uid neither allocated (by any pool of this process) nor owning a live process (a lab
   * from before a restart). /proc is scanned once, then again only when the range looks full:
   * scanning on every launch cost a class-wide burst seconds of the server's only thread.
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
      if (!this.used.has(uid) && !this.#busy.has(uid) && !allocatedInProcess.has(uid)) return uid;
    }
    return undefined;
  }

  /** Mark a uid in use (a lab recovered by list()). */
  claim(uid: number): void {
    this.used.add(uid);
    allocatedInProcess.add(uid);
  }

  release(uid: number): void {
    this.used.delete(uid);
    this.#busy.delete(uid);
    allocatedInProcess.delete(uid);
  }
}
