/**
 * One lab shell: a terminal from the driver (a pty, an exec stream), mirrored off the main thread (mirror-pool.ts) so that a
 * reload or a dropped connection can replay the screen, and streamed to every attached viewer.
 *
 * Flow control follows xterm.js's watermark scheme (as wetty and ttyd do): each viewer acks the
 * characters it has written to its terminal; the mirror acks what its worker parsed. When any
 * consumer lags more than its HIGH watermark the pty is paused, and it resumes once every
 * consumer is back under its LOW one. The mirror also holds the pty while its worker reports it behind (a flood
 * of costly sequences over its CPU budget): the flood then runs at the pace its budget allows.
 * So a `yes` flood costs bounded memory here and in the browser, and bounded CPU in the worker.
 */
import type { LabTerminal, TerminalSize } from '../drivers/driver.ts';
import { terminalBytes } from '../metrics.ts';
import { Watermarks } from './flow.ts';
import type { MirrorEvents, RemoteMirror } from './mirror-pool.ts';

export const highWatermark = 128 * 1024;
export const lowWatermark = 16 * 1024;
/**
 * The mirror's own, lower: what is in flight to its worker is what a reattach waits for, and a
 * character of a costly sequence (an RIS reset at 300 × 100) takes ~50 µs to parse, not ~10 ns.
 */
export const mirrorHighWatermark = 16 * 1024;
export const mirrorLowWatermark = 4 * 1024;

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
  /** Characters in the backlog (summing it on every chunk would cost a flood quadratic time). */
  backlogChars: number;
}

/** Opens the shell's mirror (a pool's open, in the shell's budget group). */
export type OpenMirror = (size: TerminalSize, events: MirrorEvents) => Pick<RemoteMirror, 'pending' | 'write' | 'resize' | 'snapshot' | 'close'>;

export class Shell {
  readonly #pty: LabTerminal;
  readonly #mirror: ReturnType<OpenMirror>;
  #size: TerminalSize;
  readonly #attachments = new Map<Viewer, Attachment>();
  readonly #viewersFlow = new Watermarks(highWatermark, lowWatermark);
  readonly #mirrorFlow = new Watermarks(mirrorHighWatermark, mirrorLowWatermark);
  #mirrorBehind = false;
  #paused = false;
  #closed = false;
  readonly #onClosed: () => void;

  constructor(pty: LabTerminal, size: TerminalSize, openMirror: OpenMirror, onClosed: () => void) {
    this.#pty = pty;
    this.#size = size;
    this.#onClosed = onClosed;
    this.#mirror = openMirror(size, {
      parsed: () => {
        if (this.#paused) this.#updateFlow();
      },
      behind: (behind) => {
        this.#mirrorBehind = behind;
        this.#updateFlow();
      },
    });
    pty.onData((data) => this.#output(data));
    pty.onExit(({ code }) => this.#close({ code }));
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
    const attachment: Attachment = { viewer, unacked: 0, backlog: [], backlogChars: 0 };
    this.#attachments.set(viewer, attachment);
    // The snapshot is taken once the mirror has parsed everything written so far: it then
    // matches the stream exactly, and what came since is in the backlog.
    void this.#mirror.snapshot().then((screen) => {
      if (this.#attachments.get(viewer) !== attachment) return;
      viewer.screen(screen);
      const backlog = attachment.backlog ?? [];
      attachment.backlog = undefined;
      attachment.backlogChars = 0;
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
    if (size.cols === this.#size.cols && size.rows === this.#size.rows) return;
    try {
      this.#pty.resize(size);
    } catch {
      // The pty went away between the check and the call: its exit event follows.
      return;
    }
    this.#size = size;
    this.#mirror.resize(size);
  }

  /** Ends the shell because its lab stopped: viewers get `exit` with reason lab_gone. */
  kill(): void {
    if (this.#closed) return;
    this.#close({ code: null, reason: 'lab_gone' });
    this.#pty.close();
  }

  #output(data: string): void {
    if (this.#closed) return;
    terminalBytes.inc({ direction: 'output' }, data.length);
    this.#mirror.write(data);
    for (const attachment of this.#attachments.values()) {
      if (attachment.backlog) {
        attachment.backlog.push(data);
        attachment.backlogChars += data.length;
      } else this.#send(attachment, data);
    }
    if (!this.#paused) this.#updateFlow();
  }

  #send(attachment: Attachment, data: string): void {
    attachment.unacked += data.length;
    attachment.viewer.output(data);
  }

  #viewersLag(): number {
    let lag = 0;
    for (const attachment of this.#attachments.values()) {
      const pending = attachment.unacked + attachment.backlogChars;
      if (pending > lag) lag = pending;
    }
    return lag;
  }

  #updateFlow(): void {
    if (this.#closed) return;
    this.#viewersFlow.update(this.#viewersLag());
    this.#mirrorFlow.update(this.#mirror.pending);
    const pause = this.#viewersFlow.paused || this.#mirrorFlow.paused || this.#mirrorBehind;
    if (pause === this.#paused) return;
    this.#paused = pause;
    if (pause) this.#pty.pause();
    else this.#pty.resume();
  }

  #close(info: ExitInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const attachment of this.#attachments.values()) attachment.viewer.exit(info);
    this.#attachments.clear();
    this.#mirror.close();
    this.#onClosed();
  }
}
