/**
 * The labs' services: time from "Open" (start asked) to a service that serves its login page,
 * for JupyterLab and VS Code, against the same program started bare on the host (no sandbox) in
 * the same run; RSS and PSS per running service; then labs each running a JupyterLab, added until
 * 60 run or a running one slows down (its login page's p95 over 20 requests past 1 s). The
 * browser's part of "usable" (JupyterLab's page and scripts) is measured by the e2e test's run,
 * not here: this is the server side of it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { startLab } from '../helpers/driver.ts';
import type { LabHandle } from '../../server/drivers/driver.ts';
import { serviceSpec, type OpenableKind } from '../../server/services/catalog.ts';
import { LAB_CODE_SERVER_DIR, LAB_PYTHON_DIR } from '../../server/drivers/local/sandbox-args.ts';
import { mib, ms, procMemory, summarize } from './lib/stats.ts';

const runs = 10;
const driver = new LocalDriver({ uidBase: 250_000, uidCount: 200, cgroupName: 'atelier-bench' });
const resources = { cpu: 1, memory: 1536 * 1024 ** 2, disk: 256 * 1024 ** 2, pids: 512 };
let next = 0;

const newLab = (): Promise<LabHandle> =>
  startLab(driver, { sessionId: `svc-bench-${next++}`, labId: 'svc-bench', workspace: '/home/onyxia/work', resources, env: {}, expiresAt: Date.now() + 3600_000 });

/** GET `path` over a fresh connection; resolves with the status once the whole body arrived. */
function get(connection: () => Socket, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ createConnection: connection, path, headers: { host: 'service' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const loginPath: Record<OpenableKind, string> = { jupyterlab: '/login', vscode: '/login' };

async function inLab(kind: OpenableKind): Promise<{ times: number[]; rss: number[]; pss: number[] }> {
  const times: number[] = [];
  const rss: number[] = [];
  const pss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const handle = await newLab();
    const t0 = performance.now();
    await driver.startService(handle, serviceSpec(kind, { password: 'bench-password', workspace: '/home/onyxia/work' }));
    const status = await get(() => driver.connectService(handle, kind), loginPath[kind]);
    times.push(performance.now() - t0);
    if (status !== 200) throw new Error(`${kind}: login page answered ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const uid = (handle.state as { uid: number }).uid;
    // The service's processes only: the lab's keeper and forwarder are the sandbox's, not its.
    const memory = procMemory(({ uid: owner }) => owner === uid);
    const keeper = procMemory(({ uid: owner, pid }) => owner === uid && /\/(sleep|perl)$/.test(safeExe(pid)));
    rss.push(memory.rss - keeper.rss);
    pss.push(memory.pss - keeper.pss);
    await driver.stop(handle);
  }
  return { times, rss, pss };
}

function safeExe(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}

/** The same program started bare on the host, as root, on a socket in a temporary directory. */
async function bare(kind: OpenableKind): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'atelier-svc-'));
    const socket = join(dir, `${kind}.sock`);
    const spec = serviceSpec(kind, { password: 'bench-password', workspace: dir });
    const argv = spec.argv.map((arg) => arg.replace(spec.socket, socket));
    if (kind === 'jupyterlab') argv.push('--allow-root');
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...spec.env, HOME: dir }, stdio: 'ignore' });
    for (;;) {
      try {
        if ((await get(() => connect(socket), loginPath[kind])) === 200) break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      if (performance.now() - t0 > 60_000) throw new Error(`bare ${kind} did not answer`);
    }
    times.push(performance.now() - t0);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
  return times;
}

function line(label: string, values: number[], base?: number[]): void {
  const s = summarize(values);
  const ratio = base ? `  (${(s.median / summarize(base).median).toFixed(2)}× the bare program)` : '';
  console.log(`  ${label.padEnd(34)} median ${ms(s.median).padStart(8)}  p95 ${ms(s.p95).padStart(8)}  max ${ms(s.max).padStart(8)}${ratio}`);
}

async function capacity(max = 60): Promise<void> {
  const labs: LabHandle[] = [];
  let degraded = '';
  try {
    for (let n = 1; n <= max; n++) {
      const handle = await newLab();
      labs.push(handle);
      await driver.startService(handle, serviceSpec('jupyterlab', { password: 'bench-password', workspace: '/home/onyxia/work' }));
      if (n % 10 === 0 || n === 1) {
        const first = labs[0]!;
        const latencies: number[] = [];
        for (let i = 0; i < 20; i++) {
          const t0 = performance.now();
          await get(() => driver.connectService(first, 'jupyterlab'), '/login');
          latencies.push(performance.now() - t0);
        }
        const s = summarize(latencies);
        const memory = procMemory(({ uid }) => uid >= 250_000 && uid < 250_200, false);
        console.log(`  ${String(n).padStart(3)} JupyterLabs running: first one's login page median ${ms(s.median)}, p95 ${ms(s.p95)}; all labs ${mib(memory.rss)} RSS`);
        if (s.p95 > 1000) {
          degraded = `degraded at ${n} (p95 ${ms(s.p95)})`;
          break;
        }
      }
    }
  } catch (error) {
    degraded = `stopped at ${labs.length}: ${(error as Error).message.slice(0, 200)}`;
  } finally {
    console.log(`  capacity: ${degraded || `${labs.length} JupyterLabs running, none degraded (target: at least 60)`}`);
    await Promise.all(labs.map((handle) => driver.stop(handle).catch(() => {})));
  }
}

console.log(`Open → login page served, ${runs} starts each (target: JupyterLab usable < 3 s, VS Code < 5 s, browser included):`);
const kinds: OpenableKind[] = existsSync(join(LAB_CODE_SERVER_DIR, 'node_modules', 'code-server')) ? ['jupyterlab', 'vscode'] : ['jupyterlab'];
if (!existsSync(join(LAB_PYTHON_DIR, 'bin', 'jupyter-lab'))) throw new Error('the labs’ Python environment is missing: run npm start once');
for (const kind of kinds) {
  const base = await bare(kind);
  const sandboxed = await inLab(kind);
  line(`${kind}, bare on the host`, base);
  line(`${kind}, in a lab (sandbox, cgroups)`, sandboxed.times, base);
  const r = summarize(sandboxed.rss);
  const p = summarize(sandboxed.pss);
  console.log(`  ${kind} memory, idle after start:  RSS median ${mib(r.median)} (max ${mib(r.max)}), PSS median ${mib(p.median)} (max ${mib(p.max)})`);
}
await capacity();
await driver.close();
