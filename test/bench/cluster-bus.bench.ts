/**
 * The replicas' bus: publish → receive latency (median, p95, p99) from one coordinator to another
 * on PostgreSQL (Debian's, a throw-away cluster on a Unix socket: test/helpers/postgres.ts), one
 * message at a time and 16 in flight, with a small (a progress tick) and a large (7 KB) payload;
 * in the same run, the floors it stands on: a bare NOTIFY → LISTEN round trip with node-postgres
 * (no envelope, no JSON), a lone server's InProcessCoordinator, and a bare EventEmitter. Both
 * coordinators run in this one process (one event loop for sender and receiver, as two replicas
 * on one core would); then a burst of 5,000 messages, as throughput. Prints figures; cleans up.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { InProcessCoordinator, PgCoordinator, type Coordinator } from '../../server/cluster/index.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { summarize } from './lib/stats.ts';

const calls = 3_000;
const inFlight = 16;
const burst = 5_000;
const tick = { learner: 'u0123456789a', page: '/tp/terminal/', step: 'show-dir', done: true };
const large = { learner: 'u0123456789a', blob: 'x'.repeat(7_000) };

const us = (value: number): string => (value >= 1 ? `${value.toFixed(2)} ms` : `${(value * 1000).toFixed(1)} µs`);

function print(label: string, latencies: number[]): void {
  const s = summarize(latencies);
  console.log(`${label.padEnd(58)} median ${us(s.median).padStart(9)}  p95 ${us(s.p95).padStart(9)}  p99 ${us(s.p99).padStart(9)}  (n=${s.n})`);
}

/**
 * `send(i)` publishes message i; `onReceive(listener)` hears each message's index. Latency of
 * each from its send to its arrival, `concurrency` at a time.
 */
async function measure(send: (i: number) => unknown, onReceive: (listener: (i: number) => void) => void, concurrency: number, count = calls): Promise<number[]> {
  const sentAt = new Map<number, number>();
  const waiting = new Map<number, () => void>();
  const latencies: number[] = [];
  onReceive((i) => {
    const at = sentAt.get(i);
    if (at === undefined) return;
    latencies.push(performance.now() - at);
    sentAt.delete(i);
    waiting.get(i)?.();
  });
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const arrived = new Promise<void>((resolve) => waiting.set(i, resolve));
        sentAt.set(i, performance.now());
        await send(i);
        await arrived;
        waiting.delete(i);
      }
    }),
  );
  return latencies;
}

let topicCount = 0;
/** A topic of its own per run, so that earlier runs' listeners hear nothing. */
async function coordinators(label: string, from: Coordinator, to: Coordinator): Promise<void> {
  for (const [size, payload] of [['tick', tick], ['7 KB', large]] as const) {
    for (const concurrency of [1, inFlight]) {
      const topic = `bench.t${(topicCount += 1)}`;
      const latencies = await measure(
        (i) => from.publish(topic, { i, ...payload }),
        (listener) => to.subscribe(topic, (message) => listener((message as { i: number }).i)),
        concurrency,
      );
      print(`${label}, ${size}, ${concurrency} in flight`, latencies);
    }
  }
}

async function throughput(label: string, from: Coordinator, to: Coordinator): Promise<void> {
  const topic = `bench.t${(topicCount += 1)}`;
  let received = 0;
  const done = new Promise<void>((resolve) =>
    to.subscribe(topic, () => {
      received += 1;
      if (received === burst) resolve();
    }),
  );
  const started = performance.now();
  await Promise.all(Array.from({ length: burst }, (_, i) => from.publish(topic, { i, ...tick })));
  await done;
  const seconds = (performance.now() - started) / 1000;
  console.log(`${label}: ${burst} ticks published at once, all received in ${(seconds * 1000).toFixed(0)} ms (${Math.round(burst / seconds)} messages/s)`);
}

const postgres = await startPostgres();
try {
  const url = await postgres.database();
  const onError = (error: unknown, context: string) => console.error(`${context}: ${(error as Error).message}`);

  // Floors: what any bus on this machine pays.
  const emitter = new EventEmitter();
  print('EventEmitter emit → listener, tick', await measure((i) => emitter.emit('m', { i, ...tick }), (listener) => emitter.on('m', (m: { i: number }) => listener(m.i)), 1));
  const local = new InProcessCoordinator(onError);
  await coordinators('InProcessCoordinator (one server)', local, local);

  const listen = new pg.Client({ connectionString: url });
  const notify = new pg.Client({ connectionString: url });
  await listen.connect();
  await notify.connect();
  await listen.query('LISTEN bare');
  print(
    'bare pg NOTIFY → LISTEN (two connections), tick-sized',
    await measure(
      (i) => notify.query('SELECT pg_notify($1, $2)', ['bare', `${i} ${JSON.stringify(tick)}`]),
      (listener) => listen.on('notification', (message) => listener(Number.parseInt(message.payload ?? '', 10))),
      1,
    ),
  );
  await listen.end();
  await notify.end();

  const a = await PgCoordinator.open({ url, deployment: 'bench', onError });
  const b = await PgCoordinator.open({ url, deployment: 'bench', onError });
  try {
    await coordinators('PgCoordinator replica A → replica B', a, b);
    await throughput('PgCoordinator A → B', a, b);
  } finally {
    await a.close();
    await b.close();
  }
} finally {
  await postgres.stop();
}
