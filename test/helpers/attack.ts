/**
 * Shared tools of the attack suites (test/attack/*.test.ts): a real server with its own driver
 * (its own uid range and cgroup name, so suites running side by side never meet), browser
 * sessions with their own learner cookie, raw HTTP requests that no client normalises, host-side
 * process scans, and the health probe every attack ends with.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path, { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { loadLabs } from '../../server/labs/registry.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { makeLabsDir, startTestServer, type ApiInit, type TestServer } from './server.ts';
import { connectTerminal, type TerminalClient } from './terminal.ts';
import { hostPidsOfUid } from './driver.ts';

export { hostPidsOfUid };

export const isRoot = process.getuid?.() === 0;

v8.setFlagsFromString('--expose-gc');
/** A full garbage collection, so that memory measurements see what is kept, not litter. */
export const gc = vm.runInNewContext('gc') as () => void;

export interface AttackServer extends TestServer {
  driver: LocalDriver;
  labsDir: string;
}

/**
 * A test server whose labs dir holds test-lab plus `labs` (id → lab.yaml), and `files`
 * (paths relative to the labs dir → content) such as seed repositories.
 */
export async function startAttackServer(options: {
  labs: Record<string, string>;
  files?: Record<string, string>;
  /** First uid of the suite's block of 400 × 64 uids (one slice of 64 per process). */
  uidBase: number;
  cgroupName: string;
}): Promise<AttackServer> {
  const labsDir = makeLabsDir(options.labs);
  for (const [file, content] of Object.entries(options.files ?? {})) {
    mkdirSync(join(labsDir, file, '..'), { recursive: true });
    writeFileSync(join(labsDir, file), content);
  }
  // Its own uid range per process: the same suite may run twice at once (two checkouts, a full
  // `npm test` beside a single file), and no run may touch the other's labs.
  const uidBase = options.uidBase + (process.pid % 400) * 64;
  const driver = new LocalDriver({ uidBase, uidCount: 64, cgroupName: options.cgroupName });
  const server = await startTestServer({ driver, labs: loadLabs(labsDir), config: { labsDir }, reapInterval: 0 });
  return {
    ...server,
    driver,
    labsDir,
    cleanup: async () => {
      await server.cleanup();
      await driver.close();
      rmSync(labsDir, { recursive: true, force: true });
    },
  };
}

/** One browser: its own learner cookie (set by the server on the first call that makes a learner). */
export class Browser {
  readonly server: TestServer;
  cookie: string | undefined;

  constructor(server: TestServer) {
    this.server = server;
  }

  async api(path: string, init: ApiInit = {}): Promise<{ status: number; headers: Headers; body: any }> {
    const headers = { ...init.headers };
    if (this.cookie) headers.cookie = this.cookie;
    const response = await this.server.api(path, { ...init, headers });
    const set = response.headers.get('set-cookie');
    if (set) {
      const pair = /^(atelier_learner=[^;]*)/.exec(set)?.[1];
      if (pair) this.cookie = pair;
    }
    return response;
  }

  /** GET /api/me (creates the learner on first call). */
  async me(): Promise<{ learner: { id: string }; s3: { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string; sessionToken: string } }> {
    const response = await this.api('/api/me');
    assert.equal(response.status, 200);
    return response.body;
  }

  async launch(lab: string): Promise<{ id: string; token: string }> {
    const response = await this.api('/api/labs', { method: 'POST', body: { lab } });
    assert.ok(response.status === 201 || response.status === 200, `launch ${lab}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }
}

/** An HTTP request sent byte for byte as given (no URL normalisation, any method and headers). */
export function rawRequest(
  url: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: hostname, port, method: options.method ?? 'GET', path: options.path, headers: options.headers ?? {} }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        // Never hold more than 1 MiB of an answer: a file leaking in full is already a failure.
        if (size < 1024 * 1024) chunks.push(chunk);
        size += chunk.length;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.setTimeout(10_000, () => request.destroy(new Error(`timeout: ${options.path}`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

/** An API error as the contract says: JSON `{ error: { code, message } }`, no stack, no host path. */
export function assertCleanError(response: { status: number; body: unknown; headers?: Headers | http.IncomingHttpHeaders }, allowed: number[], what: string): void {
  assert.ok(allowed.includes(response.status), `${what}: status ${response.status} not in ${allowed.join('/')}: ${JSON.stringify(response.body).slice(0, 300)}`);
  const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
  const body = typeof response.body === 'string' ? (() => {
    try {
      return JSON.parse(response.body as string) as unknown;
    } catch {
      return undefined;
    }
  })() : response.body;
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  assert.ok(error && typeof error.code === 'string' && typeof error.message === 'string', `${what}: not a JSON API error: ${text.slice(0, 300)}`);
  assertNoInternals(text, what);
}

const projectRoot = path.resolve(import.meta.dirname, '../..');

/**
 * No stack frame, no path of the server's own files (project, data, labs or site dirs, modules)
 * and no host file content in a text sent to a client. (Paths the attacker sent may come back
 * quoted in a message: those are the attacker's own words, not a leak.)
 */
export function assertNoInternals(text: string, what: string): void {
  assert.doesNotMatch(text, /\bat (async )?[\w.<>$]+ \(|\n\s+at |file:\/\/\//, `${what}: stack trace in the answer: ${text.slice(0, 300)}`);
  assert.ok(!text.includes(projectRoot), `${what}: the project's path in the answer: ${text.slice(0, 300)}`);
  assert.doesNotMatch(text, /node_modules|\.ts:\d+|atelier-(data|labs|site)-|learners\.db|\/sys\/fs\/cgroup/, `${what}: server internals in the answer: ${text.slice(0, 300)}`);
  assert.doesNotMatch(text, /root:x:0:0|root:[*!]:/, `${what}: host file content in the answer`);
}


/** The host uid of a running lab (the local driver's handle knows it). */
export function labUid(server: TestServer, labId: string): number {
  const uid = (server.sessions.get(labId)?.handle?.state as { uid?: number } | undefined)?.uid;
  assert.equal(typeof uid, 'number', `lab ${labId} has no host uid`);
  return uid as number;
}

/** Waits until no process of `uid` remains (bounded). */
export async function waitNoProcesses(uid: number, timeoutMs = 6_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = hostPidsOfUid(uid);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50);
    left = hostPidsOfUid(uid);
  }
  return left;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `command` in the terminal and resolves with the time until `marker` came back (ms). */
export async function roundTrip(terminal: TerminalClient, n: number, timeoutMs = 2_000): Promise<number> {
  const from = terminal.output().length;
  const started = performance.now();
  // The pty echoes `rt-$((n+0))`; only the shell prints `rt-<n>`.
  terminal.type(`echo rt-$((${n}+0))\r`);
  await terminal.waitFor(new RegExp(`rt-${n}\\r?\\n`), timeoutMs, from);
  return performance.now() - started;
}

/**
 * The server is healthy: /healthz answers, and a fresh lab (new learner) launches, runs
 * `echo ok` in a terminal, and is deleted with no process left behind.
 */
export async function assertHealthy(server: TestServer, lab = 'test-lab'): Promise<void> {
  const health = await server.api('/healthz');
  assert.equal(health.status, 200, 'healthz');
  assert.equal(health.body.status, 'ok');
  const browser = new Browser(server);
  const { id, token } = await browser.launch(lab);
  const uid = labUid(server, id);
  const terminal = await connectTerminal(server.url, { lab: id, token, terminal: 'health' });
  try {
    await terminal.screen;
    terminal.type('echo o""k-$((40+2))\r');
    await terminal.waitFor(/ok-42\r?\n/, 5_000);
  } finally {
    terminal.close();
  }
  const deleted = await browser.api(`/api/labs/${id}`, { method: 'DELETE', token });
  assert.equal(deleted.status, 204);
  assert.deepEqual(await waitNoProcesses(uid), [], 'the health lab left processes behind');
}

/** A socket.io client on any namespace with any headers; resolves connected or rejects refused. */
export function connectSocket(url: string, namespace: string, options: { auth?: Record<string, unknown>; headers?: Record<string, string> } = {}): Promise<Socket> {
  const socket = io(`${url}${namespace}`, {
    auth: options.auth ?? {},
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 5_000,
    extraHeaders: options.headers ?? {},
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Resolves with the refusal's error (the connection must be refused). */
export async function refused(connecting: Promise<Socket>, what: string): Promise<Error & { data?: { code?: string } }> {
  return connecting.then(
    (socket) => {
      socket.close();
      assert.fail(`${what}: connection accepted`);
    },
    (error: Error & { data?: { code?: string } }) => error,
  );
}
