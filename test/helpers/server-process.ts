/**
 * A whole lab server as a real process (server/main.ts) on a loopback port, for the tests that
 * need one of their own: replicas, a server configured for an OpenID provider.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

/** A free loopback port, for a server whose URL must be known before it starts (a redirect URI). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

/**
 * Starts server/main.ts on `port` with `env` over this process's (no VS Code: no test here needs
 * it), and resolves once /healthz answers; rejects if it exits or is not up within a minute.
 */
export async function spawnServer(name: string, port: number, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(root, 'server', 'main.ts')], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ATELIER_VSCODE: 'off', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return child;
}
