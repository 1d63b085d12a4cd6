/**
 * Lab-server replicas as real processes (server/main.ts) on one PostgreSQL, the local driver's
 * sandboxes, one deployment on this host, and a small balancer in front: the page and API to A,
 * socket.io to B, whichever is alive otherwise. For the replicas e2e test and benchmark.
 */
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProxyServer } from 'http-proxy-3';
import { freePort, spawnServer } from './server-process.ts';

const root = join(import.meta.dirname, '..', '..');

export { freePort };

export interface Replica {
  name: string;
  port: number;
  process: ChildProcess;
  dataDir: string;
  alive: boolean;
}

export async function startReplica(name: string, databaseUrl: string, keysFrom?: string): Promise<Replica> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), `atelier-replica-${name}-`));
  // Replicas share their signing keys (cookies, sealing): the second starts with the first's.
  if (keysFrom) cpSync(join(keysFrom, 'keys'), join(dataDir, 'keys'), { recursive: true });
  const child = await spawnServer(`replica ${name}`, port, {
    ATELIER_DATA_DIR: dataDir,
    ATELIER_DATABASE_URL: databaseUrl,
    // A deployment and a uid range of their own: the suite's main server is another deployment.
    ATELIER_DEPLOYMENT: 'e2e-replicas',
    ATELIER_LAB_UID_BASE: '291000',
    ATELIER_LAB_UID_COUNT: '40',
    ATELIER_MAX_LABS: '40',
  });
  return { name, port, process: child, dataDir, alive: true };
}

/**
 * The balancer: the terminal's socket.io to B while B lives, everything else to A while A lives;
 * a replica found dead is skipped. Counts what each replica was sent.
 */
export function balancer(pair: { a: Replica; b: Replica }): { server: Server; port: () => number; sent: Map<string, string[]> } {
  const proxy = createProxyServer({ xfwd: false });
  const sent = new Map<string, string[]>([
    ['A', []],
    ['B', []],
  ]);
  // Read at each request: a test may put a new replica in the pair.
  const pick = (req: IncomingMessage): Replica => {
    const { a, b } = pair;
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

