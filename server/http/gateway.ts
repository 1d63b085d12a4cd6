/**
 * What labs reach of the lab server: a Unix socket serving the forge and the S3 endpoint only
 * (never the API, the sockets or the site). The local driver forwards a port inside each lab's
 * own network namespace to it, so labs need no network of their own.
 */
import { createServer } from 'node:http';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LearnerPlatform } from '../learners/platform.ts';

export async function listenGateway(socketPath: string, platform: Pick<LearnerPlatform, 'dispatch'>): Promise<{ close(): Promise<void> }> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 });
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    if (platform.dispatch(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Only the forge (/git/) and S3 are reachable from a lab.\n');
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
  // Lab users (unprivileged uids) must be able to connect; the socket reaches nothing else.
  chmodSync(socketPath, 0o666);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        rmSync(socketPath, { force: true });
      }),
  };
}
