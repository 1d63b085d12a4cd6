/**
 * The lab's terminal: xterm.js fed by the lab server over socket.io. Loaded only when a lab runs,
 * so a tutorial page ships none of this until the learner launches.
 */
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { io } from 'socket.io-client';
import '@xterm/xterm/css/xterm.css';
// Shipped with the site (no CDN): a monospace face whose `_` and box glyphs stay inside the cell at
// device-pixel-ratio 1, where the system fallbacks of some machines clip the underscore.
import '@fontsource/cousine/latin-400.css';
import '@fontsource/cousine/latin-700.css';
import type { LabSession } from './lab-session.ts';
import { FocusEscape } from './focus-escape.ts';

export interface TerminalHandlers {
  onError(code: string, message: string): void;
  onExit(): void;
  /** The socket dropped (false) or is back (true): typing is refused while it is down. */
  onConnection(online: boolean): void;
}

export interface LabTerminal {
  /** Types into the shell; false (nothing sent, nothing queued) while the socket is down. */
  send(data: string): boolean;
  focus(): void;
  dispose(): void;
}

/** Acknowledge written output in batches: the server pauses the shell past a watermark. */
const ackBatch = 4096;
/** The largest terminal the server accepts (server/terminal/index.ts): a huge window or a zoomed-out page gets this. */
const maxCols = 300;
const maxRows = 100;
const fontFamily = 'Cousine, ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace';

/** Fits the terminal to its container, never past what the server accepts. */
function fitWithin(terminal: Terminal, fit: FitAddon): void {
  const proposed = fit.proposeDimensions();
  if (!proposed || !Number.isFinite(proposed.cols) || proposed.cols < 2) return; // hidden pane: nothing to measure
  if (proposed.cols > maxCols || proposed.rows > maxRows) {
    const cols = Math.min(maxCols, proposed.cols);
    const rows = Math.min(maxRows, proposed.rows);
    if (cols !== terminal.cols || rows !== terminal.rows) terminal.resize(cols, rows);
  } else fit.fit();
}

/**
 * Copy and paste without stealing Ctrl+C from the shell: Ctrl+Shift+C copies the selection,
 * Ctrl+Shift+V pastes (plain Ctrl+V and the context menu paste through the browser already).
 */
function clipboardKey(terminal: Terminal, event: KeyboardEvent): boolean {
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
}

/**
 * xterm measures its cell once: the face must be there first, or every column is off. Asked for
 * as soon as this module loads (while the lab is still starting), waited for at most 1.5 s.
 */
const fontReady: Promise<unknown> = Promise.race([
  Promise.all([document.fonts.load('14px Cousine'), document.fonts.load('bold 14px Cousine')]),
  new Promise((resolve) => setTimeout(resolve, 1500)),
]).catch(() => undefined);

export async function openTerminal(
  container: HTMLElement,
  session: LabSession,
  name: string,
  label: { name: string; describedBy: string },
  handlers: TerminalHandlers,
): Promise<LabTerminal> {
  await fontReady;
  const terminal = new Terminal({
    cursorBlink: !matchMedia('(prefers-reduced-motion: reduce)').matches,
    fontFamily,
    fontSize: 14,
    lineHeight: 1.2,
    scrollback: 5000,
    // Output is mirrored into an offscreen live region that screen readers read out.
    screenReaderMode: true,
    theme: { background: '#0d1117', foreground: '#e6edf3', cursor: '#e6edf3', selectionBackground: '#3b5070' },
  });
  const fit = new FitAddon();
  terminal.loadAddon(fit);
  terminal.loadAddon(new WebLinksAddon((_event, uri) => window.open(uri, '_blank', 'noopener')));
  // Declared before the socket exists: keys only arrive once the terminal is open.
  let send: (data: string) => boolean = () => false;
  const escape = new FocusEscape(() => void send('\x1b'));
  terminal.attachCustomKeyEventHandler((event) => {
    const decision = escape.decide(event);
    if (decision === 'leave') {
      event.preventDefault();
      moveFocusFrom(container, event.shiftKey ? -1 : 1);
    }
    if (decision !== 'pass') return false;
    return clipboardKey(terminal, event);
  });
  terminal.open(container);
  terminal.textarea?.setAttribute('aria-label', label.name);
  terminal.textarea?.setAttribute('aria-describedby', label.describedBy);
  fitWithin(terminal, fit);

  const socket = io('/terminal', {
    transports: ['websocket', 'polling'],
    // A learner waits on a terminal that dropped: try again soon (socket.io's default backs off to 5 s ± 50 %).
    reconnectionDelay: 500,
    reconnectionDelayMax: 2500,
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
  socket.on('connect', () => {
    terminal.options.disableStdin = false;
    handlers.onConnection(true);
  });
  socket.on('disconnect', () => {
    // socket.io would buffer keystrokes and replay them on reconnect, into whatever the shell is
    // doing by then: refuse them instead, and say so.
    terminal.options.disableStdin = true;
    unacked = 0;
    handlers.onConnection(false);
  });
  socket.on('connect_error', (error: Error & { data?: { code?: string; message?: string } }) => {
    if (error.data?.code) {
      socket.disconnect();
      handlers.onError(error.data.code, error.data.message ?? error.message);
    } else handlers.onConnection(false);
  });

  send = (data: string): boolean => {
    if (!socket.connected) return false;
    socket.emit('input', data);
    return true;
  };
  terminal.onData((data) => void send(data));
  terminal.onResize(({ cols, rows }) => socket.emit('resize', { cols, rows }));
  const resizeObserver = new ResizeObserver(() => fitWithin(terminal, fit));
  resizeObserver.observe(container);

  return {
    send,
    focus: () => terminal.focus(),
    dispose: () => {
      escape.dispose();
      resizeObserver.disconnect();
      // A terminal put away says nothing more: its own disconnect is not the dock's news.
      socket.removeAllListeners();
      socket.disconnect();
      terminal.dispose();
    },
  };
}

/** Moves focus to the next (or previous) focusable element of the page after the terminal. */
function moveFocusFrom(container: HTMLElement, direction: 1 | -1): void {
  const focusable = [...document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])')].filter(
    (element) => !element.closest('[hidden], [inert]') && !(element as HTMLButtonElement).disabled && element.getClientRects().length > 0 && !container.contains(element),
  );
  const after = focusable.filter((element) => container.compareDocumentPosition(element) & (direction === 1 ? Node.DOCUMENT_POSITION_FOLLOWING : Node.DOCUMENT_POSITION_PRECEDING));
  const target = direction === 1 ? after[0] ?? focusable[0] : after.at(-1) ?? focusable.at(-1);
  target?.focus();
}
