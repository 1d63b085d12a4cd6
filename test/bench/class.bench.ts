/**
 * A class of 150 (then up to 300) learners on one lab server (root only, real LocalDriver):
 *  1. launch latency, click → prompt, as the browser does it (POST /api/labs, socket.io
 *     /terminal with the token, until `$ ` arrives): 1 lab (20 sequential), 50 and 150 at once;
 *  2. echo round trip with 150 terminals typing at human pace (~5 keys/s each, jittered), with
 *     its floor (the same shells' ptys written directly: no socket.io, no mirror), then the same
 *     while one terminal runs `yes`; server CPU in each phase;
 *  3. capacity: idle labs (one terminal each) in steps of 50 up to 300, with server RSS, the labs'
 *     own memory and a probe terminal's echo latency at each step.
 * With --profile, then: the echo phases again with the server in a child process, CPU-profiled
 * through the inspector, and the hot spots printed.
 *
 * The server runs in this process; the browsers run in child processes (lib/class-clients.ts), so
 * that process.cpuUsage() here is the server's and their work never delays its event loop.
 * Run: node_modules/.bin/node test/bench/class.bench.ts [--quick] [--profile | --profile-only] [--max-starting=N]
 *   --quick: 10 s echo windows, shorter probes (under 3 minutes); --profile-only: skip 1–3;
 *   --max-starting=N: override the server's "labs starting at once" (an experiment).
 * Profiles stay in a temp dir (printed) for DevTools or `node --cpu-prof`-style reading.
 */
import { fork } from 'node:child_process';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabHandle, LabTerminal } from '../../server/drivers/driver.ts';
import { benchLabId, driverOptions, resources, startBenchServer, type BenchServer, type ChildCommand } from './lib/class-server.ts';
import type { Command, FloodResult, LaunchResult } from './lib/class-clients.ts';
import { Typist, typeFor, type TypingResult } from './lib/typing.ts';
import { MachineCpuMeter, mib, ms, pct, procCpuMs, procMemory, reapedChildrenCpuMs, sleep, summarize, table, type Summary } from './lib/stats.ts';
import { summarizeProfile } from './lib/cpuprofile.ts';
import { scanProcs } from '../../server/drivers/local/uids.ts';
import { children, forkPeer, peer, type Peer } from './lib/peer.ts';

const quick = process.argv.includes('--quick');
const profileOnly = process.argv.includes('--profile-only');
const profiling = profileOnly || process.argv.includes('--profile');
/** --max-starting=N: override the server's "labs starting at once" knob (an experiment; default: as configured). */
const maxStarting = Number(/^--max-starting=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--max-starting=')) ?? '')?.[1] ?? Number.NaN);
const started = performance.now();

const plan = {
  sequential: 20,
  bursts: [50, 150],
  class: 150,
  warmupMs: quick ? 2_000 : 3_000,
  echoMs: quick ? 10_000 : 30_000,
  capacityStep: 50,
  capacityMax: 300,
  probeMs: quick ? 3_000 : 5_000,
  /** Single launches (one after the other) on the loaded server at each capacity step. */
  probeLaunches: quick ? 3 : 5,
  profileMs: quick ? 8_000 : 15_000,
  launchTimeoutMs: 60_000,
  /** The whole bench, cleanup included, never runs longer than this. */
  budgetMs: (quick ? 4 : 15) * 60_000 + (profiling ? 4 * 60_000 : 0),
};
const targets = { launchAloneP95: 300, launchBurstP95: 3_000, echoP99: 25, degradedLaunchP95: 3_000, degradedEchoP99: 100 };

if (process.getuid?.() !== 0) {
  console.log('class bench: needs root (the local driver runs labs as their own uids); skipped');
  process.exit(0);
}

// ---------------------------------------------------------------- child processes over IPC

function forkClients(): Peer {
  return forkPeer(join(import.meta.dirname, 'lib', 'class-clients.ts'));
}

const clientsCall = <T>(clients: Peer, command: Command, timeoutMs?: number) => clients.call<T>(command, timeoutMs);

async function clientsCpu(clients: Peer): Promise<NodeJS.CpuUsage> {
  return clientsCall<NodeJS.CpuUsage>(clients, { cmd: 'cpu' });
}

// ---------------------------------------------------------------- figures

const rows: string[][] = [['measure', 'n', 'median', 'p95', 'p99', 'max', 'notes']];
const section = (title: string) => rows.push([`— ${title}`, '', '', '', '', '', '']);
const row = (name: string, s: Summary, notes = '') => rows.push([name, String(s.n), ms(s.median), ms(s.p95), ms(s.p99), ms(s.max), notes]);
const note = (name: string, notes: string) => rows.push([name, '', '', '', '', '', notes]);

const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');

interface PhaseCpu {
  server: NodeJS.CpuUsage;
  clients: NodeJS.CpuUsage;
  machine: MachineCpuMeter;
  at: number;
  /** The server's event-loop delay over the phase: what any terminal waits behind other work. */
  loop: IntervalHistogram;
}

async function cpuStart(clients: Peer[]): Promise<PhaseCpu> {
  const machine = new MachineCpuMeter();
  machine.start();
  const used = await Promise.all(clients.map(clientsCpu));
  const sum = used.reduce((a, b) => ({ user: a.user + b.user, system: a.system + b.system }), { user: 0, system: 0 });
  const loop = monitorEventLoopDelay({ resolution: 2 });
  loop.enable();
  return { server: process.cpuUsage(), clients: sum, machine, at: performance.now(), loop };
}

async function cpuRead(start: PhaseCpu, clients: Peer[]): Promise<string> {
  const wall = performance.now() - start.at;
  const server = process.cpuUsage(start.server);
  const used = await Promise.all(clients.map(clientsCpu));
  const sum = used.reduce((a, b) => ({ user: a.user + b.user, system: a.system + b.system }), { user: 0, system: 0 });
  const of = (u: { user: number; system: number }) => ((u.user + u.system) / 1000 / wall) * 100;
  const clientsPct = of({ user: sum.user - start.clients.user, system: sum.system - start.clients.system });
  start.loop.disable();
  const lag = (ns: number) => ms(ns / 1e6);
  return (
    `CPU: server ${pct(of(server))} of a core (user ${pct((server.user / 1000 / wall) * 100)}), browsers ${pct(clientsPct)}, machine ${pct(start.machine.read())} of 200 %; ` +
    `server event-loop delay p99 ${lag(start.loop.percentile(99))}, max ${lag(start.loop.max)}`
  );
}

/** Processes of the labs: their uids, and the root-side entry helpers (children of this process). */
function labProcess({ uid, ppid, pid }: { uid: number; ppid: number; pid: number }): boolean {
  if (uid >= driverOptions.uidBase && uid < driverOptions.uidBase + driverOptions.uidCount) return true;
  return uid === 0 && ppid === process.pid && ![...children].some((c) => c.pid === pid);
}

interface LaunchCpu {
  server: NodeJS.CpuUsage;
  reaped: number;
  labs: number;
  clients: NodeJS.CpuUsage;
  machine: MachineCpuMeter;
}

async function launchCpuStart(clients: Peer): Promise<LaunchCpu> {
  const machine = new MachineCpuMeter();
  machine.start();
  return { server: process.cpuUsage(), reaped: reapedChildrenCpuMs(), labs: procCpuMs(labProcess), clients: await clientsCpu(clients), machine };
}

/** CPU per launch: the server's event loop, the setup commands it ran and reaped, the labs' live processes, the browsers. */
async function launchCpuRead(start: LaunchCpu, clients: Peer, launches: number): Promise<string> {
  const server = process.cpuUsage(start.server);
  const reaped = reapedChildrenCpuMs() - start.reaped;
  const labs = procCpuMs(labProcess) - start.labs;
  const c = await clientsCpu(clients);
  const browsers = (c.user - start.clients.user + c.system - start.clients.system) / 1000;
  const per = (v: number) => `${(v / launches).toFixed(0)}`;
  const total = (server.user + server.system) / 1000 + reaped + labs + browsers;
  return `CPU per launch: ${per(total)} ms = server ${per((server.user + server.system) / 1000)} + setup commands ${per(reaped)} + lab processes ${per(labs)} + browser ${per(browsers)}; machine ${pct(start.machine.read())} of 200 %`;
}

// ---------------------------------------------------------------- phases

async function launchPhase(bench: BenchServer, clients: Peer, url: string): Promise<void> {
  section('1. launch: click → first prompt byte (POST /api/labs + socket.io /terminal)');
  const launch = (count: number) => clientsCall<LaunchResult>(clients, { cmd: 'launch', url, lab: benchLabId, count, timeoutMs: plan.launchTimeoutMs }, plan.launchTimeoutMs + 30_000);
  const remove = () => clientsCall<{ count: number; ms: number; failures: string[] }>(clients, { cmd: 'delete', url }, 120_000);
  // Warm-up: page cache, first perl/bwrap exec, JIT.
  await launch(1);
  await remove();

  const alone: number[] = [];
  const posts: number[] = [];
  let failures = 0;
  let cpuNote = '';
  for (let n = 0; n < plan.sequential; n++) {
    // CPU is read before the lab is deleted: the stop's own cost is not a launch's.
    const cpu = await launchCpuStart(clients);
    const r = await launch(1);
    if (n === plan.sequential - 1) cpuNote = await launchCpuRead(cpu, clients, 1);
    alone.push(...r.latencies);
    posts.push(...r.posts);
    failures += r.failures.length;
    await remove();
  }
  const a = summarize(alone);
  row(`1 lab, ${plan.sequential} sequential`, a, `target p95 < ${targets.launchAloneP95} ms: ${verdict(a.p95 < targets.launchAloneP95)}${failures ? `; ${failures} failed` : ''}`);
  row('  of which API (lab running)', summarize(posts));
  note('', `last one: ${cpuNote}`);

  for (const count of plan.bursts) {
    const cpu = await launchCpuStart(clients);
    const r = await launch(count);
    const cpuNote = await launchCpuRead(cpu, clients, Math.max(1, r.latencies.length));
    const s = summarize(r.latencies);
    row(`${count} at once`, s, `target p95 < ${targets.launchBurstP95} ms: ${verdict(s.p95 < targets.launchBurstP95 && r.failures.length === 0)}${r.failures.length ? `; ${r.failures.length} failed: ${r.failures[0]}` : ''}`);
    row('  of which API (lab running)', summarize(r.posts));
    note('', cpuNote);
    if (count !== plan.class) {
      const stopCpu = await cpuStart([clients]);
      const d = await remove();
      note(`  stop ${d.count} at once (DELETE)`, `${ms(d.ms)} for all${d.failures.length ? `; ${d.failures.length} failed` : ''}; ${await cpuRead(stopCpu, [clients])}`);
    }
  }
  const running = bench.server.sessions.all().length;
  if (running < plan.class) throw new Error(`only ${running} labs run; the echo phase needs ${plan.class}`);
}

async function waitForPrompt(term: LabTerminal, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error('no prompt'));
    }, timeoutMs);
    const sub = term.onData((data) => {
      seen = (seen + data).slice(-64);
      if (seen.includes('$ ')) {
        clearTimeout(timer);
        sub.dispose();
        resolve();
      }
    });
  });
}

/** The floor: new shells of the same labs, straight on node-pty in this process. */
async function floorPhase(bench: BenchServer): Promise<void> {
  const handles = bench.server.sessions
    .all()
    .map((session) => session.handle)
    .filter((handle): handle is LabHandle => handle !== undefined)
    .slice(0, plan.class);
  const ptys: LabTerminal[] = [];
  try {
    for (const handle of handles) ptys.push(await bench.driver.attach(handle, { cols: 120, rows: 30 }));
    await Promise.all(ptys.map((term) => waitForPrompt(term, 20_000)));
    const typists = ptys.map((term) => {
      const typist = new Typist((key) => term.write(key));
      term.onData((data) => typist.output(data));
      return typist;
    });
    const cpu = await cpuStart([]);
    const r = await typeFor(typists, plan.warmupMs, plan.echoMs);
    const cpuNote = await cpuRead(cpu, []);
    row(`floor: ${ptys.length} ptys, keys written straight in`, summarize(r.samples), `${r.lost} lost of ${r.keys} keys; ${cpuNote.replace(/browsers[^,]*, /, '').replace('server', 'this process')}`);
  } finally {
    for (const term of ptys) {
      try {
        term.close();
      } catch {
        /* gone */
      }
    }
  }
}

async function echoPhase(bench: BenchServer, clients: Peer, flooder: Peer, url: string, labs: Array<{ id: string; token: string }>): Promise<void> {
  section(`2. echo round trip, ${plan.class} terminals at ~5 keys/s each, ${plan.echoMs / 1000} s steady state`);
  await floorPhase(bench);

  let cpu = await cpuStart([clients, flooder]);
  const calm = await clientsCall<TypingResult>(clients, { cmd: 'type', warmupMs: plan.warmupMs, durationMs: plan.echoMs }, plan.echoMs + 60_000);
  let cpuNote = await cpuRead(cpu, [clients, flooder]);
  const c = summarize(calm.samples);
  row(`${plan.class} terminals (socket.io + mirror)`, c, `target p99 < ${targets.echoP99} ms: ${verdict(c.p99 < targets.echoP99 && calm.lost === 0)}; ${calm.lost} lost of ${calm.keys} keys`);
  note('', cpuNote);
  note('', `server RSS ${mib(process.memoryUsage().rss)}`);

  // One terminal floods: `yes` in a second shell of lab 0, read by a browser of its own that acks
  // as the page does; the other 149 keep typing.
  const first = labs[0];
  if (!first) throw new Error('no lab for the flood');
  await clientsCall(flooder, { cmd: 'flood-start', url, lab: first.id, token: first.token }, 30_000);
  let maxRss = process.memoryUsage().rss;
  const rssTimer = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage().rss)), 250);
  try {
    cpu = await cpuStart([clients, flooder]);
    const flooded = await clientsCall<TypingResult>(clients, { cmd: 'type', warmupMs: plan.warmupMs, durationMs: plan.echoMs, except: [0] }, plan.echoMs + 60_000);
    cpuNote = await cpuRead(cpu, [clients, flooder]);
    const f = await clientsCall<FloodResult>(flooder, { cmd: 'flood-stop' });
    const s = summarize(flooded.samples);
    row(`${plan.class - 1} terminals while 1 runs \`yes\``, s, `target p99 < ${targets.echoP99} ms: ${verdict(s.p99 < targets.echoP99 && flooded.lost === 0)}; ${flooded.lost} lost of ${flooded.keys} keys`);
    note('', cpuNote);
    note(
      '',
      `yes → its browser: ${((f.characters / f.seconds) / 1024 / 1024).toFixed(2)} MiB/s (${(f.characters / 1024 / 1024).toFixed(0)} MiB in ${f.seconds.toFixed(0)} s), longest output gap ${ms(f.maxGapMs)}; server RSS max ${mib(maxRss)}`,
    );
  } finally {
    clearInterval(rssTimer);
  }
}

function labMemory(): { labs: ReturnType<typeof procMemory>; helpers: ReturnType<typeof procMemory> } {
  const inRange = (uid: number) => uid >= driverOptions.uidBase && uid < driverOptions.uidBase + driverOptions.uidCount;
  const clientPids = new Set([...children].map((c) => c.pid));
  return {
    labs: procMemory(({ uid }) => inRange(uid)),
    // The root-side entry helpers (perl lab-helper.pl enter), children of the server's process.
    helpers: procMemory(({ uid, ppid, pid }) => uid === 0 && ppid === process.pid && !clientPids.has(pid)),
  };
}

async function capacityPhase(bench: BenchServer, clients: Peer, prober: Peer, url: string): Promise<void> {
  section(`3. capacity: idle labs with one terminal each, +${plan.capacityStep} at a time (probe: 1 terminal typing, ${plan.probeMs / 1000} s)`);
  const stopCpu = await cpuStart([clients]);
  const d = await clientsCall<{ count: number; ms: number; failures: string[] }>(clients, { cmd: 'delete', url }, 180_000);
  note(`stop the ${d.count} labs of phase 2 at once (DELETE)`, `${ms(d.ms)} for all${d.failures.length ? `; ${d.failures.length} failed` : ''}; ${await cpuRead(stopCpu, [clients])}`);
  await sleep(1000);
  const baseRss = process.memoryUsage().rss;
  const capRows: string[][] = [['labs', `+${plan.capacityStep} at once p50`, 'p95', `1 more (×${plan.probeLaunches}) p50`, 'max', 'failed', 'server RSS', 'labs RSS (PSS)', 'helpers RSS (PSS)', 'per lab RSS (PSS)', 'probe echo p50', 'probe p99']];
  for (let labs = plan.capacityStep; labs <= plan.capacityMax; labs += plan.capacityStep) {
    const r = await clientsCall<LaunchResult>(clients, { cmd: 'launch', url, lab: benchLabId, count: plan.capacityStep, timeoutMs: plan.launchTimeoutMs }, plan.launchTimeoutMs + 30_000);
    const burst = summarize(r.latencies);
    await sleep(1000);
    // The degradation probe: one learner clicking Launch on the loaded server (a few times, one by one).
    const probeLatencies: number[] = [];
    for (let n = 0; n < plan.probeLaunches; n++) {
      const l = await clientsCall<LaunchResult>(prober, { cmd: 'launch', url, lab: benchLabId, count: 1, timeoutMs: plan.launchTimeoutMs }, plan.launchTimeoutMs + 30_000);
      probeLatencies.push(...l.latencies);
      r.failures.push(...l.failures);
      await clientsCall(prober, { cmd: 'delete', url }, 60_000);
    }
    const launch = summarize(probeLatencies);
    global.gc?.();
    const serverRss = process.memoryUsage().rss;
    const m = labMemory();
    const running = bench.server.sessions.all().length;
    const probe = await clientsCall<TypingResult>(clients, { cmd: 'type', warmupMs: 500, durationMs: plan.probeMs, only: [0] }, plan.probeMs + 30_000);
    const p = summarize(probe.samples);
    const perLabRss = (m.labs.rss + m.helpers.rss + serverRss - baseRss) / running;
    const perLabPss = (m.labs.pss + m.helpers.pss + serverRss - baseRss) / running;
    capRows.push([
      String(running),
      ms(burst.median),
      ms(burst.p95),
      ms(launch.median),
      ms(launch.max),
      String(r.failures.length),
      mib(serverRss),
      `${mib(m.labs.rss)} (${mib(m.labs.pss)}) ${m.labs.procs}p`,
      `${mib(m.helpers.rss)} (${mib(m.helpers.pss)}) ${m.helpers.procs}p`,
      `${mib(perLabRss)} (${mib(perLabPss)})`,
      ms(p.median),
      ms(p.p99),
    ]);
    const stop =
      r.failures.length > 0
        ? `launches failed: ${r.failures[0]}`
        : launch.p95 > targets.degradedLaunchP95
          ? `single launch p95 ${ms(launch.p95)} > ${targets.degradedLaunchP95} ms`
          : p.p99 > targets.degradedEchoP99
            ? `probe echo p99 ${ms(p.p99)} > ${targets.degradedEchoP99} ms`
            : undefined;
    if (stop) {
      capRows.push([`stopped at ${running}: ${stop}`, ...Array.from({ length: 11 }, () => '')]);
      break;
    }
  }
  capacityTable = table(capRows);
}

let capacityTable = '';

// ---------------------------------------------------------------- profile (server in a child)

async function profilePhase(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-class-prof-'));
  const server = fork(join(import.meta.dirname, 'lib', 'class-server.ts'), ['--child'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ATELIER_CLASS_BENCH_LIMITS: JSON.stringify(Number.isNaN(maxStarting) ? {} : { maxStarting }) },
  });
  children.add(server);
  server.on('exit', () => children.delete(server));
  const serverPeer = peer(server);
  const clients = forkClients();
  const flooder = forkClients();
  const out: string[] = [];
  try {
    const ready = await new Promise<{ url: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the profiled server did not start')), 60_000);
      server.on('message', (message: { ready?: boolean; url?: string; error?: string }) => {
        if (message.ready === undefined) return;
        clearTimeout(timer);
        if (message.ready && message.url) resolve({ url: message.url });
        else reject(new Error(message.error));
      });
    });
    const report = (title: string, path: string) => {
      const summary = summarizeProfile(path, 15);
      out.push(`\nprofile of the server, ${title}: event loop busy ${((summary.busyMs / summary.wallMs) * 100).toFixed(0)} % of ${(summary.wallMs / 1000).toFixed(1)} s`);
      out.push(table([['self time by package', 'ms', 'share of busy'], ...summary.packages.map((h) => [h.name, h.selfMs.toFixed(0), pct(h.share * 100)])]));
      out.push(table([['hottest functions (self)', 'where', 'ms', 'share'], ...summary.functions.map((h) => [h.name.slice(0, 40), h.where.slice(-60), h.selfMs.toFixed(0), pct(h.share * 100)])]));
      out.push(`profile file: ${path}`);
    };
    // Warm-up launch, then the burst of the class under the profiler.
    await clientsCall<LaunchResult>(clients, { cmd: 'launch', url: ready.url, lab: benchLabId, count: 1, timeoutMs: plan.launchTimeoutMs }, plan.launchTimeoutMs + 30_000);
    await clientsCall(clients, { cmd: 'delete', url: ready.url }, 60_000);
    await serverPeer.call<null>({ cmd: 'profile-start' } satisfies ChildCommand);
    const launch = await clientsCall<LaunchResult>(clients, { cmd: 'launch', url: ready.url, lab: benchLabId, count: plan.class, timeoutMs: plan.launchTimeoutMs }, plan.launchTimeoutMs + 30_000);
    await serverPeer.call<null>({ cmd: 'profile-stop', path: join(dir, 'launch.cpuprofile') } satisfies ChildCommand, 60_000);
    if (launch.failures.length) throw new Error(`profile: ${launch.failures.length} launches failed: ${launch.failures[0]}`);
    const l = summarize(launch.latencies);
    report(`${plan.class} launches at once (p50 ${ms(l.median)}, p95 ${ms(l.p95)} under the profiler)`, join(dir, 'launch.cpuprofile'));
    const window = async (name: string, flood: boolean) => {
      const path = join(dir, `${name}.cpuprofile`);
      if (flood) await clientsCall(flooder, { cmd: 'flood-start', url: ready.url, lab: launch.labs[0]!.id, token: launch.labs[0]!.token }, 30_000);
      // Typing starts, warms up, then the profiled window covers the steady state only.
      const typing = clientsCall<TypingResult>(clients, { cmd: 'type', warmupMs: plan.warmupMs, durationMs: plan.profileMs, ...(flood ? { except: [0] } : {}) }, plan.profileMs + 60_000);
      await sleep(plan.warmupMs);
      await serverPeer.call<null>({ cmd: 'profile-start' } satisfies ChildCommand);
      await sleep(plan.profileMs);
      await serverPeer.call<null>({ cmd: 'profile-stop', path } satisfies ChildCommand, 60_000);
      const typed = summarize((await typing).samples);
      if (flood) await clientsCall(flooder, { cmd: 'flood-stop' });
      report(`${name} (${plan.class} terminals${flood ? ', 1 running yes' : ''}; echo p50 ${ms(typed.median)} p99 ${ms(typed.p99)} under the profiler)`, path);
    };
    await window('echo', false);
    await window('echo-and-yes', true);
    await serverPeer.call<null>({ cmd: 'profile-start' } satisfies ChildCommand);
    const stopping = performance.now();
    await clientsCall(clients, { cmd: 'delete', url: ready.url }, 180_000);
    const stopMs = performance.now() - stopping;
    await serverPeer.call<null>({ cmd: 'profile-stop', path: join(dir, 'stop.cpuprofile') } satisfies ChildCommand, 60_000);
    report(`${plan.class} labs deleted at once (${ms(stopMs)})`, join(dir, 'stop.cpuprofile'));
  } finally {
    await clientsCall(clients, { cmd: 'exit' }, 5_000).catch(() => clients.child.kill('SIGKILL'));
    await clientsCall(flooder, { cmd: 'exit' }, 5_000).catch(() => flooder.child.kill('SIGKILL'));
    const exited = new Promise((resolve) => server.once('exit', resolve));
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await Promise.race([exited, sleep(60_000)]);
    }
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }
  return out.join('\n');
}

// ---------------------------------------------------------------- main

let bench: BenchServer | undefined;
let cleaning: Promise<void> | undefined;

async function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const child of children) child.kill('SIGKILL');
    if (bench) await bench.close().catch((error: unknown) => console.error('cleanup:', error));
    // Whatever a crashed child server left: same uid range and cgroup, ours only.
    const { LocalDriver } = await import('../../server/drivers/local/local-driver.ts');
    await new LocalDriver(driverOptions).reapAll().catch(() => {});
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`class bench: ${signal}, cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}
const budget = setTimeout(() => {
  console.error(`class bench: over its time budget (${plan.budgetMs / 60_000} min), cleaning up`);
  void cleanup().finally(() => process.exit(1));
}, plan.budgetMs);
budget.unref();

let failed = false;
let profileReport = '';
try {
  if (!profileOnly) await mainPhases();
  if (profiling) profileReport = await profilePhase();
} catch (error) {
  failed = true;
  console.error('class bench failed:', error);
} finally {
  await cleanup();
}

async function mainPhases(): Promise<void> {
  bench = await startBenchServer(plan.capacityMax + 100, Number.isNaN(maxStarting) ? {} : { maxStarting });
  const url = `http://127.0.0.1:${bench.server.port}`;
  const limits = Object.entries(bench.limits)
    .filter(([, v]) => typeof v === 'number' && v < 1e7)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`class bench${quick ? ' (--quick)' : ''}: lab ${JSON.stringify(resources)}; server limits: ${limits}`);
  const clients = forkClients();
  const flooder = forkClients();
  try {
    await launchPhase(bench, clients, url);
    const labs = (await clientsCall<LaunchResult>(clients, { cmd: 'launch', url, lab: benchLabId, count: 0, timeoutMs: 1000 })).labs;
    await echoPhase(bench, clients, flooder, url, labs);
    await capacityPhase(bench, clients, flooder, url);
  } finally {
    await clientsCall(clients, { cmd: 'delete', url }, 180_000).catch(() => {});
    await clientsCall(clients, { cmd: 'exit' }, 5_000).catch(() => clients.child.kill('SIGKILL'));
    await clientsCall(flooder, { cmd: 'exit' }, 5_000).catch(() => flooder.child.kill('SIGKILL'));
    const closing = performance.now();
    await bench.close();
    bench = undefined;
    note('server close (stops every lab)', ms(performance.now() - closing));
  }
}

console.log(table(rows));
if (capacityTable) console.log(`\n${capacityTable}`);
if (profileReport) console.log(profileReport);
// Killed processes may take a moment to be reaped: count the live ones, for up to 5 s.
let leftovers = 0;
for (let n = 0; n < 50; n++) {
  leftovers = scanProcs((uid) => uid >= driverOptions.uidBase && uid < driverOptions.uidBase + driverOptions.uidCount).length;
  if (leftovers === 0) break;
  await sleep(100);
}
console.log(`\nbench time ${((performance.now() - started) / 1000).toFixed(0)} s; lab processes left: ${leftovers}`);
process.exit(failed ? 1 : 0);
