/**
 * The bits of git's push protocol the forge speaks itself, so that a push it refuses mid-way
 * fails in git's own terms (`remote: …` lines, `! [remote rejected]` per ref) rather than with a
 * cut connection: it watches the commands at the start of a receive-pack request (the refs
 * pushed and the client's capabilities) and writes the report receive-pack would.
 * Protocol: git's Documentation/gitprotocol-pack.txt (reference discovery, report-status) and
 * gitprotocol-common.txt (pkt-line, side-band).
 */

/** The commands section of a push, as far as it was seen. */
export interface PushCommands {
  refs: string[];
  capabilities: Set<string>;
}

/** Commands beyond this are not read (their refs get git's "remote failed to report status"). */
const maxCommandBytes = 1024 * 1024;
const flush = Buffer.from('0000');

/**
 * Reads the commands of a receive-pack request from a copy of its body, chunk by chunk, until
 * the flush packet that ends them; never holds more than maxCommandBytes. Gzip bodies (git does
 * not compress pushes) and malformed ones leave it with what it had.
 */
export class PushCommandReader {
  readonly commands: PushCommands = { refs: [], capabilities: new Set() };
  #buffer: Buffer = Buffer.alloc(0);
  #seen = 0;
  #done = false;

  get done(): boolean {
    return this.#done;
  }

  feed(chunk: Buffer): void {
    if (this.#done) return;
    this.#seen += chunk.length;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 4) {
      const length = Number.parseInt(this.#buffer.toString('latin1', 0, 4), 16);
      if (!/^[0-9a-f]{4}$/i.test(this.#buffer.toString('latin1', 0, 4)) || (length > 0 && length < 4)) return this.#stop();
      if (length === 0) return this.#stop();
      if (this.#buffer.length < length) break;
      this.#command(this.#buffer.toString('utf8', 4, length));
      this.#buffer = this.#buffer.subarray(length);
    }
    if (this.#seen > maxCommandBytes) this.#stop();
  }

  #command(line: string): void {
    const nul = line.indexOf('\0');
    const command = (nul < 0 ? line : line.slice(0, nul)).replace(/\n$/, '');
    if (nul >= 0 && this.commands.refs.length === 0) {
      for (const capability of line.slice(nul + 1).trim().split(' ')) if (capability) this.commands.capabilities.add(capability);
    }
    const ref = command.split(' ')[2];
    if (ref) this.commands.refs.push(ref);
  }

  #stop(): void {
    this.#done = true;
    this.#buffer = Buffer.alloc(0);
  }
}

/** One pkt-line holding `payload`. */
function pktLine(payload: Buffer | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([Buffer.from((bytes.length + 4).toString(16).padStart(4, '0'), 'latin1'), bytes]);
}

/** Side-band packets of one band, each at most `room` bytes of payload. */
function band(number: 1 | 2, data: Buffer, room: number): Buffer[] {
  const packets: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += room) {
    packets.push(pktLine(Buffer.concat([Buffer.from([number]), data.subarray(offset, offset + room)])));
  }
  return packets;
}

/**
 * The receive-pack result that refuses the whole push: `messages` shown by git as `remote:`
 * lines (side-band clients), `reason` on each ref's `! [remote rejected]` line (report-status).
 */
export function refusalReport(commands: PushCommands, messages: readonly string[], reason: string): Buffer {
  const shortReason = reason.replace(/[\r\n]+/g, ' ');
  const report = commands.capabilities.has('report-status') || commands.capabilities.has('report-status-v2')
    ? Buffer.concat([pktLine(`unpack ${shortReason}\n`), ...commands.refs.map((ref) => pktLine(`ng ${ref} ${shortReason}\n`)), flush])
    : Buffer.alloc(0);
  // Packets of 65520 bytes with side-band-64k, 1000 with the older side-band (band byte included).
  const room = commands.capabilities.has('side-band-64k') ? 65_515 : commands.capabilities.has('side-band') ? 995 : 0;
  if (room === 0) return report;
  const text = Buffer.from(messages.map((message) => `${message}\n`).join(''), 'utf8');
  return Buffer.concat([...band(2, text, room), ...band(1, report, room), flush]);
}
