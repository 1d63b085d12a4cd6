/**
 * The CGI bridge to `git http-backend`: a clean environment built from the request, CGI headers
 * parsed (Status:), bodies streamed both ways with backpressure. git's stderr never reaches the
 * client. http-backend runs in a process group of its own with everything it starts
 * (upload-pack, receive-pack, pack-objects, index-pack…): when the client goes away, a limit is
 * hit or http-backend ends, the whole group is killed, so no git process outlives its request.
 */
import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { configEnvironment, gitEnvironment, servingSettings } from './git.ts';
import { PushCommandReader, type PushCommands } from './receive-pack.ts';

export interface BackendLimits {
  /** Largest request body (after transfer decoding, before gzip inflation). */
  maxBodyBytes: number;
  /** Longest a request may go without a byte either way (a slow but progressing clone is not cut). */
  idleTimeoutMs: number;
  /** Longest a request may last, progressing or not. */
  maxDurationMs: number;
}

const MiB = 1024 * 1024;

/** A 200 MB repository clones and pushes within them. */
export const defaultBackendLimits: BackendLimits = { maxBodyBytes: 512 * MiB, idleTimeoutMs: 60_000, maxDurationMs: 3_600_000 };

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
  /**
   * A push: the receive-pack result refusing it in git's terms when its body passes
   * maxBodyBytes (see receive-pack.ts). The rest of the body is then read and dropped, up to
   * `drainBytes` more, so that git, which reads the answer only once it has sent everything,
   * gets to print it.
   */
  refusePush?: (commands: PushCommands) => Buffer | Promise<Buffer>;
  /** Default: maxBodyBytes. */
  drainBytes?: number;
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
  return gitEnvironment({ ...configEnvironment(servingSettings), ...env });
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
  const drainBytes = request.refusePush ? (request.drainBytes ?? limits.maxBodyBytes) : 0;
  return new Promise((resolve) => {
    let requestBytes = 0;
    let stderr = '';
    let reason: string | undefined;
    let settled = false;
    /** http-backend's CGI headers were applied to res. */
    let cgiHeaders = false;
    /** A refused push whose remaining body is being read and dropped. */
    let draining = false;
    let requestOver = false;
    /** The refusal of a too-large push was written (or could not be). */
    let answered = false;
    let exitCode: number | null | undefined;
    let pending: Buffer = Buffer.alloc(0);

    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.maxBodyBytes + drainBytes) {
      reason = 'too-large';
      res.writeHead(413, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      res.end('Push too large\n');
      req.resume();
      resolve({ status: 413, ok: false, reason, stderr, requestBytes });
      return;
    }
    const commands = request.refusePush ? new PushCommandReader() : undefined;

    const child = spawn('git', ['http-backend'], {
      cwd: request.projectRoot,
      env: cgiEnvironment(request),
      stdio: ['pipe', 'pipe', 'pipe'],
      // setsid: a process group holding http-backend and all it starts, killed as one.
      detached: true,
    });
    const gitEnded = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is gone already.
      }
    };
    /** Ends git now: the group, and our ends of its pipes (so nothing can keep them open). */
    const endGit = (): void => {
      killGroup();
      req.unpipe(child.stdin);
      child.stdout.unpipe(res); // what git still had in the pipe is not the answer any more
      child.stdin.destroy();
      child.stdout.destroy();
      child.stderr.destroy();
    };

    const settle = (): void => {
      if (settled || exitCode === undefined || (draining && !(requestOver && answered))) return;
      settled = true;
      clearTimeout(idle);
      clearTimeout(deadline);
      const ok = exitCode === 0 && !reason;
      resolve({ status: res.headersSent ? res.statusCode : 0, ok, reason, stderr, requestBytes });
    };

    const over = (): void => {
      requestOver = true;
      settle();
    };

    const fail = (why: string, status: number, message: string): void => {
      if (!reason) reason = why;
      endGit();
      if (draining) {
        req.socket.destroy(); // the answer is the refusal, or nothing
      } else if (!res.headersSent) {
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
        res.end(message);
      } else if (!res.writableEnded) {
        res.destroy();
      }
    };

    /**
     * Over the limit: git's own refusal while nothing of git's answer has left, else a cut. The
     * report is written once git is gone (refusePush may then tidy what it left).
     */
    const tooLarge = (): void => {
      const { refusePush } = request;
      if (!commands || !refusePush || res.headersSent) return fail('too-large', 413, 'Push too large\n');
      reason = 'too-large';
      endGit();
      draining = true;
      req.resume(); // unpipe paused it
      // Once the answer is complete the request leaves the server's bookkeeping: only its socket tells.
      req.socket.once('close', over);
      void gitEnded
        .then(() => refusePush(commands.commands))
        .then(
          (report) => {
            if (res.writableEnded || res.destroyed) return;
            res.statusCode = 200;
            res.setHeader('Content-Type', 'application/x-git-receive-pack-result');
            res.setHeader('Cache-Control', 'no-cache');
            res.end(report);
          },
          () => res.destroy(),
        )
        .finally(() => {
          answered = true;
          settle();
        });
    };

    const stop = (): void => {
      if (draining) req.socket.destroy();
      else fail('timeout', 504, 'Timed out\n');
    };
    const idle = setTimeout(stop, limits.idleTimeoutMs);
    const deadline = setTimeout(stop, limits.maxDurationMs);

    req.on('data', (chunk: Buffer) => {
      requestBytes += chunk.length;
      idle.refresh();
      if (draining) {
        if (requestBytes > limits.maxBodyBytes + drainBytes) req.socket.destroy();
        return;
      }
      commands?.feed(chunk);
      if (requestBytes > limits.maxBodyBytes) tooLarge();
    });
    req.pipe(child.stdin);
    child.stdin.on('error', () => {}); // http-backend may stop reading early (an error it reports)
    req.on('error', () => fail('aborted', 400, ''));
    req.on('end', over);
    req.on('close', over);

    // The client went away before the response was complete: stop git.
    res.on('close', () => {
      if (!res.writableFinished) {
        if (!reason) reason = 'aborted';
        endGit();
      }
    });

    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4096);
    });
    child.stdout.on('data', () => idle.refresh());

    const onHeaderData = (chunk: Buffer): void => {
      pending = Buffer.concat([pending, chunk]);
      const parsed = parseCgiHeaders(pending);
      if (!parsed) {
        if (pending.length > 64 * 1024) fail('backend-failed', 502, 'Bad gateway\n');
        return;
      }
      child.stdout.off('data', onHeaderData);
      if (cgiHeaders || res.headersSent) return;
      cgiHeaders = true;
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
    // Whatever http-backend leaves running when it ends (it never should) ends with it.
    child.on('exit', killGroup);

    child.on('close', (code) => {
      exitCode = code;
      if (!draining) {
        if (!res.headersSent && !res.writableEnded) {
          if (!reason) reason = 'backend-failed';
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end('Internal error\n');
        } else if (!res.writableEnded) {
          // pipe() ends res on stdout's end; a killed child may leave it open.
          if (reason) res.destroy();
          else res.end();
        }
      }
      settle();
    });
  });
}
