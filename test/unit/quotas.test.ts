/**
 * Launch quotas, the launch queue's bookkeeping and wait estimate, and the configuration of both
 * (environment → limits, validated), without a server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labQuotaRefusal, RateLimiter } from '../../server/labs/quotas.ts';
import { LaunchQueue, StartStatistics, estimateWaitSeconds } from '../../server/labs/queue.ts';
import { loadConfig, ConfigError } from '../../server/config.ts';
import { scrub } from '../../server/labs/sessions.ts';

test('labs per learner and per client address: queued labs count, other learners do not', () => {
  const limits = { maxLabsPerLearner: 3, maxLabsPerClient: 400 };
  const nat = '203.0.113.7';
  // A class of 150 behind one address, one lab each: everyone gets theirs.
  const live = Array.from({ length: 150 }, (_, i) => ({ owner: nat, learnerId: `student-${i}` }));
  assert.equal(labQuotaRefusal(live, { owner: nat, learnerId: 'student-150' }, limits), undefined);
  // One learner with three labs (whatever their state) is at their quota.
  const mine = [...live, { owner: nat, learnerId: 'me' }, { owner: nat, learnerId: 'me' }, { owner: '198.51.100.1', learnerId: 'me' }];
  assert.deepEqual(labQuotaRefusal(mine, { owner: nat, learnerId: 'me' }, limits), { code: 'too_many_labs', scope: 'learner', max: 3 });
  // The address cap applies to everyone behind it.
  const full = Array.from({ length: 400 }, (_, i) => ({ owner: nat, learnerId: `s${i}` }));
  assert.deepEqual(labQuotaRefusal(full, { owner: nat, learnerId: 'new' }, limits), { code: 'too_many_labs', scope: 'client', max: 400 });
  assert.equal(labQuotaRefusal(full, { owner: '198.51.100.2', learnerId: 'new' }, limits), undefined, 'another address is not affected');
  // Without a learner, only the address counts.
  assert.equal(labQuotaRefusal(mine, { owner: '198.51.100.1' }, limits), undefined);
});

test('rate limiter: a sliding window per key, Retry-After when the oldest launch leaves it', () => {
  let now = 1_000_000;
  const limiter = new RateLimiter(3, 60_000, () => now);
  for (let i = 0; i < 3; i += 1) {
    assert.equal(limiter.retryAfterMs('alice'), 0);
    limiter.hit('alice');
    now += 10_000;
  }
  // Launches at t0, t0+10s, t0+20s; now t0+30s: the first leaves the window at t0+60s.
  assert.equal(limiter.retryAfterMs('alice'), 30_000);
  assert.equal(limiter.retryAfterMs('bob'), 0, 'other keys are independent');
  now += 29_999;
  assert.equal(limiter.retryAfterMs('alice'), 1);
  now += 1;
  assert.equal(limiter.retryAfterMs('alice'), 0);
  limiter.hit('alice');
  assert.equal(limiter.retryAfterMs('alice'), 10_000, 'the next oldest (t0+10s) leaves at t0+70s');
  // Silent keys are swept as the map grows.
  for (let i = 0; i < 3000; i += 1) limiter.hit(`k${i}`);
  now += 120_000;
  for (let i = 0; i < 3000; i += 1) limiter.hit(`later${i}`);
  assert.ok(limiter.size <= 3000 + 1, `old keys swept (size ${limiter.size})`);
  assert.throws(() => new RateLimiter(0, 1000), RangeError);
});

test('launch queue: first come first served, removal from the middle moves the others up', () => {
  const queue = new LaunchQueue();
  assert.equal(queue.push('a'), 1);
  assert.equal(queue.push('b'), 2);
  assert.equal(queue.push('c'), 3);
  assert.equal(queue.position('c'), 3);
  assert.equal(queue.remove('b'), true);
  assert.equal(queue.remove('b'), false);
  assert.equal(queue.position('c'), 2);
  assert.equal(queue.shift(), 'a');
  assert.equal(queue.position('c'), 1);
  assert.equal(queue.position('a'), undefined);
  assert.equal(queue.size, 1);
});

test('start statistics: mean of recent starts, departures per unit of time', () => {
  let now = 0;
  const stats = new StartStatistics({ keep: 3, departureWindowMs: 600_000, now: () => now });
  assert.equal(stats.averageStartMs(500), 500, 'fallback before any start');
  for (const ms of [100, 200, 300, 1000]) stats.recordStart(ms);
  assert.equal(stats.averageStartMs(), 500, 'only the last 3 starts');
  assert.equal(stats.departureRate(), 0);
  for (let i = 0; i < 10; i += 1) {
    stats.recordDeparture();
    now += 6_000;
  }
  // 10 departures over 60 s.
  assert.ok(Math.abs(stats.departureRate() - 10 / 60_000) < 1e-9, String(stats.departureRate()));
  now += 700_000;
  assert.equal(stats.departureRate(), 0, 'old departures leave the window');
});

test('wait estimate: the starts ahead when there is capacity, the departures needed when full', () => {
  const base = { active: 0, maxActive: 300, maxStarting: 8, averageStartMs: 400, departureRate: 0, dueInMs: [] };
  // Room, only the concurrent-starts cap: position 20 waits for 3 rounds of starts.
  assert.equal(estimateWaitSeconds({ ...base, position: 20 }), Math.ceil((3 * 400) / 1000));
  assert.equal(estimateWaitSeconds({ ...base, position: 1 }), 1, 'at least one second');
  // Full: position 2 needs 2 departures; labs are due in 10 min, 20 min, 1 h.
  const full = { ...base, active: 300, position: 2, dueInMs: [3600_000, 600_000, 1200_000] };
  assert.equal(estimateWaitSeconds(full), 1200 + 1);
  // With labs leaving at 1 per 30 s recently, the rate says one minute.
  assert.equal(estimateWaitSeconds({ ...full, departureRate: 1 / 30_000 }), 60 + 1);
  // More departures needed than labs known to leave, and no rate: an hour, not a crash.
  assert.equal(estimateWaitSeconds({ ...full, position: 5, dueInMs: [] }), 3600 + 1);
});

test('configuration: quotas and queue from the environment, with defaults and one-line errors', () => {
  const defaults = loadConfig({});
  assert.deepEqual(
    { ...defaults.limits },
    {
      maxTtl: 4 * 3600_000,
      maxLabs: 300,
      maxLabsPerClient: 400,
      maxLabsPerLearner: 3,
      launchesPerMinute: 10,
      maxStarting: 8,
      maxQueue: 1000,
      maxLifetime: 8 * 3600_000,
      maxIdle: 2 * 3600_000,
    },
  );
  assert.deepEqual(defaults.labUids, { base: 200_000, count: 10_000 });
  const set = loadConfig({
    ATELIER_MAX_LABS_PER_LEARNER: '5',
    ATELIER_LAUNCHES_PER_MINUTE: '20',
    ATELIER_MAX_STARTING: '4',
    ATELIER_MAX_QUEUE: '0',
    ATELIER_MAX_LIFETIME: '12h',
    ATELIER_EXTEND_STEP: '30m',
    ATELIER_MAX_IDLE: '45m',
    ATELIER_LAB_UID_BASE: '300000',
    ATELIER_LAB_UID_COUNT: '500',
  });
  assert.equal(set.limits.maxLabsPerLearner, 5);
  assert.equal(set.limits.launchesPerMinute, 20);
  assert.equal(set.limits.maxStarting, 4);
  assert.equal(set.limits.maxQueue, 0);
  assert.equal(set.limits.maxLifetime, 12 * 3600_000);
  assert.equal(set.limits.extendStep, 30 * 60_000);
  assert.equal(set.limits.maxIdle, 45 * 60_000);
  assert.deepEqual(set.labUids, { base: 300_000, count: 500 });
  for (const [env, name] of [
    [{ ATELIER_MAX_LABS_PER_LEARNER: '0' }, 'ATELIER_MAX_LABS_PER_LEARNER'],
    [{ ATELIER_LAUNCHES_PER_MINUTE: 'lots' }, 'ATELIER_LAUNCHES_PER_MINUTE'],
    [{ ATELIER_MAX_STARTING: '-1' }, 'ATELIER_MAX_STARTING'],
    [{ ATELIER_EXTEND_STEP: 'soon' }, 'ATELIER_EXTEND_STEP'],
    [{ ATELIER_MAX_LIFETIME: '1h' }, 'ATELIER_MAX_LIFETIME'],
    [{ ATELIER_LAB_UID_COUNT: '10' }, 'ATELIER_LAB_UID_COUNT'],
  ] as const) {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => error instanceof ConfigError && error.message.includes(`${name}=`),
      `${JSON.stringify(env)} names ${name}`,
    );
  }
});

test('scrub masks every environment value of a lab in error texts', () => {
  const env = { GIT_PERSONAL_ACCESS_TOKEN: 'tok-123456', AWS_SECRET_ACCESS_KEY: 'abcd/efgh+ijkl', SHORT: 'ab' };
  const text = "fatal: unable to access 'http://u:tok-123456@127.0.0.1/x.git' (key abcd/efgh+ijkl) ab";
  assert.equal(scrub(text, env), "fatal: unable to access 'http://u:[redacted]@127.0.0.1/x.git' (key [redacted]) ab");
});
