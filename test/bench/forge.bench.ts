/**
 * Forge benchmark: push of a 200 MB repository (random, incompressible content; median of 3, each
 * to a new repository) and clone of it (median of 3), through the real handler with its default
 * limits and real git over HTTP on 127.0.0.1, against the same push and clone over file:// (git
 * alone, no HTTP); and a partial clone (--filter=blob:none) of it. Prints figures; cleans up.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createForgeHandler } from '../../server/forge/index.ts';
import { runGit } from '../helpers/forge.ts';

const runs = 3;
const files = 4;
const fileSize = 50_000_000;
const size = files * fileSize;
const token = 'bench-token-0123456789';
const work = mkdtempSync(join(tmpdir(), 'atelier-forge-bench-'));
const home = join(work, 'home');
mkdirSync(home);

async function git(args: string[], cwd: string): Promise<void> {
  const result = await runGit(args, cwd, home);
  if (result.code !== 0) throw new Error(`git ${args[0]}: ${result.stderr}`);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const ms = (value: number): string => `${value.toFixed(0)} ms`;
const mbps = (value: number): string => `${(size / 1e6 / (value / 1000)).toFixed(0)} MB/s`;

async function timed(action: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

const handler = createForgeHandler({
  root: join(work, 'data'),
  auth: { byToken: (candidate) => (candidate === token ? { learnerId: 'bench' } : undefined) },
});
const server = createServer(handler);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://${token}@127.0.0.1:${(server.address() as AddressInfo).port}/git/bench`;

try {
  const source = join(work, 'source');
  mkdirSync(source);
  await git(['init', '-q', '-b', 'main'], source);
  for (let i = 0; i < files; i += 1) writeFileSync(join(source, `data-${i}.bin`), randomBytes(fileSize));
  writeFileSync(join(source, 'README.md'), '# bench\n');
  await git(['add', '-A'], source);
  await git(['commit', '-q', '-m', 'bench'], source);
  // Packed, as a repository that has lived is: pushes reuse the pack rather than compress again.
  await git(['repack', '-adq'], source);

  const pushes: number[] = [];
  for (let i = 0; i < runs; i += 1) pushes.push(await timed(() => git(['push', '-q', `${base}/push-${i}.git`, 'main'], source)));
  const clones: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const target = join(work, `clone-${i}`);
    clones.push(await timed(() => git(['clone', '-q', `${base}/push-0.git`, target], work)));
    rmSync(target, { recursive: true, force: true });
  }
  const partial = await timed(() => git(['clone', '-q', '--filter=blob:none', '--no-checkout', `${base}/push-0.git`, join(work, 'partial')], work));

  const localPushes: number[] = [];
  const localClones: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const bare = join(work, `local-${i}.git`);
    await git(['init', '-q', '--bare', '-b', 'main', bare], work);
    localPushes.push(await timed(() => git(['push', '-q', `file://${bare}`, 'main'], source)));
    const target = join(work, `local-clone-${i}`);
    localClones.push(await timed(() => git(['clone', '-q', `file://${bare}`, target], work)));
    rmSync(target, { recursive: true, force: true });
  }
  console.log(`forge: push 200 MB (incompressible) to a new repository: median ${ms(median(pushes))} (${mbps(median(pushes))}); runs ${pushes.map(ms).join(', ')}`);
  console.log(`forge: clone 200 MB repository: median ${ms(median(clones))} (${mbps(median(clones))}); runs ${clones.map(ms).join(', ')}`);
  console.log(`forge: baseline without HTTP (file://): push median ${ms(median(localPushes))}, clone median ${ms(median(localClones))}`);
  console.log(`forge: partial clone (--filter=blob:none, no checkout) of the 200 MB repository: ${ms(partial)}`);
} finally {
  server.closeAllConnections();
  server.close();
  rmSync(work, { recursive: true, force: true });
}
