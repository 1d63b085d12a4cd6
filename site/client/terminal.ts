/**
 * The lab's terminal: xterm.js fed by the lab server over socket.io. Loaded only when a lab runs,
 * so a tutorial page ships none of this until the learner launches.
 */
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { io } from 'socket.io-client';
import '@xterm/xterm/css/xterm.css';
import type { LabSession } from './lab-session.ts';

export interface TerminalHandlers {
  onError(code: string, message: string): void;
  onExit(): void;
}

export interface LabTerminal {
  send(data: string): void;
  focus(): void;
  dispose(): void;
}

/** Acknowledge written output in batches: the server pauses the shell past a watermark. */
const ackBatch = 4096;
/** The largest terminal the server accepts (server/terminal/index.ts): a huge window or a zoomed-out page gets this. */
const maxCols = 300;
const maxRows = 100;

/** Fits the terminal to its container, never past what the server accepts. */
function fitWithin(terminal: Terminal, fit: FitAddon): void {
  const proposed = fit.proposeDimensions();
  if (proposed && (proposed.cols > maxCols || proposed.rows > maxRows)) {
    const cols = Math.min(maxCols, proposed.cols);
    const rows = Math.min(maxRows, proposed.rows);
    if (cols !== terminal.cols || rows !== terminal.rows) terminal.resize(cols, rows);
  } else fit.fit();
}

/**
 * Copy and paste without stealing Ctrl+C from the shell: Ctrl+Shift+C copies the selection,
 * Ctrl+Shift+V pastes (plain Ctrl+V and the context menu paste through the browser already).
 */
function clipboardKeys(terminal: Terminal): (event: KeyboardEvent) => boolean {
  return (event) => {
    if (event.type !== 'keydown' || !event.ctrlKey || !event.shiftKey) return true;
    if (event.code === 'KeyC' && terminal.hasSelection()) {
      void navigator.clipboard?.writeText(terminal.getSelection());
      return false;
    }
    if (event.code === 'KeyV') {
      void navigator.clipboard?.readText().then((text) => terminal.paste(text));
      return false;
    }
    return true;
  };
}

export function openTerminal(
  container: HTMLElement,
  session: LabSession,
  name: string,
  label: string,
  handlers: TerminalHandlers,
): LabTerminal {
  const terminal = new Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
    fontSize: 14,
    scrollback: 5000,
    screenReaderMode: false,
  });
  const fit = new FitAddon();
  terminal.loadAddon(fit);
  terminal.loadAddon(new WebLinksAddon((_event, uri) => window.open(uri, '_blank', 'noopener')));
  terminal.attachCustomKeyEventHandler(clipboardKeys(terminal));
  terminal.open(container);
  terminal.textarea?.setAttribute('aria-label', label);
  fitWithin(terminal, fit);

  const socket = io('/terminal', {
    transports: ['websocket', 'polling'],
    auth: { lab: session.id, token: session.token, terminal: name, cols: terminal.cols, rows: terminal.rows, lang: document.documentElement.lang },
  });

  let unacked = 0;
  const written = (length: number) => {
    unacked += length;
    if (unacked >= ackBatch) {
      socket.emit('ack', unacked);
      unacked = 0;
    }
  };
  const flushAck = () => {
    if (unacked > 0) socket.emit('ack', unacked);
    unacked = 0;
  };
  socket.on('screen', (screen: string) => {
    terminal.reset();
    terminal.write(screen, flushAck);
  });
  socket.on('output', (data: string) => {
    terminal.write(data, () => {
      written(data.length);
      // A quiet shell still needs its last bytes acknowledged.
      queueMicrotask(flushAck);
    });
  });
  socket.on('exit', () => handlers.onExit());
  socket.on('connect_error', (error: Error & { data?: { code?: string; message?: string } }) => {
    if (error.data?.code) {
      socket.disconnect();
      handlers.onError(error.data.code, error.data.message ?? error.message);
    }
  });

  terminal.onData((data) => socket.emit('input', data));
  terminal.onResize(({ cols, rows }) => socket.emit('resize', { cols, rows }));
  const resizeObserver = new ResizeObserver(() => fitWithin(terminal, fit));
  resizeObserver.observe(container);

  return {
    send: (data) => socket.emit('input', data),
    focus: () => terminal.focus(),
    dispose: () => {
      resizeObserver.disconnect();
      socket.disconnect();
      terminal.dispose();
    },
  };
}
