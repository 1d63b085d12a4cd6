/**
 * Escape-sequence floods aimed at the server's screen mirror, and what another learner sees
 * meanwhile: the p99 of their `/healthz`, check round trip and terminal echo. Used by the attack
 * suite (test/attack/terminal-flood.test.ts) and by the benchmark (idle vs under attack figures);
 * it talks to the server over HTTP and socket.io only, so the server may run in another process.
 */
import { LearnerClient } from './learner.ts';
import { connectTerminal, type TerminalClient } from './terminal.ts';
import { terminalSize } from '../../server/terminal/index.ts';

/**
 * Each flood as the bash words `yes` repeats: the sequences whose mirror cost grows with the
 * terminal's size (scrolls, DECALN fills, REP, insert/delete lines, RIS resets) and SGR runs.
 */
export const floods = {
  scroll: String.raw`$'\e[999S\e[999T'`,
  fill: String.raw`$'\e#8'`,
  repeat: String.raw`$'X\e[65535b'`,
  'insert-delete': String.raw`$'\e[999L\e[999M'`,
  reset: String.raw`$'\ec'`,
  sgr: String.raw`$'\e[1;2;3;4;5;7;9;38;2;255;0;0;48;2;0;255;0m#\e[0;1;3;4;5;7;9;21;53;58;5;196m#'`,
} as const;
export type Flood = keyof typeof floods;

/** The largest terminal the server accepts: what a flood is run at. */
export const maxSize = { cols: terminalSize.shape.cols.maxValue ?? 80, rows: terminalSize.shape.rows.maxValue ?? 24 };

export interface Figures {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ProbeFigures {
  healthz: Figures;
  check: Figures;
  echo: Figures;
  /** A reload of the bystander's terminal: until its screen is replayed (its mirror kept up). */
  replay: Figures;
}

export const probes = ['healthz', 'check', 'echo', 'replay'] as const;
export type Probe = (typeof probes)[number];

/** A probe that never answers is counted as this long (ms), so a stalled server still ends the run. */
const probeTimeoutMs = 5_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function figures(samples: number[]): Figures {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  return { n: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) ?? Number.NaN };
}

/** The probe's time; a probe that fails (refused, an error status) counts as one that never answered. */
async function timed(step: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  const answered = await Promise.race([step().then(() => true, () => false), sleep(probeTimeoutMs).then(() => false)]);
  return answered ? performance.now() - started : probeTimeoutMs;
}

/** Another learner: a lab, its terminal, and the three probes. */
export class Bystander {
  readonly learner: LearnerClient;
  readonly lab: { id: string; token: string };
  readonly terminal: TerminalClient;
  readonly #check: string;
  #echoes = 0;

  private constructor(learner: LearnerClient, lab: { id: string; token: string }, terminal: TerminalClient, check: string) {
    this.learner = learner;
    this.lab = lab;
    this.terminal = terminal;
    this.#check = check;
  }

  /** `check` must be a quick check of `lab` (it is run over and over). */
  static async start(url: string, lab: string, check: string): Promise<Bystander> {
    const learner = new LearnerClient(url);
    const launched = await learner.launch(lab);
    const terminal = await connectTerminal(url, { lab: launched.id, token: launched.token, terminal: 'bystander' });
    await terminal.screen;
    return new Bystander(learner, launched, terminal, check);
  }

  /** Each probe in its own loop, back to back, for `durationMs`. */
  async measure(durationMs: number): Promise<ProbeFigures> {
    const until = performance.now() + durationMs;
    const loop = async (probe: () => Promise<unknown>, pauseMs = 0) => {
      const samples: number[] = [];
      while (performance.now() < until) {
        samples.push(await timed(probe));
        if (pauseMs > 0) await sleep(pauseMs);
      }
      return figures(samples);
    };
    const [healthz, check, echo, replay] = await Promise.all([
      loop(async () => {
        const response = await fetch(`${this.learner.url}/healthz`);
        await response.text();
        if (response.status !== 200) throw new Error(`healthz: ${response.status}`);
      }),
      loop(async () => {
        const response = await this.learner.api(`/api/labs/${this.lab.id}/checks/${this.#check}`, { method: 'POST', token: this.lab.token });
        if (response.status !== 200 || (response.body as { ok?: boolean }).ok !== true) throw new Error(`check: ${response.status} ${response.text.slice(0, 80)}`);
      }),
      loop(() => this.#echo()),
      loop(() => this.#replay(), 100),
    ]);
    return { healthz, check, echo, replay };
  }

  async close(): Promise<void> {
    this.terminal.close();
    await this.learner.deleteLab(this.lab.id).catch(() => {});
  }

  async #replay(): Promise<void> {
    const again = await connectTerminal(this.learner.url, { lab: this.lab.id, token: this.lab.token, terminal: 'bystander' });
    try {
      await again.screen;
    } finally {
      again.close();
    }
  }

  async #echo(): Promise<void> {
    const n = ++this.#echoes;
    const from = this.terminal.output().length;
    // The pty echoes `e-$((n+0))`; only the shell's answer reads `e-<n>`.
    this.terminal.type(`echo e-$((${n}+0))\r`);
    await this.terminal.waitFor(new RegExp(`e-${n}\\r?\\n`), probeTimeoutMs, from);
  }
}

/** The learner who floods: a lab, and a terminal at the largest size the server accepts. */
export class Flooder {
  readonly learner: LearnerClient;
  readonly lab: { id: string; token: string };
  readonly #url: string;
  #runs = 0;

  private constructor(url: string, learner: LearnerClient, lab: { id: string; token: string }) {
    this.#url = url;
    this.learner = learner;
    this.lab = lab;
  }

  static async start(url: string, lab: string): Promise<Flooder> {
    const learner = new LearnerClient(url);
    return new Flooder(url, learner, await learner.launch(lab));
  }

  /**
   * Starts `flood` for `seconds` in a terminal of its own and leaves it: with no viewer to slow
   * it, only the server's mirror reads the output (a learner closing the tab does the same).
   */
  async start(flood: Flood, seconds: number): Promise<string> {
    const name = `flood-${++this.#runs}`;
    const terminal = await this.#connect(name);
    try {
      await terminal.screen;
      terminal.type(`timeout ${seconds} yes ${floods[flood]}; clear; echo "flood-""over"\r`);
      await sleep(200);
    } finally {
      terminal.close();
    }
    return name;
  }

  /**
   * Reattaches to a flood's terminal: the time until its screen is replayed, and until `marker`
   * shows (in that screen or in the output after it: the shell may still be catching up).
   */
  async reattach(name: string, marker: RegExp, timeoutMs = 60_000): Promise<{ screen: string; screenMs: number; markerMs: number }> {
    const started = performance.now();
    const terminal = await this.#connect(name);
    try {
      const screen = await Promise.race([terminal.screen, sleep(timeoutMs).then(() => undefined)]);
      if (screen === undefined) throw new Error(`no screen replayed within ${timeoutMs} ms`);
      const screenMs = performance.now() - started;
      if (!marker.test(screen)) await terminal.waitFor(marker, Math.max(1, timeoutMs - screenMs)).catch((error: Error) => {
        throw new Error(`${error.message}; replayed screen: ${JSON.stringify(screen.slice(-300))}`);
      });
      return { screen, screenMs, markerMs: performance.now() - started };
    } finally {
      terminal.close();
    }
  }

  async close(): Promise<void> {
    await this.learner.deleteLab(this.lab.id).catch(() => {});
  }

  #connect(name: string): Promise<TerminalClient> {
    return connectTerminal(this.#url, { lab: this.lab.id, token: this.lab.token, terminal: name, ...maxSize });
  }
}

export interface FloodResult {
  flood: Flood;
  /** The bystander's figures during the flood. */
  figures: ProbeFigures;
  /** The flooder's own terminal once the flood is over: its screen replayed, then the shell's last line. */
  reattach: { screenMs: number; markerMs: number; screenLength: number };
}

/**
 * The bystander's figures while idle, then during each flood (`seconds` of flood each, measured
 * over its first `seconds - 1` s), each flood's terminal reattached until it caught up before the
 * next one starts: what the benchmark prints and the attack suite bounds.
 */
export async function measureFloods(
  flooder: Flooder,
  bystander: Bystander,
  options: { seconds?: number; only?: Flood[] } = {},
): Promise<{ idle: ProbeFigures; floods: FloodResult[] }> {
  const seconds = options.seconds ?? 4;
  const idle = await bystander.measure((seconds - 1) * 1000);
  const results: FloodResult[] = [];
  for (const flood of options.only ?? (Object.keys(floods) as Flood[])) {
    const terminal = await flooder.start(flood, seconds);
    const figures = await bystander.measure((seconds - 1) * 1000);
    await sleep(1_200);
    const { screen, screenMs, markerMs } = await flooder.reattach(terminal, /flood-over/);
    results.push({ flood, figures, reattach: { screenMs, markerMs, screenLength: screen.length } });
  }
  return { idle, floods: results };
}

/** measureFloods with its own two learners, cleaned up after: what a benchmark calls. */
export async function floodFigures(
  url: string,
  options: { lab: string; check: string; seconds?: number; only?: Flood[] },
): Promise<Awaited<ReturnType<typeof measureFloods>>> {
  const flooder = await Flooder.start(url, options.lab);
  const bystander = await Bystander.start(url, options.lab, options.check).catch(async (error: unknown) => {
    await flooder.close();
    throw error;
  });
  try {
    return await measureFloods(flooder, bystander, options);
  } finally {
    await bystander.close();
    await flooder.close();
  }
}

/** One line per probe: idle vs under attack. */
export function formatFigures(label: string, figures: ProbeFigures): string {
  const f = (value: number) => `${value.toFixed(value >= 100 ? 0 : 1)} ms`;
  return `${label}: ${probes.map((probe) => `${probe} p50 ${f(figures[probe].p50)} p99 ${f(figures[probe].p99)} (n ${figures[probe].n})`).join(', ')}`;
}
