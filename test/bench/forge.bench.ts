/**
 * Forge benchmark: push of a 5 MB repository (random, incompressible content; median of 5, each
 * to a new repository) and clone of it (median of 5), through the real handler and real git over
 * HTTP on 127.0.0.1. Prints figures; cleans up.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createForgeHandler } from '../../server/forge/index.ts';

const runs = 5;
const size = 5 * 1024 * 1024;
const token = 'bench-token-0123456789';
const work = mkdtempSync(join(tmpdir(), 'atelier-forge-bench-'));
const home = join(work, 'home');
mkdirSync(home);

function git(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_TERMINAL_PROMPT: '0',
          GIT_AUTHOR_NAME: 'Bench',
          GIT_AUTHOR_EMAIL: 'bench@example.org',
          GIT_COMMITTER_NAME: 'Bench',
          GIT_COMMITTER_EMAIL: 'bench@example.org',
        },
      },
      (error, _stdout, stderr) => (error ? reject(new Error(`git ${args[0]}: ${stderr}`)) : resolve()),
    );
  });
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const ms = (value: number): string => `${value.toFixed(0)} ms`;

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
  writeFileSync(join(source, 'data.bin'), randomBytes(size));
  writeFileSync(join(source, 'README.md'), '# bench\n');
  await git(['add', '-A'], source);
  await git(['commit', '-q', '-m', 'bench'], source);

  const pushes: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    await git(['push', '-q', `${base}/push-${i}.git`, 'main'], source);
    pushes.push(performance.now() - started);
  }
  const clones: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const target = join(work, `clone-${i}`);
    const started = performance.now();
    await git(['clone', '-q', `${base}/push-0.git`, target], work);
    clones.push(performance.now() - started);
    rmSync(target, { recursive: true, force: true });
  }
  // Baseline: the same push and clone without HTTP (git over the local file transport).
  const local: number[] = [];
  const localClones: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const bare = join(work, `local-${i}.git`);
    await git(['init', '-q', '--bare', '-b', 'main', bare], work);
    let started = performance.now();
    await git(['push', '-q', `file://${bare}`, 'main'], source);
    local.push(performance.now() - started);
    started = performance.now();
    await git(['clone', '-q', `file://${bare}`, join(work, `local-clone-${i}`)], work);
    localClones.push(performance.now() - started);
  }
  const mbps = (value: number): string => `${(size / 1024 / 1024 / (value / 1000)).toFixed(1)} MiB/s`;
  console.log(`forge: push 5 MiB (incompressible) to a new repository: median ${ms(median(pushes))} (${mbps(median(pushes))}); runs ${pushes.map(ms).join(', ')}`);
  console.log(`forge: clone 5 MiB repository: median ${ms(median(clones))} (${mbps(median(clones))}); runs ${clones.map(ms).join(', ')}`);
  console.log(`forge: baseline without HTTP (file://): push median ${ms(median(local))}, clone median ${ms(median(localClones))}`);
} finally {
  server.closeAllConnections();
  server.close();
  rmSync(work, { recursive: true, force: true });
}
