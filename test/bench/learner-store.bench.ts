/**
 * Learner store benchmark: per-operation latency (median, p95, p99) of the calls on a request's
 * path — get (every cookie), touch, setProgress (a tick), learnerByGitToken (every forge request)
 * — on SQLite (the embedded file) and on PostgreSQL (Debian's, a throw-away cluster on a Unix
 * socket: test/helpers/postgres.ts), in the same run, each over 10,000 learners holding a token;
 * then the same calls 16 at a time (a busy replica), as throughput. Prints figures; cleans up.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgLearnerStore } from '../../server/learners/pg-store.ts';
import { Sealer } from '../../server/learners/sealed.ts';
import { SqliteLearnerStore } from '../../server/learners/sqlite-store.ts';
import type { LearnerStore } from '../../server/learners/store.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { summarize } from './lib/stats.ts';

const learners = 10_000;
const calls = 5_000;
const inFlight = 16;

type Operation = [name: string, run: (store: LearnerStore, i: number) => Promise<unknown>];

const us = (value: number): string => `${(value * 1000).toFixed(0)} µs`;

async function measure(label: string, store: LearnerStore): Promise<void> {
  const ids: string[] = [];
  const tokens: string[] = [];
  for (let i = 0; i < learners; i += 1) {
    const { id } = await store.create();
    ids.push(id);
    tokens.push(await store.rotateGitToken(id));
  }
  const pick = (i: number) => (i * 7919) % learners;
  const operations: Operation[] = [
    ['get', (s, i) => s.get(ids[pick(i)]!)],
    ['touch', (s, i) => s.touch(ids[pick(i)]!)],
    ['setProgress', (s, i) => s.setProgress(ids[pick(i)]!, '/tp/terminal/', `step-${i % 20}`, i % 3 !== 0)],
    ['learnerByGitToken', (s, i) => s.learnerByGitToken(tokens[pick(i)]!)],
  ];
  for (const [name, run] of operations) {
    // Warm: statements prepared, pool connections open, pages cached.
    for (let i = 0; i < 200; i += 1) await run(store, i);
    const latencies: number[] = [];
    for (let i = 0; i < calls; i += 1) {
      const started = performance.now();
      await run(store, i);
      latencies.push(performance.now() - started);
    }
    const one = summarize(latencies);
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        // Calls of their own (other learners, steps), not the latency run's again.
        while (next < calls) await run(store, calls + next++);
      }),
    );
    const perSecond = calls / ((performance.now() - started) / 1000);
    console.log(
      `${label.padEnd(10)} ${name.padEnd(17)} median ${us(one.median).padStart(7)}  p95 ${us(one.p95).padStart(7)}  p99 ${us(one.p99).padStart(7)}   ${inFlight} at once: ${Math.round(perSecond).toLocaleString('en')} calls/s`,
    );
  }
}

const sealer = new Sealer(randomBytes(32));
console.log(`${calls} calls of each, one at a time (latency) then ${inFlight} at once (throughput), over ${learners.toLocaleString('en')} learners with a git token`);

const dir = mkdtempSync(join(tmpdir(), 'atelier-store-bench-'));
const sqlite = new SqliteLearnerStore({ path: join(dir, 'learners.db'), sealer });
try {
  await measure('SQLite', sqlite);
} finally {
  await sqlite.close();
  rmSync(dir, { recursive: true, force: true });
}

const postgres = await startPostgres();
try {
  const store = await PgLearnerStore.open({ url: await postgres.database(), sealer, maxConnections: inFlight });
  try {
    await measure('PostgreSQL', store);
  } finally {
    await store.close();
  }
} finally {
  await postgres.stop();
}
