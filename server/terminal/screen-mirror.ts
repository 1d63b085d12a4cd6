/**
 * One shell's screen, mirrored in a headless xterm so that a reload or a dropped connection can
 * replay it (serialized with xterm's own serialize addon). It parses whatever a learner's program
 * prints: it runs inside a mirror worker (mirror-worker.ts), never on the server's main thread.
 */
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;

/** Lines of history a replay carries. */
export const scrollback = 1000;

/**
 * xterm's synchronous write. The public write() queues and parses later on a timer, with no way
 * to know what one piece cost; the scheduler needs to parse a slice now and time it. writeSync is
 * "unreliable" only with asynchronous parser handlers, which the mirror never registers; the
 * version is pinned and the replay tests cover it.
 */
interface CoreTerminal {
  writeSync(data: string): void;
  _inputHandler: { _parser: { clearOscHandler(ident: number): void; clearDcsHandler(id: { intermediates: string; final: string }): void } };
}

/** Every OSC xterm handles (titles, palette, hyperlinks) and its one DCS (DECRQSS, a report). */
const oscIdents = [0, 1, 2, 4, 8, 10, 11, 12, 104, 110, 111, 112];

export class ScreenMirror {
  readonly #terminal: InstanceType<typeof Terminal>;
  readonly #core: CoreTerminal;
  readonly #serializer: InstanceType<typeof SerializeAddon>;

  constructor(cols: number, rows: number) {
    // logLevel off: writeSync otherwise warns once per terminal on the worker's console.
    this.#terminal = new Terminal({ cols, rows, scrollback, allowProposedApi: true, logLevel: 'off' });
    this.#core = (this.#terminal as unknown as { _core: CoreTerminal })._core;
    this.#serializer = new SerializeAddon();
    this.#terminal.loadAddon(this.#serializer);
    this.#boundRepeats();
    this.#dropStrings();
  }

  get cols(): number {
    return this.#terminal.cols;
  }

  get rows(): number {
    return this.#terminal.rows;
  }

  /** Parses `data` now, in full. */
  parse(data: string): void {
    this.#core.writeSync(data);
  }

  resize(cols: number, rows: number): void {
    if (cols !== this.#terminal.cols || rows !== this.#terminal.rows) this.#terminal.resize(cols, rows);
  }

  serialize(): string {
    return this.#serializer.serialize({ scrollback });
  }

  dispose(): void {
    this.#terminal.dispose();
  }

  /**
   * A replay carries cells, modes and the cursor, not titles, colours set by OSC, links or
   * reports; yet xterm gathers an OSC or DCS payload a character at a time (`s += char`: ~32 bytes
   * of heap per character, up to its 10 MB limit), so one `printf` of a long title held 64 MB per
   * 2 MB. Without their handlers the parser skips such payloads as it reads them.
   */
  #dropStrings(): void {
    const parser = this.#core._inputHandler._parser;
    for (const ident of oscIdents) parser.clearOscHandler(ident);
    parser.clearDcsHandler({ intermediates: '$', final: 'q' });
  }

  /**
   * xterm.js accepts counts up to 2^31 for REP (CSI n b: allocates n cells) and for scroll/insert/
   * delete lines (CSI n S/T/L/M: loops n times): one `printf` would keep a worker busy for
   * minutes. Past what the screen can show, a larger count changes nothing on screen: cap it
   * there. (A write from a handler is queued by writeSync and parsed right after the current one.)
   */
  #boundRepeats(): void {
    const cap = (final: string, limit: () => number) =>
      this.#terminal.parser.registerCsiHandler({ final }, (params) => {
        const count = typeof params[0] === 'number' ? params[0] : 0;
        if (count <= limit()) return false;
        this.#core.writeSync(`\x1b[${limit()}${final}`);
        return true;
      });
    cap('b', () => this.#terminal.cols * this.#terminal.rows);
    for (const final of ['S', 'T', 'L', 'M']) cap(final, () => this.#terminal.rows);
  }
}
