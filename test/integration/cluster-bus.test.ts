/**
 * The replicas' coordinator on a real PostgreSQL (test/helpers/postgres.ts): two coordinators on
 * one database stand for two replicas. Messages both ways, a replica's own once, the NOTIFY
 * limit refused whole, a bus connection ended by the server replaced with a gap signalled, and
 * leadership moving to the other replica when the holder's connection is killed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { BusPayloadTooLarge, InProcessCoordinator, maxMessageBytes, PgCoordinator, type Coordinator } from '../../server/cluster/index.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { periodic } from '../../server/periodic.ts';

let postgres: TestPostgres;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
});

const errors: string[] = [];
const onError = (error: unknown, context: string) => errors.push(`${context}: ${(error as Error).message}`);

async function pair(url: string, options: { leadRetryMs?: number } = {}): Promise<[PgCoordinator, PgCoordinator]> {
  const open = () => PgCoordinator.open({ url, deployment: 'test', onError, leadRetryMs: options.leadRetryMs ?? 200, heartbeatMs: 1000, reconnect: { first: 50, max: 500 } });
  return [await open(), await open()];
}

/** Resolves with what `count` messages of `topic` brought, or rejects after `ms`. */
function receive(coordinator: Coordinator, topic: string, count: number, ms = 2000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const got: unknown[] = [];
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${got.length} of ${count} messages on ${topic} in ${ms} ms`));
    }, ms);
    const off = coordinator.subscribe(topic, (payload) => {
      got.push(payload);
      if (got.length === count) {
        clearTimeout(timer);
        off();
        resolve(got);
      }
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<number> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
  return performance.now() - started;
}

/** Ends the server side of a coordinator's connection, as a database restart or failover would. */
async function terminate(url: string, applicationName: string): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const result = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    return result.rows.filter((row) => row.ok).length;
  } finally {
    await admin.end();
  }
}

test('messages go both ways between two replicas; each sees its own once, at once; other topics hear nothing', async () => {
  const [a, b] = await pair(await postgres.database());
  try {
    const onA: unknown[] = [];
    const onB: unknown[] = [];
    const others: unknown[] = [];
    a.subscribe('progress', (payload) => onA.push(payload));
    b.subscribe('progress', (payload) => onB.push(payload));
    b.subscribe('learner.changed', (payload) => others.push(payload));

    await a.publish('progress', { n: 1, from: 'a' });
    assert.deepEqual(onA, [{ n: 1, from: 'a' }], 'delivered to its own subscribers before publish resolves');
    await b.publish('progress', { n: 2, from: 'b' });
    assert.ok(onB.some((payload) => (payload as { from: string }).from === 'b'), 'B has its own at once too');

    await until(() => onA.length === 2 && onB.length === 2, 10_000, 'each hears the other');
    // Long enough for an echo of its own NOTIFY to have come back, were it not dropped.
    await sleep(300);
    const byN = (list: unknown[]) => [...list].sort((x, y) => (x as { n: number }).n - (y as { n: number }).n);
    assert.deepEqual(byN(onA), [{ n: 1, from: 'a' }, { n: 2, from: 'b' }]);
    assert.deepEqual(byN(onB), [{ n: 1, from: 'a' }, { n: 2, from: 'b' }]);
    assert.deepEqual(others, []);
  } finally {
    await a.close();
    await b.close();
  }
});

test('messages of one replica arrive at the other in the order they were published, none lost', async () => {
  const [a, b] = await pair(await postgres.database());
  try {
    const got = receive(b, 'progress', 200, 5000);
    // Not awaited one by one: as a server publishes, while requests go on.
    await Promise.all(Array.from({ length: 200 }, (_, n) => a.publish('progress', { n })));
    assert.deepEqual(await got, Array.from({ length: 200 }, (_, n) => ({ n })));
  } finally {
    await a.close();
    await b.close();
  }
});

test('another deployment on the same database hears nothing of this one', async () => {
  const url = await postgres.database();
  const [a] = await pair(url);
  const stranger = await PgCoordinator.open({ url, deployment: 'other', onError });
  try {
    const heard: unknown[] = [];
    stranger.subscribe('progress', (payload) => heard.push(payload));
    await a.publish('progress', { n: 1 });
    await sleep(300);
    assert.deepEqual(heard, []);
  } finally {
    await a.close();
    await stranger.close();
  }
});

test('a message over NOTIFY\'s limit is refused whole, delivered nowhere; one at the limit goes through', async () => {
  const [a, b] = await pair(await postgres.database());
  try {
    const onA: unknown[] = [];
    const onB: unknown[] = [];
    a.subscribe('progress', (payload) => onA.push(payload));
    b.subscribe('progress', (payload) => onB.push(payload));
    const envelope = JSON.stringify({ r: a.replicaId, t: 'progress', p: '' }).length;
    const atLimit = 'x'.repeat(maxMessageBytes - envelope);
    await assert.rejects(a.publish('progress', `${atLimit}y`), BusPayloadTooLarge);
    // Bytes, not characters: é is two.
    await assert.rejects(a.publish('progress', 'é'.repeat(atLimit.length / 2 + 1)), BusPayloadTooLarge);
    await assert.rejects(a.publish('progress', undefined), /not JSON/);
    await a.publish('progress', atLimit);
    await until(() => onB.length > 0, 10_000, 'a message at the limit reaches B');
    assert.deepEqual(onA, [atLimit]);
    assert.deepEqual(onB, [atLimit]);

    const local = new InProcessCoordinator(onError);
    await assert.rejects(local.publish('progress', `${atLimit}y`), BusPayloadTooLarge, 'the same limit on one server');
  } finally {
    await a.close();
    await b.close();
  }
});

test('the server ends the bus connection: the replica reconnects, LISTENs again and signals a gap; messages flow again both ways', async () => {
  const url = await postgres.database();
  const [a, b] = await pair(url);
  try {
    let gaps = 0;
    const onA: unknown[] = [];
    a.subscribe('progress', (payload) => onA.push(payload), () => (gaps += 1));
    let bGaps = 0;
    b.subscribe('progress', () => undefined, () => (bGaps += 1));

    assert.equal(await terminate(url, `atelier bus ${a.replicaId}`), 1);
    await until(() => gaps === 1, 5000, 'a gap signalled after reconnecting');
    assert.equal(bGaps, 0, 'the other replica had no gap');

    await b.publish('progress', { after: 'reconnect' });
    await until(() => onA.length === 1, 10_000, 'B reaches A again');
    assert.deepEqual(onA, [{ after: 'reconnect' }]);
    const toB = receive(b, 'progress', 1);
    await a.publish('progress', { from: 'a' });
    assert.deepEqual(await toB, [{ from: 'a' }]);
    assert.ok(errors.some((line) => line.includes(`atelier bus ${a.replicaId}: connection lost`)), 'the loss was reported');
  } finally {
    await a.close();
    await b.close();
  }
});

test('lead: one replica runs the job; when its lock connection is killed its run is aborted and the other takes over within seconds', async () => {
  const url = await postgres.database();
  const [a, b] = await pair(url, { leadRetryMs: 200 });
  try {
    const running = new Set<string>();
    let overlap = false;
    const job = (who: string) => async (signal: AbortSignal) => {
      if (running.size > 0) overlap = true;
      running.add(who);
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      running.delete(who);
    };
    const leadA = a.lead('purge', job('a'));
    await until(() => leadA.leading, 10_000, 'A leads');
    const leadB = b.lead('purge', job('b'));
    await sleep(600);
    assert.deepEqual([...running], ['a'], 'B waits while A holds the lock');
    assert.equal(leadB.leading, false);
    assert.throws(() => a.lead('purge', job('a2')), /already led/);

    const killed = performance.now();
    assert.equal(await terminate(url, `atelier lead ${a.replicaId}`), 1);
    await until(() => running.has('b'), 10_000, 'B takes over');
    const takeover = performance.now() - killed;
    assert.equal(running.has('a'), false, "A's run was aborted");
    assert.equal(leadA.leading, false);
    // Seconds, not a lock held until its TCP connection times out (minutes); the figure is the bench's.
    assert.ok(takeover < 5000, `took over in ${Math.round(takeover)} ms`);

    // B stops: A, reconnected, takes it back.
    await leadB.stop();
    await until(() => running.has('a'), 10_000, 'A leads again once B gives up');
    assert.equal(overlap, false, 'never two runs at once');
    await leadA.stop();
    assert.deepEqual([...running], []);
  } finally {
    await a.close();
    await b.close();
  }
});

test('lead: a run that ends gives the lock back; close releases it for the other replica', async () => {
  const url = await postgres.database();
  const [a, b] = await pair(url);
  try {
    let runsOfA = 0;
    a.lead('once', async () => {
      runsOfA += 1;
    });
    await until(() => runsOfA >= 1, 10_000, 'A runs');
    const onB: string[] = [];
    const leadB = b.lead('once', async (signal) => {
      onB.push('run');
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    });
    await until(() => leadB.leading, 10_000, 'B gets the lock A gave back');
    await b.close();
    const before = runsOfA;
    await until(() => runsOfA > before, 10_000, 'A runs again once B closed');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a periodic job given a leader ticks on the leading replica only, and on the other once the leader\'s connection is killed', async () => {
  const url = await postgres.database();
  const [a, b] = await pair(url);
  const ticks = { a: 0, b: 0 };
  const jobs = (['a', 'b'] as const).map((who, i) =>
    periodic(50, async () => void (ticks[who] += 1), (error) => onError(error, 'job'), { lead: [a, b][i]!.lead, name: 'sweep' }),
  );
  try {
    await until(() => ticks.a + ticks.b >= 5, 10_000, 'the job ticks');
    const leader = ticks.a > 0 ? 'a' : 'b';
    const other = leader === 'a' ? 'b' : 'a';
    assert.equal(ticks[other], 0, 'one replica ticks');
    assert.equal(await terminate(url, `atelier lead ${(leader === 'a' ? a : b).replicaId}`), 1);
    await until(() => ticks[other] >= 3, 10_000, 'the other replica ticks');
    const frozen = ticks[leader];
    await sleep(300);
    assert.equal(ticks[leader], frozen, 'the old leader stopped ticking');
  } finally {
    for (const job of jobs) await job.stop();
    await a.close();
    await b.close();
  }
});
