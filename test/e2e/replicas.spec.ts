/**
 * Two lab-server replicas on one real PostgreSQL behind a small load balancer, in Chromium: the
 * page and the launch go to replica A, the terminal's socket to replica B; B is then killed
 * (SIGKILL), and the learner keeps working: the dock reconnects (through the balancer, to A), the
 * shell answers, a check passes. Real sandboxes (the local driver, both replicas of one
 * deployment on this host), real PostgreSQL, real server processes.
 */
import { test, expect } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProxyServer } from 'http-proxy-3';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { dockOf, launchHere, screenOf } from './lib/dock.ts';
import en from '../../i18n/en.json' with { type: 'json' };

const root = join(import.meta.dirname, '..', '..');

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

interface Replica {
  name: string;
  port: number;
  process: ChildProcess;
  dataDir: string;
  alive: boolean;
}

async function startReplica(name: string, databaseUrl: string, keysFrom?: string): Promise<Replica> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), `atelier-replica-${name}-`));
  // Replicas share their signing keys (cookies, sealing): the second starts with the first's.
  if (keysFrom) cpSync(join(keysFrom, 'keys'), join(dataDir, 'keys'), { recursive: true });
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(root, 'server', 'main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      ATELIER_DATA_DIR: dataDir,
      ATELIER_DATABASE_URL: databaseUrl,
      // A deployment and a uid range of their own: the suite's main server is another deployment.
      ATELIER_DEPLOYMENT: 'e2e-replicas',
      ATELIER_LAB_UID_BASE: '291000',
      ATELIER_LAB_UID_COUNT: '40',
      ATELIER_MAX_LABS: '40',
      ATELIER_VSCODE: 'off',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false);
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`replica ${name} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { name, port, process: child, dataDir, alive: true };
}

/**
 * The balancer: the terminal's socket.io to B while B lives, everything else to A while A lives;
 * a replica found dead is skipped. Counts what each replica was sent.
 */
function balancer(a: Replica, b: Replica): { server: Server; port: () => number; sent: Map<string, string[]> } {
  const proxy = createProxyServer({ xfwd: false });
  const sent = new Map<string, string[]>([
    ['A', []],
    ['B', []],
  ]);
  const pick = (req: IncomingMessage): Replica => {
    const preferred = req.url?.startsWith('/socket.io/') ? b : a;
    return preferred.alive ? preferred : preferred === a ? b : a;
  };
  const target = (replica: Replica) => ({ target: `http://127.0.0.1:${replica.port}` });
  proxy.on('error', (_error, _req, res) => {
    if (res && 'writeHead' in res && !res.headersSent) res.writeHead(502).end();
    else (res as Socket | undefined)?.destroy?.();
  });
  const server = createServer((req, res) => {
    const replica = pick(req);
    sent.get(replica.name)!.push(`${req.method} ${req.url}`);
    proxy.web(req, res, target(replica));
  });
  server.on('upgrade', (req, socket, head) => {
    const replica = pick(req);
    sent.get(replica.name)!.push(`UPGRADE ${req.url}`);
    proxy.ws(req, socket as Socket, head, target(replica));
  });
  return { server, port: () => (server.address() as { port: number }).port, sent };
}

let postgres: TestPostgres;
let a: Replica;
let b: Replica;
let lb: ReturnType<typeof balancer>;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  postgres = await startPostgres();
  const databaseUrl = await postgres.database();
  a = await startReplica('A', databaseUrl);
  b = await startReplica('B', databaseUrl, a.dataDir);
  lb = balancer(a, b);
  await new Promise<void>((resolve) => lb.server.listen(0, '127.0.0.1', resolve));
});

test.afterAll(async () => {
  lb?.server.close();
  for (const replica of [a, b]) {
    if (!replica) continue;
    if (replica.alive) {
      replica.process.kill('SIGTERM');
      await new Promise((resolve) => replica.process.once('exit', resolve));
    }
    rmSync(replica.dataDir, { recursive: true, force: true });
  }
  await postgres?.stop();
});

test('launch through one replica, terminal through the other; the other killed, the learner keeps working', async ({ page }) => {
  test.setTimeout(90_000);
  const base = `http://127.0.0.1:${lb.port()}`;
  await page.goto(`${base}/en/tp/terminal/`);
  const terminal = await launchHere(page, en.launch.button);
  expect(lb.sent.get('A')!.some((line) => line.startsWith('POST /api/labs'))).toBe(true);
  expect(lb.sent.get('B')!.some((line) => line.startsWith('UPGRADE /socket.io/') || line.includes('/socket.io/'))).toBe(true);
  await terminal.click();
  await page.keyboard.type('mkdir -p my-folder && echo through-b-$((6*7))\n');
  await expect(screenOf(page)).toContainText('through-b-42');

  // Replica B dies at once: the dock says so, reconnects through the balancer (to A), and the
  // learner goes on in the same lab (a new shell: B's shell went with B; the lab's files did not).
  b.alive = false;
  b.process.kill('SIGKILL');
  await expect(dockOf(page).locator('.atelier-dock__connection')).toHaveText(en.dock.back, { timeout: 30_000 });
  await terminal.click();
  await page.keyboard.type('ls -d my-folder && echo through-a-$((6*7))\n');
  await expect(screenOf(page)).toContainText('through-a-42', { timeout: 15_000 });

  // A check, answered by A, sees the folder made through B.
  const step = page.locator('li[data-step="made-dir"]');
  await step.getByRole('button', { name: 'Check' }).click();
  await expect(step.locator('input[type="checkbox"]')).toBeChecked({ timeout: 15_000 });
});
