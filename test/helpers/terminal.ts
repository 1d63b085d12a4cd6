/** A terminal client as the browser runs it: socket.io-client on /terminal, acking what it reads. */
import { io, type Socket } from 'socket.io-client';

export interface TerminalAuth {
  lab: string;
  token: string;
  terminal?: string;
  cols?: number;
  rows?: number;
  lang?: string;
}

export interface TerminalClient {
  socket: Socket;
  /** The `screen` event's payload (first event after connecting). */
  screen: Promise<string>;
  /** Everything received through `output` so far. */
  output(): string;
  /** Resolves with the output once it matches `pattern` (looking at output after `from`). */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  type(text: string): void;
  exited: Promise<{ code: number | null; reason?: string }>;
  close(): void;
}

export function connectTerminal(url: string, auth: TerminalAuth, options: { ack?: boolean } = {}): Promise<TerminalClient> {
  const socket = io(`${url}/terminal`, {
    auth: { cols: 80, rows: 24, ...auth },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  let received = '';
  const waiters = new Set<() => void>();
  let resolveScreen!: (screen: string) => void;
  const screen = new Promise<string>((resolve) => (resolveScreen = resolve));
  let resolveExit!: (info: { code: number | null; reason?: string }) => void;
  const exited = new Promise<{ code: number | null; reason?: string }>((resolve) => (resolveExit = resolve));
  socket.on('screen', (value: string) => resolveScreen(value));
  socket.on('output', (data: string) => {
    received += data;
    if (options.ack !== false) socket.emit('ack', data.length);
    for (const waiter of waiters) waiter();
  });
  socket.on('exit', (info: { code: number | null; reason?: string }) => resolveExit(info));

  const client: TerminalClient = {
    socket,
    screen,
    output: () => received,
    waitFor: (pattern, timeoutMs = 5_000, from = 0) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(received.slice(from))) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(received);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output so far: ${JSON.stringify(received.slice(-500))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    type: (text) => void socket.emit('input', text),
    exited,
    close: () => void socket.close(),
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(client));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}
