/**
 * The class benchmark's lab server: the real startServer with a temp data dir, a temp labs dir
 * holding one small lab, quotas raised so 300 labs fit, and a LocalDriver on a uid range and
 * cgroup of its own (so it never touches the labs of tests running beside it).
 *
 * Imported: startBenchServer() runs it in-process. Run as a child (`node class-server.ts
 * --child`, with an IPC channel): it starts, says { ready, url, pid }, and answers
 * profile-start / profile-stop (node:inspector CPU profile of a window) / stats / close.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { loadConfig } from '../../../server/config.ts';
import { startServer, type RunningServer } from '../../../server/app.ts';
import { LocalDriver } from '../../../server/drivers/local/local-driver.ts';
import { makeSiteDir } from '../../helpers/server.ts';

export const benchLabId = 'class-bench';
/** Host uids [270000, 270400) and cgroup "atelier-class-bench": the bench's alone. */
export const driverOptions = { uidBase: 270_000, uidCount: 400, cgroupName: 'atelier-class-bench' } as const;
export const resources = { cpu: 0.2, memory: '64Mi', disk: '16Mi', pids: 64 } as const;

const labYaml = (pool: number) => `
id: ${benchLabId}
pool: ${pool}
title: { fr: Banc de classe, en: Class bench }
resources: { cpu: ${resources.cpu}, memory: ${resources.memory}, disk: ${resources.disk}, pids: ${resources.pids} }
ttl: 30m
idle: 30m
checks:
  home:
    kind: file
    path: "~"
    type: dir
`;

export interface BenchServer {
  server: RunningServer;
  driver: LocalDriver;
  /** The limits the server runs with (after raising). */
  limits: Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * Count quotas (labs in all, per client, per learner, queue length) raised to `labs` when lower;
 * throughput knobs (labs starting at once, launches per minute) and durations left as configured,
 * whatever their names are today: the limits are read from config.ts at start.
 */
export function raisedLimits(labs: number): Record<string, unknown> {
  const base = loadConfig(process.env).limits as unknown as Record<string, unknown>;
  const limits: Record<string, unknown> = { ...base };
  for (const [name, value] of Object.entries(base)) {
    if (typeof value !== 'number') continue;
    if (/^max(Labs|Queue)/.test(name)) limits[name] = Math.max(value, labs);
  }
  return limits;
}

/** `pool`: ready labs kept for launches to claim (the lab's warm pool; 0: none). */
export async function startBenchServer(labs = 400, overrides: Record<string, number> = {}, pool = 0): Promise<BenchServer> {
  const labsDir = mkdtempSync(join(tmpdir(), 'atelier-class-labs-'));
  mkdirSync(join(labsDir, benchLabId));
  writeFileSync(join(labsDir, benchLabId, 'lab.yaml'), labYaml(pool));
  const siteDir = makeSiteDir();
  const dataDir = mkdtempSync(join(tmpdir(), 'atelier-class-data-'));
  const driver = new LocalDriver(driverOptions);
  // Leftovers of an earlier bench that crashed (same uid range and cgroup: ours only).
  await driver.reapAll();
  const limits = { ...raisedLimits(labs), ...overrides };
  const removeDirs = () => {
    for (const dir of [labsDir, siteDir, dataDir]) rmSync(dir, { recursive: true, force: true });
  };
  let server: RunningServer;
  try {
    server = await startServer({
      driver,
      logger: false,
      config: { port: 0, host: '127.0.0.1', labsDir, siteDir, dataDir, poolMax: pool, limits: limits as Partial<RunningServer['config']['limits']> },
    });
  } catch (error) {
    await driver.reapAll().catch(() => {});
    removeDirs();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    server,
    driver,
    limits,
    close: () =>
      (closing ??= (async () => {
        try {
          await server.close();
        } finally {
          await driver.reapAll().catch(() => {});
          removeDirs();
        }
      })()),
  };
}

/** CPU profile of a window of this process, through the inspector (no restart, no --cpu-prof). */
class WindowProfiler {
  #session: Session | undefined;
  async start(): Promise<void> {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
    this.#session = session;
  }
  async stop(path: string): Promise<void> {
    const session = this.#session;
    if (!session) return;
    this.#session = undefined;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(path, JSON.stringify(profile));
  }
}

export type ChildCommand = { cmd: 'profile-start' } | { cmd: 'profile-stop'; path: string } | { cmd: 'stats' } | { cmd: 'close' };

async function child(): Promise<void> {
  const overrides = JSON.parse(process.env.ATELIER_CLASS_BENCH_LIMITS ?? '{}') as Record<string, number>;
  const bench = await startBenchServer(400, overrides);
  const profiler = new WindowProfiler();
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    const watchdog = setTimeout(() => process.exit(1), 60_000);
    watchdog.unref();
    await bench.close().catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', () => void close());
  process.on('SIGINT', () => void close());
  process.on('disconnect', () => void close());
  process.on('message', (message: { id: number; command: ChildCommand }) => {
    const run = async (): Promise<unknown> => {
      switch (message.command.cmd) {
        case 'profile-start':
          return profiler.start();
        case 'profile-stop':
          return profiler.stop(message.command.path);
        case 'stats':
          return { cpu: process.cpuUsage(), rss: process.memoryUsage().rss };
        case 'close':
          setImmediate(() => void close());
          return null;
      }
    };
    run().then(
      (result) => process.send?.({ id: message.id, ok: true, result }),
      (error: unknown) => process.send?.({ id: message.id, ok: false, error: String(error) }),
    );
  });
  process.send?.({ ready: true, url: `http://127.0.0.1:${bench.server.port}`, pid: process.pid, limits: bench.limits });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--child')) {
  child().catch((error: unknown) => {
    process.send?.({ ready: false, error: String((error as Error)?.stack ?? error) });
    process.exit(1);
  });
}
