/**
 * The class benchmark's browsers, in a process of their own (so that their work never shares the
 * server's event loop or its CPU figures). Driven over IPC by class.bench.ts: see `Command`.
 * Each "browser" does what the page does: POST /api/labs, then socket.io /terminal with the
 * token, acking output as site/client/terminal.ts does.
 */
import { io, type Socket } from 'socket.io-client';
import { Typist, typeFor, type TypingResult } from './typing.ts';

export type Command =
  | { cmd: 'launch'; url: string; lab: string; count: number; timeoutMs: number }
  | { cmd: 'type'; warmupMs: number; durationMs: number; only?: number[]; except?: number[] }
  | { cmd: 'flood-start'; url: string; lab: string; token: string }
  | { cmd: 'flood-stop' }
  | { cmd: 'delete'; url: string }
  | { cmd: 'cpu' }
  | { cmd: 'exit' };

export interface LaunchResult {
  /** Click → first prompt byte, ms, of the launches that succeeded. */
  latencies: number[];
  /** Of which: until the API says the lab runs (POST, and long-polls while queued). */
  posts: number[];
  failures: string[];
  /** Every live terminal's lab (so the parent can find them). */
  labs: Array<{ id: string; token: string }>;
}

export interface FloodResult {
  characters: number;
  seconds: number;
  /** Largest gap between two output events (ms): how choppy the flood is. */
  maxGapMs: number;
}

interface Browser {
  lab: { id: string; token: string };
  socket: Socket;
  typist: Typist;
  received: number;
}

const browsers: Browser[] = [];
const ackBatch = 4096;

/** Connects to a terminal as the page does; resolves once its output holds the prompt's `$ `. */
function openTerminal(url: string, lab: { id: string; token: string }, terminal: string, timeoutMs: number, onOutput: (data: string) => void = () => {}): Promise<Socket> {
  const socket = io(`${url}/terminal`, {
    auth: { lab: lab.id, token: lab.token, terminal, cols: 120, rows: 30, lang: 'en' },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
  });
  // site/client/terminal.ts: ack once the terminal wrote the output (here: at once), in batches,
  // flushed at the end of the task so a quiet shell still gets its last bytes acknowledged.
  let unacked = 0;
  const flush = (): void => {
    if (unacked > 0) socket.emit('ack', unacked);
    unacked = 0;
  };
  let seen = '';
  let prompted: (() => void) | undefined;
  socket.on('screen', (screen: string) => {
    if (prompted && screen.includes('$ ')) prompted();
  });
  socket.on('output', (data: string) => {
    unacked += data.length;
    if (unacked >= ackBatch) flush();
    queueMicrotask(flush);
    if (prompted) {
      seen = (seen + data).slice(-64);
      if (seen.includes('$ ')) prompted();
    }
    onOutput(data);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no prompt within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      prompted = undefined;
      socket.close();
      reject(error);
    };
    prompted = () => {
      clearTimeout(timer);
      prompted = undefined;
      resolve(socket);
    };
    socket.once('connect_error', (error: Error & { data?: { code?: string } }) => fail(new Error(`connect_error ${error.data?.code ?? error.message}`)));
    socket.once('disconnect', (reason) => prompted && fail(new Error(`disconnected: ${reason}`)));
  });
}

interface LabView {
  id?: string;
  token?: string;
  status?: string;
  progress?: unknown[];
  error?: { code?: string; message?: string };
}

async function launchOne(url: string, labId: string, timeoutMs: number): Promise<{ latency: number; post: number; browser: Browser }> {
  const t0 = performance.now();
  const deadline = t0 + timeoutMs;
  const response = await fetch(`${url}/api/labs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ lab: labId }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  let view = (await response.json().catch(() => ({}))) as LabView;
  if (!response.ok || !view.id || !view.token) throw new Error(`POST /api/labs ${response.status} ${view.error?.code ?? ''} ${view.error?.message ?? ''}`.trim());
  const lab = { id: view.id, token: view.token };
  try {
    return await follow(url, lab, view, t0, deadline, timeoutMs);
  } catch (error) {
    // A lab the server made but this browser gave up on: delete it, as closing the page would not.
    await fetch(`${url}/api/labs/${lab.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${lab.token}` }, signal: AbortSignal.timeout(30_000) }).catch(() => {});
    throw error;
  }
}

async function follow(url: string, lab: { id: string; token: string }, first: LabView, t0: number, deadline: number, timeoutMs: number): Promise<{ latency: number; post: number; browser: Browser }> {
  let view = first;
  // A queued (202) or starting lab: long-poll its view until it runs, as the page does.
  for (let polls = 0; view.status !== undefined && view.status !== 'running' && polls < 100; polls++) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`lab still ${view.status} after ${timeoutMs} ms`);
    const poll = await fetch(`${url}/api/labs/${lab.id}?wait=${view.progress?.length ?? 0}`, {
      headers: { authorization: `Bearer ${lab.token}` },
      signal: AbortSignal.timeout(Math.ceil(left)),
    });
    view = (await poll.json().catch(() => ({}))) as LabView;
    if (!poll.ok) throw new Error(`GET /api/labs/:id ${poll.status} ${view.error?.code ?? ''}`.trim());
  }
  const post = performance.now() - t0;
  let browser: Browser | undefined;
  const socket = await openTerminal(url, lab, 'main', Math.max(1000, deadline - performance.now()), (data) => {
    if (browser) {
      browser.received += data.length;
      browser.typist.output(data);
    }
  });
  const latency = performance.now() - t0;
  browser = { lab, socket, typist: new Typist((key) => socket.emit('input', key)), received: 0 };
  return { latency, post, browser };
}

let flood: { socket: Socket; characters: number; since: number; lastAt: number; maxGap: number } | undefined;

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'launch': {
      const settled = await Promise.allSettled(Array.from({ length: command.count }, () => launchOne(command.url, command.lab, command.timeoutMs)));
      const result: LaunchResult = { latencies: [], posts: [], failures: [], labs: [] };
      for (const s of settled) {
        if (s.status === 'fulfilled') {
          result.latencies.push(s.value.latency);
          result.posts.push(s.value.post);
          browsers.push(s.value.browser);
        } else result.failures.push(String((s.reason as Error)?.message ?? s.reason));
      }
      result.labs = browsers.map((b) => b.lab);
      return result;
    }
    case 'type': {
      const selected = browsers.filter((_, i) => (command.only ? command.only.includes(i) : true) && !(command.except ?? []).includes(i));
      const result: TypingResult = await typeFor(selected.map((b) => b.typist), command.warmupMs, command.durationMs);
      return result;
    }
    case 'flood-start': {
      let state: typeof flood;
      const socket = await openTerminal(command.url, { id: command.lab, token: command.token }, 'flood', 10_000, (data) => {
        if (!state) return;
        const now = performance.now();
        state.characters += data.length;
        state.maxGap = Math.max(state.maxGap, now - state.lastAt);
        state.lastAt = now;
      });
      state = { socket, characters: 0, since: performance.now(), lastAt: performance.now(), maxGap: 0 };
      flood = state;
      socket.emit('input', 'yes\r');
      return null;
    }
    case 'flood-stop': {
      const state = flood;
      if (!state) return null;
      flood = undefined;
      const result: FloodResult = { characters: state.characters, seconds: (performance.now() - state.since) / 1000, maxGapMs: state.maxGap };
      state.socket.emit('input', '\x03');
      state.socket.close();
      return result;
    }
    case 'delete': {
      const started = performance.now();
      const all = browsers.splice(0);
      const failures: string[] = [];
      await Promise.all(
        all.map(async (b) => {
          b.typist.stop();
          b.socket.close();
          const response = await fetch(`${command.url}/api/labs/${b.lab.id}`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${b.lab.token}` },
            signal: AbortSignal.timeout(60_000),
          }).catch((error: unknown) => ({ status: String(error) }));
          if (response.status !== 204) failures.push(String(response.status));
        }),
      );
      return { count: all.length, ms: performance.now() - started, failures };
    }
    case 'cpu':
      return process.cpuUsage();
    case 'exit':
      for (const b of browsers) b.socket.close();
      flood?.socket.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

process.on('message', (message: { id: number; command: Command }) => {
  handle(message.command).then(
    (result) => process.send?.({ id: message.id, ok: true, result }),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
  );
});
// The parent gone (crash, kill): nothing left to do here.
process.on('disconnect', () => process.exit(0));
