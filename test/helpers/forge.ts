/**
 * What the forge tests share: the real handler on a real HTTP server (127.0.0.1:0), git clients
 * as child processes (asynchronous: the server runs in the test's process), raw smart-HTTP
 * requests, and the host's view of the git processes working under a forge root.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createForgeHandler, type ForgeHandlerOptions } from '../../server/forge/index.ts';

export interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestForge {
  server: Server;
  port: number;
  /** `127.0.0.1:<port>` */
  host: string;
  close(): void;
}

/** A forge whose learners are `tokens[token]`, served alone on a fresh port. */
export async function startForge(tokens: Record<string, string>, options: Omit<ForgeHandlerOptions, 'auth'>): Promise<TestForge> {
  const handler = createForgeHandler({ ...options, auth: { byToken: (token) => (tokens[token] ? { learnerId: tokens[token] } : undefined) } });
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    host: `127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** git in a clean environment: no user config, no prompt, a fixed identity; `env` adds or overrides. */
export function runGit(args: string[], cwd: string, home: string, env: Record<string, string> = {}): Promise<GitRun> {
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      {
        cwd,
        maxBuffer: 64 * 1024 * 1024,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_TERMINAL_PROMPT: '0',
          GIT_AUTHOR_NAME: 'Student',
          GIT_AUTHOR_EMAIL: 'student@example.org',
          GIT_COMMITTER_NAME: 'Student',
          GIT_COMMITTER_EMAIL: 'student@example.org',
          LC_ALL: 'C',
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A fresh working repository under `parent` with the files given, committed on `branch`. */
export async function workingRepo(parent: string, home: string, label: string, files: Record<string, string | Buffer>, branch = 'main'): Promise<string> {
  const dir = mkdtempSync(join(parent, `${label}-`));
  const must = async (args: string[]): Promise<void> => {
    const result = await runGit(args, dir, home);
    if (result.code !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  };
  await must(['init', '-q', '-b', branch]);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  await must(['add', '-A']);
  await must(['commit', '-q', '-m', `${label}: first commit`]);
  return dir;
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** One pkt-line of git's protocol. */
export function pkt(line: string): string {
  return (Buffer.byteLength(line) + 4).toString(16).padStart(4, '0') + line;
}

/** A raw request (path sent as given) whose response headers resolve the promise; the body is left unread. */
export function openRequest(port: number, method: string, path: string, headers: Record<string, string>): { req: ClientRequest; response: Promise<IncomingMessage> } {
  const req = request({ host: '127.0.0.1', port, method, path, headers });
  req.on('error', () => {});
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  response.catch(() => {}); // a request the test destroys before its answer: not an unhandled rejection
  return { req, response };
}

/** A raw request read to its end. */
export async function rawRequest(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const { req, response } = openRequest(port, method, path, headers);
  req.end(body);
  const res = await response;
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
}

export interface GitProcess {
  pid: number;
  command: string;
}

/**
 * Live git processes working under `root` (their current directory is inside it), read from /proc
 * independently of the forge: http-backend, upload-pack, receive-pack, pack-objects, index-pack…
 */
export function gitProcessesUnder(root: string): GitProcess[] {
  const found: GitProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (/State:\s+[ZX]/.test(status)) continue;
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd !== root && !cwd.startsWith(`${root}/`)) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      if (/\bgit\b|git-/.test(command)) found.push({ pid: Number(entry), command });
    } catch {
      // The process ended while we read it.
    }
  }
  return found;
}

/** Polls `condition` every 50 ms until it holds or `ms` pass; returns its last value. */
export async function waitFor<T>(condition: () => T, ms: number): Promise<T> {
  const started = Date.now();
  let value = condition();
  while (!value && Date.now() - started < ms) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = condition();
  }
  return value;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
