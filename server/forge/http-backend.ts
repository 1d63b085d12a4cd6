/**
 * The CGI bridge to `git http-backend`: a clean environment built from the request, CGI headers
 * parsed (Status:), bodies streamed both ways with backpressure, the child killed when the client
 * goes away or a limit is hit. git's stderr never reaches the client.
 */
import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gitEnvironment } from './git.ts';

export interface BackendLimits {
  /** Largest request body (after transfer decoding, before gzip inflation); default 100 MiB. */
  maxBodyBytes: number;
  /** Longest request; default 60 s. */
  timeoutMs: number;
}

export const defaultBackendLimits: BackendLimits = { maxBodyBytes: 100 * 1024 * 1024, timeoutMs: 60_000 };

export interface BackendRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** GIT_PROJECT_ROOT: the learner's directory. */
  projectRoot: string;
  /** PATH_INFO below the project root: `/<repo>.git/info/refs`. */
  pathInfo: string;
  query: string;
  /** REMOTE_USER: set for authenticated learners (it enables receive-pack). */
  remoteUser: string;
  limits?: Partial<BackendLimits>;
}

export interface BackendOutcome {
  /** The status sent (0 when the client went away before any). */
  status: number;
  /** git exited 0 and the whole response was written. */
  ok: boolean;
  /** Why it stopped early, if it did: 'aborted' | 'timeout' | 'too-large' | 'backend-failed'. */
  reason?: string;
  /** The end of git's stderr, for the server's log only. */
  stderr: string;
  requestBytes: number;
}

const headerEnd = /\r?\n\r?\n/;

function cgiEnvironment(request: BackendRequest): Record<string, string> {
  const { req } = request;
  const env: Record<string, string> = {
    GIT_PROJECT_ROOT: request.projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: request.pathInfo,
    QUERY_STRING: request.query,
    REMOTE_USER: request.remoteUser,
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
  };
  const contentType = req.headers['content-type'];
  if (contentType) env.CONTENT_TYPE = contentType;
  // Only when present: a chunked push has none, and http-backend then reads to the end.
  const contentLength = req.headers['content-length'];
  if (contentLength !== undefined && /^\d+$/.test(contentLength)) env.CONTENT_LENGTH = contentLength;
  const encoding = req.headers['content-encoding'];
  if (encoding) env.HTTP_CONTENT_ENCODING = encoding;
  const protocol = req.headers['git-protocol'];
  if (typeof protocol === 'string') env.HTTP_GIT_PROTOCOL = protocol;
  return gitEnvironment(env);
}

/** Splits CGI headers from the body start; undefined while the blank line has not arrived. */
export function parseCgiHeaders(buffer: Buffer): { status: number; headers: [string, string][]; rest: Buffer } | undefined {
  const text = buffer.toString('latin1');
  const end = headerEnd.exec(text);
  if (!end) return undefined;
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of text.slice(0, end.index).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') {
      const code = Number.parseInt(value, 10);
      if (code >= 100 && code <= 599) status = code;
    } else if (/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
      headers.push([name, value]);
    }
  }
  return { status, headers, rest: buffer.subarray(end.index + end[0].length) };
}

/** Runs one smart-HTTP request through `git http-backend`. Never rejects. */
export function runHttpBackend(request: BackendRequest): Promise<BackendOutcome> {
  const { req, res } = request;
  const limits = { ...defaultBackendLimits, ...request.limits };
  return new Promise((resolve) => {
    let requestBytes = 0;
    let stderr = '';
    let reason: string | undefined;
    let settled = false;
    let headersSent = false;
    let pending: Buffer = Buffer.alloc(0);

    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.maxBodyBytes) {
      reason = 'too-large';
      res.writeHead(413, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      res.end('Push too large\n');
      req.resume();
      resolve({ status: 413, ok: false, reason, stderr, requestBytes });
      return;
    }

    const child = spawn('git', ['http-backend'], {
      cwd: request.projectRoot,
      env: cgiEnvironment(request),
      stdio: ['pipe', 'pipe', 'pipe'],
    });

    const fail = (why: string, status: number, message: string): void => {
      if (!reason) reason = why;
      child.kill('SIGKILL');
      req.unpipe(child.stdin);
      if (!headersSent && !res.headersSent) {
        headersSent = true;
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
        res.end(message);
      } else if (!res.writableEnded) {
        res.destroy();
      }
    };

    const timer = setTimeout(() => fail('timeout', 504, 'Timed out\n'), limits.timeoutMs);

    req.on('data', (chunk: Buffer) => {
      requestBytes += chunk.length;
      if (requestBytes > limits.maxBodyBytes) fail('too-large', 413, 'Push too large\n');
    });
    req.pipe(child.stdin);
    child.stdin.on('error', () => {}); // http-backend may stop reading early (an error it reports)
    req.on('error', () => fail('aborted', 400, ''));

    // The client went away before the response was complete: stop git.
    res.on('close', () => {
      if (!res.writableFinished) {
        if (!reason) reason = 'aborted';
        child.kill('SIGKILL');
      }
    });

    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4096);
    });

    const onHeaderData = (chunk: Buffer): void => {
      pending = Buffer.concat([pending, chunk]);
      const parsed = parseCgiHeaders(pending);
      if (!parsed) {
        if (pending.length > 64 * 1024) fail('backend-failed', 502, 'Bad gateway\n');
        return;
      }
      child.stdout.off('data', onHeaderData);
      if (headersSent || res.headersSent) return;
      headersSent = true;
      res.statusCode = parsed.status;
      for (const [name, value] of parsed.headers) res.appendHeader(name, value);
      if (parsed.rest.length > 0) res.write(parsed.rest);
      child.stdout.pipe(res);
    };
    child.stdout.on('data', onHeaderData);

    child.on('error', (error) => {
      stderr += String(error);
      fail('backend-failed', 500, 'Internal error\n');
    });

    child.on('close', (code) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      if (!headersSent && !res.headersSent) {
        headersSent = true;
        if (!reason) reason = 'backend-failed';
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Internal error\n');
      } else if (!res.writableEnded) {
        // pipe() ends res on stdout's end; a killed child may leave it open.
        if (reason) res.destroy();
        else res.end();
      }
      const ok = code === 0 && !reason;
      resolve({ status: res.headersSent ? res.statusCode : 0, ok, reason, stderr, requestBytes });
    });
  });
}
