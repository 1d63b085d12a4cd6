/**
 * Warm pools on the local driver (root only): a class's launches, click → first prompt byte, as
 * the browser does it (POST /api/labs, then socket.io /terminal until `$ `), with and without a
 * pool of ready sandboxes, on the same machine in the same run.
 *
 *   1. no pool: 20 launches one after the other, then 150 at once (the baseline);
 *   2. a pool of 150: the time it takes to fill, then 20 one after the other and 150 at once.
 *
 * Target (issue 10): 150 launches at once, p95 under 1 s with a pool (5.0 s without, measured
 * before pools existed).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeProfile } from './lib/cpuprofile.ts';
import { startBenchServer, benchLabId, type BenchServer } from './lib/class-server.ts';
import type { LaunchResult } from './lib/class-clients.ts';
import { children, forkPeer, type Peer } from './lib/peer.ts';
import { ms, procCpuMs, reapedChildrenCpuMs, sleep, summarize, table } from './lib/stats.ts';
import { driverOptions } from './lib/class-server.ts';

if (process.getuid?.() !== 0) {
  console.log('warm-pool bench: needs root (the local driver runs labs as their own uids); skipped');
  process.exit(0);
}

/** --profile: a CPU profile of the server during the pooled burst, its hottest packages and functions printed. */
const profiling = process.argv.includes('--profile');
const burst = 150;
const sequential = 20;
const launchTimeoutMs = 90_000;
const rows: string[][] = [['measure', 'n', 'median', 'p95', 'p99', 'max', 'notes']];
const profiles: string[] = [];

async function launches(clients: Peer, url: string, count: number): Promise<LaunchResult> {
  return clients.call<LaunchResult>({ cmd: 'launch', url, lab: benchLabId, count, timeoutMs: launchTimeoutMs }, launchTimeoutMs + 30_000);
}

async function phase(name: string, bench: BenchServer, clients: Peer): Promise<number> {
  const url = bench.server.url;
  const one: number[] = [];
  const failures: string[] = [];
  for (let n = 0; n < sequential; n++) {
    const result = await launches(clients, url, 1);
    one.push(...result.latencies);
    failures.push(...result.failures);
    await clients.call({ cmd: 'delete', url }, 60_000);
    // With a pool, let it refill: each launch then claims a ready lab, as a learner arriving alone does.
    if (bench.server.config.poolMax > 0) await waitForPool(bench, bench.server.config.poolMax, 120_000);
  }
  const alone = summarize(one);
  rows.push([`${name}: 1 lab, ${sequential} sequential`, String(alone.n), ms(alone.median), ms(alone.p95), ms(alone.p99), ms(alone.max), failures.length ? `${failures.length} failed: ${failures[0]}` : '']);
  // Where a launch's CPU goes: this process (the server), what it ran and reaped (sandboxes
  // being made, entries into labs), the labs' own processes, the clients (socket.io, the browser's part).
  const labCpu = () => procCpuMs(({ uid }) => uid >= driverOptions.uidBase && uid < driverOptions.uidBase + driverOptions.uidCount);
  const before = { server: process.cpuUsage(), reaped: reapedChildrenCpuMs(), labs: labCpu(), clients: await clients.call<NodeJS.CpuUsage>({ cmd: 'cpu' }) };
  const profiler = profiling && bench.server.config.poolMax > 0 ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const result = await launches(clients, url, burst);
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    const path = join(mkdtempSync(join(tmpdir(), 'atelier-warm-pool-')), 'burst.cpuprofile');
    writeFileSync(path, JSON.stringify(profile));
    const summary = summarizeProfile(path, 15);
    profiles.push(
      `server profile of the pooled burst: busy ${((summary.busyMs / summary.wallMs) * 100).toFixed(0)} % of ${(summary.wallMs / 1000).toFixed(1)} s (${path})`,
      table([['self time by package', 'ms'], ...summary.packages.map((h) => [h.name, h.selfMs.toFixed(0)])]),
      table([['hottest functions (self)', 'where', 'ms'], ...summary.functions.map((h) => [h.name.slice(0, 40), h.where.slice(-60), h.selfMs.toFixed(0)])]),
    );
  }
  const server = process.cpuUsage(before.server);
  const clientCpu = await clients.call<NodeJS.CpuUsage>({ cmd: 'cpu' });
  const per = (value: number) => (value / Math.max(1, result.latencies.length)).toFixed(0);
  const cpuNote = `CPU a launch: server ${per((server.user + server.system) / 1000)} ms, reaped children ${per(reapedChildrenCpuMs() - before.reaped)} ms, labs ${per(labCpu() - before.labs)} ms, clients ${per((clientCpu.user + clientCpu.system - before.clients.user - before.clients.system) / 1000)} ms`;
  const many = summarize(result.latencies);
  rows.push([
    `${name}: ${burst} at once`,
    String(many.n),
    ms(many.median),
    ms(many.p95),
    ms(many.p99),
    ms(many.max),
    `${result.failures.length ? `${result.failures.length} failed: ${result.failures[0]}; ` : ''}target p95 < 1000 ms with a pool; ${cpuNote}`,
  ]);
  await clients.call({ cmd: 'delete', url }, 120_000);
  return many.p95;
}

async function waitForPool(bench: BenchServer, size: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (bench.server.sessions.pooled(benchLabId) < size) {
    if (performance.now() - started > timeoutMs) throw new Error(`the pool holds ${bench.server.sessions.pooled(benchLabId)} of ${size} after ${timeoutMs} ms`);
    await sleep(20);
  }
  return performance.now() - started;
}

const clients = forkPeer(join(import.meta.dirname, 'lib', 'class-clients.ts'));
const cleanup = () => {
  for (const child of children) child.kill('SIGKILL');
};
process.on('exit', cleanup);
try {
  let bench = await startBenchServer(400);
  const withoutP95 = await phase('no pool', bench, clients);
  await bench.close();

  bench = await startBenchServer(400, {}, burst);
  const fillMs = await waitForPool(bench, burst, 300_000);
  rows.push([`pool of ${burst}: filled from empty`, '1', ms(fillMs), '', '', '', `${(fillMs / burst).toFixed(0)} ms a lab, ${bench.server.config.limits.maxStarting} at a time`]);
  const withP95 = await phase(`pool of ${burst}`, bench, clients);
  await bench.close();
  console.log(table(rows));
  for (const part of profiles) console.log(`\n${part}`);
  console.log(`\n${burst} at once, p95: ${ms(withP95)} with a pool against ${ms(withoutP95)} without (${(withoutP95 / withP95).toFixed(1)}× faster)`);
} finally {
  await clients.call({ cmd: 'exit' }).catch(() => {});
}
process.exit(0);
