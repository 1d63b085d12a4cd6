/**
 * Local driver benchmark (root only):
 *  - 50 sequential launches: start() + attach() until the first byte of the prompt (median, p95);
 *  - idle RSS of a lab with 10 labs idle (sum of VmRSS of the processes of each lab's host uid);
 *  - the one-off compilation of the labs' seccomp filter (once per server process).
 * Run: node_modules/.bin/node test/bench/local-driver.bench.ts
 */
import fs from 'node:fs';
import type { LabHandle, LabSpec, LabTerminal } from '../../server/drivers/driver.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { startLab } from '../helpers/driver.ts';
import { labSeccompFilter } from '../../server/drivers/local/seccomp.ts';

const MiB = 1024 * 1024;
if (process.getuid?.() !== 0) {
  console.error('local-driver bench: needs root');
  process.exit(0);
}
const driver = new LocalDriver({ uidBase: 250_000, uidCount: 200, cgroupName: 'atelier-bench' });
const spec = (id: string): LabSpec => ({
  sessionId: id,
  labId: 'bench',
  workspace: '/home/onyxia/work',
  resources: { cpu: 1, memory: 512 * MiB, disk: 256 * MiB, pids: 256 },
  env: { GIT_USER_NAME: 'bench' },
  expiresAt: Date.now() + 600_000,
});

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function rssOfUid(uid: number): { kib: number; procs: number } {
  let kib = 0;
  let procs = 0;
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = fs.readFileSync(`/proc/${e}/status`, 'utf8');
      if (Number(/Uid:\s+(\d+)/.exec(s)?.[1]) !== uid) continue;
      procs++;
      kib += Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return { kib, procs };
}

async function main() {
  const c0 = performance.now();
  const bpf = labSeccompFilter(process.arch);
  console.log(`seccomp filter: ${bpf.length / 8} BPF instructions, compiled once per process in ${(performance.now() - c0).toFixed(1)} ms`);
  await driver.reapAll();
  // Warm-up (page cache, first perl/bwrap exec).
  const w = await startLab(driver, spec('warm'));
  await driver.stop(w);

  const launches: number[] = [];
  const starts: number[] = [];
  for (let n = 0; n < 50; n++) {
    const t0 = performance.now();
    const lab = await startLab(driver, spec(`bench-${n}`));
    const t1 = performance.now();
    const term = await driver.attach(lab, { cols: 80, rows: 24 });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no prompt within 5 s')), 5000);
      const sub = term.onData(() => {
        clearTimeout(timer);
        sub.dispose();
        resolve();
      });
    });
    launches.push(performance.now() - t0);
    starts.push(t1 - t0);
    await driver.stop(lab);
  }
  launches.sort((a, b) => a - b);
  starts.sort((a, b) => a - b);
  console.log(`launch (start+attach → first prompt byte), 50 sequential: median ${pct(launches, 50).toFixed(1)} ms, p95 ${pct(launches, 95).toFixed(1)} ms, max ${launches.at(-1)?.toFixed(1)} ms`);
  console.log(`  of which start(): median ${pct(starts, 50).toFixed(1)} ms, p95 ${pct(starts, 95).toFixed(1)} ms`);

  const labs: LabHandle[] = [];
  for (let n = 0; n < 10; n++) labs.push(await startLab(driver, spec(`idle-${n}`)));
  const terms = await Promise.all(labs.map((l) => driver.attach(l, { cols: 80, rows: 24 })));
  await new Promise((r) => setTimeout(r, 1000));
  const per = labs.map((l) => rssOfUid((l.state as { uid: number }).uid));
  const avg = per.reduce((s, x) => s + x.kib, 0) / per.length;
  console.log(
    `idle RSS per lab, 10 labs idle with one shell each: mean ${(avg / 1024).toFixed(2)} MiB ` +
      `(${per[0]?.procs} processes of the lab uid: bwrap x2, sleep, bash; the root-side entry helper is extra: ~${(rssOfEntryHelpers() / 1024 / 10).toFixed(2)} MiB per shell)`,
  );
  for (const t of terms) t.close();
  await driver.close();
}

/** RSS of the perl entry helpers (host root, outside the lab uid) currently running. */
function rssOfEntryHelpers(): number {
  let kib = 0;
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').startsWith('atelier-lab-helper')) continue;
      kib += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${e}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kib;
}

try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await driver.reapAll().catch(() => {});
}
process.exit();
