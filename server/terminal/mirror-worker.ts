/**
 * A mirror worker (a worker_thread of mirror-pool.ts): holds the screen mirrors of many shells
 * and parses their output with the fair scheduler, reporting back what it parsed, the snapshots
 * asked for and which shells fell behind.
 */
import { parentPort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './mirror-protocol.ts';
import { MirrorScheduler } from './mirror-scheduler.ts';
import { ScreenMirror } from './screen-mirror.ts';

if (!parentPort) throw new Error('mirror-worker.ts runs as a worker thread');
const port = parentPort;

/**
 * 10 % of a core per shell (a burst of 300 ms): ~9 MB/s of plain text, far more than a person
 * reads, while ten floods at once still leave the worker's core to the rest. A flooding shell's
 * queue is reported behind past ~2 s of its budget; a reattach to it waits for what is queued at
 * 50 %: about a second for 16 KiB of the costliest sequences at 300 × 100. All the shells of one
 * learner together get 25 % (a burst of 500 ms): up to 24 terminals cannot take a whole core.
 */
const scheduler = new MirrorScheduler({
  clock: () => performance.now(),
  sliceChars: 16 * 1024,
  sliceEscapes: 8,
  share: 0.1,
  burstMs: 300,
  catchUpShare: 0.5,
  groupShare: 0.25,
  groupBurstMs: 500,
  behindMs: 2_000,
  caughtUpMs: 500,
});
/** Work between two looks at the message queue: new output and snapshot requests wait at most this. */
const turnMs = 8;

let immediate: NodeJS.Immediate | undefined;
let timer: NodeJS.Timeout | undefined;

function kick(): void {
  if (immediate) return;
  if (timer) clearTimeout(timer);
  timer = undefined;
  immediate = setImmediate(turn);
}

function turn(): void {
  immediate = undefined;
  timer = undefined;
  const wait = scheduler.run(turnMs);
  const report: FromWorker = scheduler.takeReport();
  if (report.parsed.length > 0 || report.snapshots.length > 0 || report.behind.length > 0 || report.throttled > 0) port.postMessage(report);
  if (wait === 0) kick();
  else if (wait !== Infinity) timer = setTimeout(turn, wait);
}

port.on('message', (message: ToWorker) => {
  switch (message.op) {
    case 'open':
      scheduler.open(message.id, new ScreenMirror(message.cols, message.rows), message.group);
      return;
    case 'write':
      scheduler.write(message.id, message.data);
      break;
    case 'resize':
      scheduler.resize(message.id, message.cols, message.rows);
      break;
    case 'snapshot':
      scheduler.snapshot(message.id, message.request);
      break;
    case 'close':
      scheduler.close(message.id);
      return;
  }
  kick();
});
