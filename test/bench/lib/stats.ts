/** Small helpers shared by the benchmarks: percentiles, CPU meters, /proc memory. */
import fs from 'node:fs';

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export interface Summary {
  n: number;
  median: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
  };
}

export const ms = (value: number): string => (Number.isNaN(value) ? '—' : value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`);
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(bytes >= 100 * 1024 * 1024 ? 0 : 1)} MiB`;
export const pct = (value: number): string => `${value.toFixed(0)} %`;

/** CPU of this process since `start()`, as % of one core. */
export class CpuMeter {
  #usage = process.cpuUsage();
  #at = performance.now();
  start(): void {
    this.#usage = process.cpuUsage();
    this.#at = performance.now();
  }
  /** % of one core since start(). */
  read(): number {
    const used = process.cpuUsage(this.#usage);
    const wall = performance.now() - this.#at;
    return wall > 0 ? ((used.user + used.system) / 1000 / wall) * 100 : 0;
  }
}

/** Whole-machine CPU from /proc/stat: busy jiffies over total, as % of ONE core (so 2 cores → up to 200 %). */
export class MachineCpuMeter {
  #busy = 0;
  #total = 0;
  static #sample(): { busy: number; total: number; cores: number } {
    const lines = fs.readFileSync('/proc/stat', 'utf8').split('\n');
    const fields = (lines[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.slice(0, 8).reduce((s, v) => s + v, 0);
    const cores = lines.filter((l) => /^cpu\d+ /.test(l)).length;
    return { busy: total - idle, total, cores };
  }
  start(): void {
    const s = MachineCpuMeter.#sample();
    this.#busy = s.busy;
    this.#total = s.total;
  }
  read(): number {
    const s = MachineCpuMeter.#sample();
    const total = s.total - this.#total;
    return total > 0 ? ((s.busy - this.#busy) / total) * 100 * s.cores : 0;
  }
}

export interface ProcMemory {
  procs: number;
  rss: number;
  pss: number;
}

/** RSS (and PSS, which shares common pages fairly) of the processes `match` selects, from /proc. */
export function procMemory(match: (status: { pid: number; uid: number; ppid: number }) => boolean, withPss = true): ProcMemory {
  const total: ProcMemory = { procs: 0, rss: 0, pss: 0 };
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return total;
  }
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      const uid = Number(/\nUid:\s+(\d+)/.exec(status)?.[1] ?? -1);
      const ppid = Number(/\nPPid:\s+(\d+)/.exec(status)?.[1] ?? -1);
      if (!match({ pid: Number(entry), uid, ppid })) continue;
      total.procs += 1;
      total.rss += Number(/\nVmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      if (withPss) {
        const rollup = fs.readFileSync(`/proc/${entry}/smaps_rollup`, 'utf8');
        total.pss += Number(/\nPss:\s+(\d+)/.exec(rollup)?.[1] ?? 0) * 1024;
      }
    } catch {
      /* gone meanwhile */
    }
  }
  return total;
}

const clockTicks = 100; // USER_HZ: /proc times are in 1/100 s on Linux

/** CPU (ms) of this process's reaped children so far (cutime + cstime of /proc/self/stat). */
export function reapedChildrenCpuMs(): number {
  const fields = (fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1] ?? '').split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / clockTicks;
}

/** CPU (ms) used so far by the live processes `match` selects, their reaped children included. */
export function procCpuMs(match: (status: { pid: number; uid: number; ppid: number }) => boolean): number {
  let total = 0;
  for (const entry of fs.readdirSync('/proc')) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      const uid = Number(/\nUid:\s+(\d+)/.exec(status)?.[1] ?? -1);
      const ppid = Number(/\nPPid:\s+(\d+)/.exec(status)?.[1] ?? -1);
      if (!match({ pid: Number(entry), uid, ppid })) continue;
      const fields = (fs.readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
      // utime, stime, cutime, cstime: fields 14-17 of stat, 11-14 after the command.
      total += ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / clockTicks;
    } catch {
      /* gone meanwhile */
    }
  }
  return total;
}

/** A plain-text table: first row is the header. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const out = [line(rows[0] ?? [])];
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows.slice(1)) out.push(line(row));
  return out.join('\n');
}

export const sleep = (msec: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, msec));
