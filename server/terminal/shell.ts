/**
 * One lab shell: a pty from the driver, mirrored into a headless xterm so that a reload or a
 * dropped connection can replay the screen, and streamed to every attached viewer.
 *
 * Flow control follows xterm.js's watermark scheme (as wetty and ttyd do): each viewer acks the
 * characters it has written to its terminal; the headless mirror "acks" through write callbacks.
 * When any consumer lags more than HIGH characters the pty is paused, and it resumes once every
 * consumer is back under LOW. So a `yes` flood costs bounded memory here and in the browser.
 */
import type { IPty } from 'node-pty';
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';
import type { TerminalSize } from '../drivers/driver.ts';
import { terminalBytes } from '../metrics.ts';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;

export const highWatermark = 128 * 1024;
export const lowWatermark = 16 * 1024;
export const scrollback = 1000;
/** Characters handed to the screen mirror per parsing step. */
export const mirrorSlice = 16 * 1024;

export interface ExitInfo {
  /** The shell's exit status; null when it did not exit by itself (its lab stopped). */
  code: number | null;
  reason?: 'lab_gone';
}

/** Whatever shows the shell (a socket): the shell only needs these three. */
export interface Viewer {
  screen(serialized: string): void;
  output(data: string): void;
  exit(info: ExitInfo): void;
}

interface Attachment {
  viewer: Viewer;
  /** Characters sent and not yet acked. */
  unacked: number;
  /** Output that arrived while the screen snapshot was being taken. */
  backlog: string[] | undefined;
}

export class Shell {
  readonly #pty: IPty;
  readonly #mirror: InstanceType<typeof Terminal>;
  readonly #serializer: InstanceType<typeof SerializeAddon>;
  readonly #attachments = new Map<Viewer, Attachment>();
  /** Characters written to the mirror and not yet parsed. */
  #mirrorPending = 0;
  /** Output not yet handed to the mirror, fed a slice at a time (see #feedMirror). */
  readonly #mirrorQueue: string[] = [];
  #mirrorBusy = false;
  readonly #whenMirrorIdle: (() => void)[] = [];
  #paused = false;
  #closed = false;
  readonly #onClosed: () => void;

  constructor(pty: IPty, size: TerminalSize, onClosed: () => void) {
    this.#pty = pty;
    this.#onClosed = onClosed;
    this.#mirror = new Terminal({ cols: size.cols, rows: size.rows, scrollback, allowProposedApi: true });
    this.#serializer = new SerializeAddon();
    this.#mirror.loadAddon(this.#serializer);
    this.#boundRepeats();
    pty.onData((data) => this.#output(data));
    pty.onExit(({ exitCode }) => this.#close({ code: exitCode }));
  }

  /**
   * The mirror parses whatever a learner's program prints, in the server's process. xterm.js
   * accepts counts up to 2^31 for REP (CSI n b: allocates n cells) and for scroll/insert/delete
   * lines (CSI n S/T/L/M: loops n times), so one `printf` could stall or crash the server.
   * Past what the screen can show, a larger count changes nothing on screen: cap it there.
   */
  #boundRepeats(): void {
    const cap = (final: string, limit: () => number) =>
      this.#mirror.parser.registerCsiHandler({ final }, (params) => {
        const count = typeof params[0] === 'number' ? params[0] : 0;
        if (count <= limit()) return false;
        this.#mirror.write(`\x1b[${limit()}${final}`);
        return true;
      });
    cap('b', () => this.#mirror.cols * this.#mirror.rows);
    for (const final of ['S', 'T', 'L', 'M']) cap(final, () => this.#mirror.rows);
  }

  get viewers(): number {
    return this.#attachments.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Adds a viewer: it gets the current screen first, then the live output. */
  attach(viewer: Viewer): void {
    if (this.#closed) {
      viewer.exit({ code: null });
      return;
    }
    const attachment: Attachment = { viewer, unacked: 0, backlog: [] };
    this.#attachments.set(viewer, attachment);
    // The callback runs once the mirror has parsed everything written so far: the snapshot then
    // matches the stream exactly, and what came since is in the backlog.
    this.#afterMirror(() => {
      if (this.#attachments.get(viewer) !== attachment) return;
      const screen = this.#serializer.serialize({ scrollback });
      viewer.screen(screen);
      const backlog = attachment.backlog ?? [];
      attachment.backlog = undefined;
      for (const data of backlog) this.#send(attachment, data);
      this.#updateFlow();
    });
  }

  detach(viewer: Viewer): void {
    if (this.#attachments.delete(viewer)) this.#updateFlow();
  }

  /** The viewer finished writing `characters` more characters. */
  ack(viewer: Viewer, characters: number): void {
    const attachment = this.#attachments.get(viewer);
    if (!attachment) return;
    attachment.unacked = Math.max(0, attachment.unacked - characters);
    this.#updateFlow();
  }

  input(data: string): void {
    if (this.#closed) return;
    terminalBytes.inc({ direction: 'input' }, data.length);
    this.#pty.write(data);
  }

  resize(size: TerminalSize): void {
    if (this.#closed) return;
    if (size.cols === this.#mirror.cols && size.rows === this.#mirror.rows) return;
    try {
      this.#pty.resize(size.cols, size.rows);
      this.#mirror.resize(size.cols, size.rows);
    } catch {
      // The pty went away between the check and the call: its exit event follows.
    }
  }

  /** Ends the shell because its lab stopped: viewers get `exit` with reason lab_gone. */
  kill(): void {
    if (this.#closed) return;
    this.#close({ code: null, reason: 'lab_gone' });
    try {
      this.#pty.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }

  #output(data: string): void {
    if (this.#closed) return;
    terminalBytes.inc({ direction: 'output' }, data.length);
    this.#mirrorPending += data.length;
    this.#mirrorQueue.push(data);
    if (!this.#mirrorBusy) this.#feedMirror();
    for (const attachment of this.#attachments.values()) {
      if (attachment.backlog) attachment.backlog.push(data);
      else this.#send(attachment, data);
    }
    if (!this.#paused) this.#updateFlow();
  }

  /**
   * The mirror parses in the server's only thread, up to ~12 ms of queued text per step: under a
   * flood every other terminal waits behind that step. Handing it at most mirrorSlice characters
   * at a time, the next once the previous is parsed, keeps steps short (measured: flood-time
   * stalls from 20–37 ms to 6–7 ms at p99); flow control pauses the shell if the mirror lags.
   */
  #feedMirror(): void {
    const next = this.#mirrorQueue.shift();
    if (next === undefined) {
      this.#mirrorBusy = false;
      for (const callback of this.#whenMirrorIdle.splice(0)) this.#mirror.write('', callback);
      return;
    }
    this.#mirrorBusy = true;
    const piece = next.slice(0, mirrorSlice);
    if (next.length > mirrorSlice) this.#mirrorQueue.unshift(next.slice(mirrorSlice));
    this.#mirror.write(piece, () => {
      this.#mirrorPending -= piece.length;
      if (this.#paused) this.#updateFlow();
      this.#feedMirror();
    });
  }

  /** Runs `callback` once the mirror has parsed everything received so far. */
  #afterMirror(callback: () => void): void {
    if (this.#mirrorBusy) this.#whenMirrorIdle.push(callback);
    else this.#mirror.write('', callback);
  }

  #send(attachment: Attachment, data: string): void {
    attachment.unacked += data.length;
    attachment.viewer.output(data);
  }

  #lag(): number {
    let lag = this.#mirrorPending;
    for (const attachment of this.#attachments.values()) {
      const pending = attachment.unacked + (attachment.backlog?.reduce((sum, data) => sum + data.length, 0) ?? 0);
      if (pending > lag) lag = pending;
    }
    return lag;
  }

  #updateFlow(): void {
    if (this.#closed) return;
    const lag = this.#lag();
    if (!this.#paused && lag > highWatermark) {
      this.#paused = true;
      this.#pty.pause();
    } else if (this.#paused && lag < lowWatermark) {
      this.#paused = false;
      this.#pty.resume();
    }
  }

  #close(info: ExitInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const attachment of this.#attachments.values()) attachment.viewer.exit(info);
    this.#attachments.clear();
    this.#mirror.dispose();
    this.#onClosed();
  }
}
