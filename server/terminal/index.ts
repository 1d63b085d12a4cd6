/**
 * The terminal namespace: socket.io `/terminal` on the lab server's own HTTP server.
 *
 * Handshake `auth`: { lab, token, terminal?: /^[a-z0-9-]{1,32}$/ (default "main"), cols, rows, lang? }.
 * Refused connections get an Error whose `data` is { code, message }
 * (code: bad_request | unauthorized | forbidden | lab_gone | lab_failed | too_many_terminals).
 * server → client: `screen` (serialized screen, first), `output` (string), `exit` ({ code, reason? })
 * client → server: `input` (string ≤ 16 KiB), `resize` ({ cols 2..300, rows 2..100 }),
 *                  `ack` (characters written since the last ack)
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { z } from 'zod';
import type { Sessions } from '../labs/sessions.ts';
import { isLanguage, translator, type Language } from '../../i18n/index.ts';
import { isSameOrigin } from '../http/auth.ts';
import { languageOf } from '../http/language.ts';
import type { ErrorCode } from '../http/errors.ts';
import { terminalMirrorFailures, terminalMirrorSeconds, terminalMirrorThrottled } from '../metrics.ts';
import { MirrorPool } from './mirror-pool.ts';
import { Shells, TooManyShells, maxShellsPerLab } from './shells.ts';
import type { ExitInfo, Shell, Viewer } from './shell.ts';

/** Characters of one `input` message; larger ones are ignored. */
export const maxInput = 16 * 1024;
/** Sockets watching one shell (a learner's tabs and windows), each getting a copy of its output. */
export const maxViewersPerShell = 16;

/**
 * The largest terminal a screen shows: a 4K monitor at 1:1 and the page's 14 px font is ~450
 * columns wide, but the terminal sits in a page column and high-density screens scale by 2, so
 * 300 × 100 is beyond any terminal a person reads. Mirror work per sequence grows with the area
 * (a DECALN fill, an RIS reset), so every cell past that is only an attacker's.
 */
export const maxCols = 300;
export const maxRows = 100;

export const terminalSize = z.object({
  cols: z.number().int().min(2).max(maxCols),
  rows: z.number().int().min(2).max(maxRows),
});

export const handshake = z.object({
  lab: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  token: z.string().min(1).max(256),
  terminal: z.string().regex(/^[a-z0-9-]{1,32}$/).default('main'),
  cols: terminalSize.shape.cols,
  rows: terminalSize.shape.rows,
  lang: z.enum(['fr', 'en']).optional(),
});
/** Made once: a schema derived per connection is compiled anew by zod each time (seen in the launch burst's profile). */
const handshakeSize = handshake.pick({ cols: true, rows: true });

interface SocketData {
  shell: Shell;
  labSessionId: string;
}

export interface ServerToClientEvents {
  screen: (serialized: string) => void;
  output: (data: string) => void;
  exit: (info: ExitInfo) => void;
}

/** Parameters are unknown: a client may send anything, everything is checked. */
export interface ClientToServerEvents {
  input: (data: unknown) => void;
  resize: (size: unknown) => void;
  ack: (characters: unknown) => void;
}

type TerminalSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

class RefusedError extends Error {
  readonly data: { code: ErrorCode; message: string };
  constructor(code: ErrorCode, language: Language, params: Record<string, string | number> = {}) {
    const message = translator(language)(`errors.${code}`, params);
    super(message);
    this.data = { code, message };
  }
}

export interface TerminalServerOptions {
  trustProxy?: boolean;
  onError?: (error: unknown, context: string) => void;
}

export interface TerminalServer {
  io: Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
  stats(): { shells: number; sockets: number };
  close(): Promise<void>;
}

function requestHost(request: IncomingMessage, trustProxy: boolean): string | undefined {
  const forwarded = trustProxy ? request.headers['x-forwarded-host'] : undefined;
  const host = typeof forwarded === 'string' ? forwarded.split(',')[0]?.trim() : request.headers.host;
  return host;
}

export function attachTerminals(server: HttpServer, sessions: Sessions, options: TerminalServerOptions = {}): TerminalServer {
  const onError = options.onError ?? (() => {});
  const mirrors = new MirrorPool({
    work: (busyMs, throttled) => {
      terminalMirrorSeconds.inc(busyMs / 1000);
      terminalMirrorThrottled.inc(throttled);
    },
    error: (error) => {
      terminalMirrorFailures.inc();
      onError(error, 'terminal mirror worker');
    },
  });
  const shells = new Shells(sessions.driver, mirrors);
  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(server, {
    path: '/socket.io',
    serveClient: false,
    // input is at most 16 KiB of characters; leave room for framing and multi-byte UTF-8.
    maxHttpBufferSize: 128 * 1024,
    // A token must not be usable from another site's page: refuse cross-origin handshakes.
    allowRequest: (request, callback) => {
      const origin = request.headers.origin;
      callback(null, origin === undefined || isSameOrigin(origin, requestHost(request, options.trustProxy ?? false)));
    },
  });
  // Only /terminal exists; the main namespace refuses everyone.
  io.of('/').use((_socket, next) => next(new Error('not found')));

  const namespace = io.of('/terminal');

  namespace.use((socket: TerminalSocket, next) => {
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    const language: Language = isLanguage(auth.lang) ? auth.lang : languageOf(socket.handshake.headers);
    if (typeof auth.token !== 'string' || auth.token === '') return next(new RefusedError('unauthorized', language));
    const parsed = handshake.safeParse(auth, { error: z.locales[language]().localeError });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.map(String).join('.') || 'auth';
      return next(new RefusedError('bad_request', language, { field, problem: issue.message }));
    }
    const { lab, token, terminal, cols, rows } = parsed.data;
    const authorization = sessions.authorize(lab, token);
    if (!authorization.ok) return next(new RefusedError(authorization.code, language));
    const session = authorization.session;
    session.ready.then(
      (handle) => {
        if (session.status !== 'running') throw new RefusedError('lab_gone', language);
        sessions.touch(session.id);
        return shells.open(session.id, handle, terminal, { cols, rows }, session.learnerId ?? session.id);
      },
      () => {
        throw new RefusedError('lab_gone', language);
      },
    ).then(
      (shell) => {
        // Every viewer costs the shell a copy of its output: a page may open a few, not hundreds.
        if (shell.viewers >= maxViewersPerShell) return next(new RefusedError('too_many_terminals', language, { max: maxViewersPerShell }));
        socket.data.shell = shell;
        socket.data.labSessionId = session.id;
        next();
      },
      (error: unknown) => {
        if (error instanceof RefusedError) return next(error);
        if (error instanceof TooManyShells) return next(new RefusedError('too_many_terminals', language, { max: maxShellsPerLab }));
        onError(error, `attach ${session.id}/${terminal}`);
        next(new RefusedError('internal', language));
      },
    );
  });

  namespace.on('connection', (socket: TerminalSocket) => {
    const { shell, labSessionId } = socket.data;
    const size = handshakeSize.parse(socket.handshake.auth);
    shell.resize(size);
    const viewer: Viewer = {
      screen: (serialized) => void socket.emit('screen', serialized),
      output: (data) => void socket.emit('output', data),
      exit: (info) => {
        socket.emit('exit', info);
        // Let the exit event leave before the server closes the connection.
        setImmediate(() => socket.disconnect(true));
      },
    };

    socket.on('input', (data: unknown) => {
      if (typeof data !== 'string' || data.length > maxInput) return;
      sessions.touch(labSessionId);
      shell.input(data);
    });
    socket.on('resize', (value: unknown) => {
      const parsed = terminalSize.safeParse(value);
      if (parsed.success) shell.resize(parsed.data);
    });
    socket.on('ack', (characters: unknown) => {
      if (typeof characters === 'number' && Number.isFinite(characters) && characters > 0) shell.ack(viewer, characters);
    });
    socket.on('disconnect', () => shell.detach(viewer));

    shell.attach(viewer);
  });

  const onStopped = (session: { id: string }): void => shells.closeLab(session.id);
  sessions.on('stopped', onStopped);

  // An open terminal is a lab in use, even when nobody types: keep the idle reaper away from it.
  const keepAlive = setInterval(() => {
    for (const socket of namespace.sockets.values()) {
      const id = (socket.data as Partial<SocketData>).labSessionId;
      if (id) sessions.touch(id);
    }
  }, 60_000);
  keepAlive.unref();

  return {
    io,
    stats: () => ({ shells: shells.count(), sockets: namespace.sockets.size }),
    close: async () => {
      sessions.off('stopped', onStopped);
      clearInterval(keepAlive);
      namespace.disconnectSockets(true);
      // Not io.close(): that would close the HTTP server too, which fastify closes itself.
      io.engine.close();
      await mirrors.close();
    },
  };
}
