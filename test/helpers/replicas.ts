/**
 * Lab-server replicas for tests: real servers in-process on one real PostgreSQL and one
 * ATELIER_SECRET_KEY_FILE, each with its own data directory (no key file copied between them),
 * the progress tests' site, and memory drivers of one deployment (no sandbox, no uid range).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDriver } from './memory-driver.ts';
import { makeProgressSite } from './progress.ts';
import { startTestServer, type TestServer } from './server.ts';
import type { StartOptions } from '../../server/app.ts';

/** A file holding a fresh secret as the chart's Secret does (base64 of 32 random bytes, a newline). */
export function writeSecretKeyFile(dir: string, name = 'secret-key'): string {
  const path = join(dir, name);
  writeFileSync(path, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  return path;
}

export interface Replicas {
  servers: TestServer[];
  databaseUrl: string;
  deployment: string;
  secretKeyFile: string;
  /** One more replica on the same database and deployment, with `secretKeyFile` (another key file: a misconfigured one). */
  add(secretKeyFile?: string): Promise<TestServer>;
  /** Closes every replica and removes its data. */
  close(): Promise<void>;
}

/** `count` replicas on `databaseUrl`, each with `config` besides (a webhook…). */
export async function startReplicas(databaseUrl: string, count: number, config: StartOptions['config'] = {}): Promise<Replicas> {
  const root = mkdtempSync(join(tmpdir(), 'atelier-replicas-'));
  const siteDir = makeProgressSite();
  const deployment = `bus-${randomBytes(4).toString('hex')}`;
  const secretKeyFile = writeSecretKeyFile(root);
  const servers: TestServer[] = [];
  const close = async (): Promise<void> => {
    for (const server of servers) {
      await server.cleanup().catch(() => undefined);
      rmSync(server.config.dataDir, { recursive: true, force: true });
    }
    rmSync(siteDir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  };
  const add = async (keyFile = secretKeyFile): Promise<TestServer> => {
    const server = await startTestServer({ driver: new MemoryDriver({ deployment }), config: { ...config, databaseUrl, deployment, secretKeyFile: keyFile, siteDir } });
    servers.push(server);
    return server;
  };
  for (let i = 0; i < count; i += 1) await add();
  return { servers, databaseUrl, deployment, secretKeyFile, add, close };
}
