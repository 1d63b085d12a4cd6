/**
 * A learner as the browser is one, for tests against a real server: a jar holding the learner
 * cookie (`atelier_learner`), JSON in and out, every response recorded (so a test can search all
 * of them for a value that must never come back); commands run inside a learner's lab as the lab
 * user; the `/learner` socket.io namespace that announces checks passing on their own.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import type { Sessions } from '../../server/labs/sessions.ts';
import type { Driver, ExecResult } from '../../server/drivers/driver.ts';

/** The repository's own labs (datalab-discovery with its seeds and shared files, labs/tools). */
export const repoLabsDir = join(import.meta.dirname, '..', '..', 'labs');
export const learnerCookie = 'atelier_learner';

export interface LearnerInit {
  method?: string;
  /** JSON body. */
  body?: unknown;
  /** Raw body (bytes or text), sent as is; content-type from `headers` or application/octet-stream. */
  raw?: Uint8Array | string;
  lang?: string;
  token?: string;
  headers?: Record<string, string>;
  /** Send this cookie header instead of the jar's (null: none); the jar is left as it is. */
  cookie?: string | null;
}

export interface LearnerResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, the text otherwise. */
  body: any;
  text: string;
  bytes: Buffer;
  /** The learner cookie the response set, if any (`atelier_learner=<value>`). */
  setCookie?: string;
}

export interface RecordedResponse {
  method: string;
  path: string;
  status: number;
  text: string;
}

/** The `atelier_learner=<value>` pair of a Set-Cookie header list, if there is one. */
export function learnerCookieOf(headers: Headers): string | undefined {
  for (const line of headers.getSetCookie()) {
    const pair = line.split(';')[0]!.trim();
    if (pair.startsWith(`${learnerCookie}=`)) return pair;
  }
  return undefined;
}

export class LearnerClient {
  /** Base URL of the server (changes when a test restarts the server on another port). */
  url: string;
  /** `atelier_learner=<signed value>`, once a response set it. */
  cookie: string | undefined;
  /** Every response this client received, in order. */
  readonly responses: RecordedResponse[] = [];

  constructor(url: string, cookie?: string) {
    this.url = url;
    this.cookie = cookie;
  }

  async api(path: string, init: LearnerInit = {}): Promise<LearnerResponse> {
    const headers: Record<string, string> = { ...init.headers };
    const cookie = init.cookie === undefined ? this.cookie : init.cookie;
    if (cookie) headers.cookie = cookie;
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    if (init.lang !== undefined) headers['accept-language'] = init.lang;
    const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
    let body: Uint8Array<ArrayBuffer> | string | undefined;
    if (init.raw !== undefined) {
      body = typeof init.raw === 'string' ? init.raw : new Uint8Array(init.raw);
      if (!hasType) headers['content-type'] = 'application/octet-stream';
    } else if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      if (!hasType) headers['content-type'] = 'application/json';
    }
    const method = init.method ?? 'GET';
    const response = await fetch(this.url + path, { method, headers, body, redirect: 'manual' });
    const bytes = Buffer.from(await response.arrayBuffer());
    const text = bytes.toString('utf8');
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    const setCookie = learnerCookieOf(response.headers);
    if (setCookie && init.cookie === undefined) this.cookie = setCookie;
    this.responses.push({ method, path, status: response.status, text });
    return { status: response.status, headers: response.headers, body: parsed, text, bytes, ...(setCookie ? { setCookie } : {}) };
  }

  /**
   * A "My files" download as the page's link makes it: the site answers 303 to a presigned URL of
   * the S3 origin, followed here (without the cookie: another origin); other answers as they are.
   */
  async download(key: string): Promise<LearnerResponse> {
    const link = await this.api(`/api/me/files/content?key=${encodeURIComponent(key)}`);
    if (link.status !== 303) return link;
    const response = await fetch(link.headers.get('location')!);
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, body: bytes.toString('utf8'), text: bytes.toString('utf8'), bytes };
  }

  /** GET /api/me (creating the learner on first call); throws unless 200. */
  async me(): Promise<{ learner: { id: string }; git: any; s3: any }> {
    const response = await this.api('/api/me');
    if (response.status !== 200) throw new Error(`GET /api/me: ${response.status} ${response.text}`);
    return response.body;
  }

  /** POST /api/labs; throws unless 200/201. */
  async launch(lab: string, extra: Record<string, unknown> = {}): Promise<{ id: string; token: string; status: string; [key: string]: unknown }> {
    const response = await this.api('/api/labs', { method: 'POST', body: { lab, ...extra } });
    if (response.status !== 201 && response.status !== 200) throw new Error(`POST /api/labs: ${response.status} ${response.text}`);
    return response.body;
  }

  /** DELETE /api/labs/:id as the owner (by cookie); throws unless 204. */
  async deleteLab(id: string): Promise<void> {
    const response = await this.api(`/api/labs/${id}`, { method: 'DELETE' });
    if (response.status !== 204) throw new Error(`DELETE /api/labs/${id}: ${response.status} ${response.text}`);
  }
}

/** Runs a bash script inside a running lab, as the lab user (driver.exec), from ~/work. */
export async function inLab(
  server: { sessions: Sessions; driver: Driver },
  labId: string,
  script: string,
  timeoutMs = 30_000,
): Promise<ExecResult> {
  const session = server.sessions.get(labId);
  const handle = session?.handle ?? (await session?.ready);
  if (!handle) throw new Error(`no running lab ${labId}`);
  return server.driver.exec(handle, ['bash', '-c', `cd ~/work && ${script}`], { timeoutMs });
}

/** Like inLab, throwing with the lab's stderr unless the script exits 0. */
export async function inLabOk(server: { sessions: Sessions; driver: Driver }, labId: string, script: string, timeoutMs = 30_000): Promise<ExecResult> {
  const result = await inLab(server, labId, script, timeoutMs);
  if (result.code !== 0) {
    throw new Error(`in the lab, \`${script}\` exited with ${result.code}\nstdout: ${result.stdout.trim()}\nstderr: ${result.stderr.trim()}`);
  }
  return result;
}

export interface PassedEvent {
  lab: string;
  check: string;
}

export interface LearnerEvents {
  socket: Socket;
  /** Every `passed` event received, with the time it arrived (Date.now()). */
  passed: (PassedEvent & { at: number })[];
  /** Resolves with the first `passed` event (received after `since`, default: any) matching. */
  waitFor(match: (event: PassedEvent) => boolean, timeoutMs?: number, since?: number): Promise<PassedEvent & { at: number }>;
  close(): void;
}

/** A socket.io client on `/learner`, authenticated by the learner cookie (sent as the `cookie` header). */
export function connectLearnerEvents(url: string, cookie: string | undefined): Promise<LearnerEvents> {
  const socket = io(`${url}/learner`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(cookie ? { extraHeaders: { cookie } } : {}),
  });
  const passed: LearnerEvents['passed'] = [];
  const waiters = new Set<() => void>();
  socket.on('passed', (event: PassedEvent) => {
    passed.push({ ...event, at: Date.now() });
    for (const waiter of waiters) waiter();
  });
  const events: LearnerEvents = {
    socket,
    passed,
    waitFor: (match, timeoutMs = 3_000, since = 0) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = passed.find((event) => event.at >= since && match(event));
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching 'passed' event within ${timeoutMs} ms; received: ${JSON.stringify(passed)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () => void socket.close(),
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(events));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** git on the host, asynchronously (the server runs in this process), without any user config or prompt. */
export function hostGit(args: string[], options: { cwd?: string; home: string }): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-c', 'credential.helper=', ...args],
      {
        cwd: options.cwd ?? options.home,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: options.home,
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_TERMINAL_PROMPT: '0',
          GIT_ASKPASS: '/bin/false',
          LANG: 'C',
        },
        timeout: 30_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr), timedOut: error?.killed === true });
      },
    );
  });
}
