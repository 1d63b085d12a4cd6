/**
 * The terminal screen mirror's parts: flow-control rules, slicing, the fair scheduler (on a fake
 * clock, with mirrors whose cost is simulated), the real headless mirror, and the worker pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { CpuBudget, Watermarks } from '../../server/terminal/flow.ts';
import { MirrorScheduler, sliceEnd, type Mirror, type SchedulerOptions } from '../../server/terminal/mirror-scheduler.ts';
import { ScreenMirror } from '../../server/terminal/screen-mirror.ts';
import { MirrorPool } from '../../server/terminal/mirror-pool.ts';

test('watermarks pause above high and resume only below low', () => {
  const flow = new Watermarks(100, 10);
  assert.equal(flow.update(100), false);
  assert.equal(flow.update(101), true);
  assert.equal(flow.paused, true);
  assert.equal(flow.update(50), false, 'between the marks it stays paused');
  assert.equal(flow.update(9), true);
  assert.equal(flow.paused, false);
  assert.throws(() => new Watermarks(10, 10), RangeError);
});

test('a CPU budget refills at its share, up to its burst, and says when it is ready again', () => {
  const budget = new CpuBudget(0.1, 50, 0);
  assert.equal(budget.available(0), true);
  budget.charge(80, 0);
  assert.equal(budget.available(0), false);
  const ready = budget.readyAt(0);
  assert.ok(ready > 299 && ready < 301, `ready at ${ready}`);
  assert.equal(budget.available(ready - 1), false);
  assert.equal(budget.available(ready), true);
  assert.equal(budget.available(1_000_000), true);
  budget.charge(50, 1_000_000);
  assert.equal(budget.available(1_000_000), false, 'the burst is capped: a long idle time saves no more than it');
});

test('slices stop at the escape-introducer limit or the length limit, never empty', () => {
  const text = 'ab\x1b[1mcd\x1b[2me\x9bf';
  assert.equal(sliceEnd(text, 0, 100, 1), text.indexOf('\x1b[2m'));
  assert.equal(sliceEnd(text, 0, 100, 3), text.length);
  assert.equal(sliceEnd(text, 0, 3, 8), 3);
  assert.equal(sliceEnd('\x1bc\x1bc', 0, 100, 0), 2, 'a slice holds at least one sequence');
  assert.equal(sliceEnd('\x1bc'.repeat(100), 10, 1000, 8), 10 + 16);
});

/** A fake clock, and mirrors that cost `perChar` ms per character (`perEscape` per ESC) on it. */
function simulated(options: Partial<SchedulerOptions> = {}) {
  let now = 0;
  const scheduler = new MirrorScheduler({
    clock: () => now,
    sliceChars: 1024,
    sliceEscapes: 8,
    share: 0.1,
    burstMs: 50,
    catchUpShare: 0.5,
    groupShare: 1,
    groupBurstMs: 1_000,
    behindMs: 2_000,
    caughtUpMs: 500,
    ...options,
  });
  const mirror = (perChar: number, perEscape: number) => {
    const parsed: string[] = [];
    const self: Mirror & { parsed: string[]; size: string } = {
      parsed,
      size: '80x24',
      parse: (data) => {
        parsed.push(data);
        now += data.length * perChar + (data.match(/\x1b/g)?.length ?? 0) * perEscape;
      },
      resize: (cols, rows) => {
        self.size = `${cols}x${rows}`;
        now += 5;
      },
      serialize: () => `${self.size}:${parsed.join('')}`,
      dispose: () => {},
    };
    return self;
  };
  return { scheduler, mirror, advance: (ms: number) => (now += ms), now: () => now };
}

test('a flooding shell is held to its share while a light one keeps up', () => {
  const { scheduler, mirror, advance, now } = simulated();
  const flood = mirror(0.001, 0.5);
  const light = mirror(0.0001, 0.01);
  scheduler.open(1, flood, 'learner-1');
  scheduler.open(2, light, 'learner-2');
  const resets = '\x1bc'.repeat(100_000);
  scheduler.write(1, resets);
  let lightLatencyMax = 0;
  let floodBusy = 0;
  for (let second = 0; second < 10; second++) {
    const typed = now();
    scheduler.write(2, `echo ${second}\r\n`);
    const end = now() + 1000;
    while (now() < end) {
      const before = flood.parsed.length;
      const started = now();
      const wait = scheduler.run(8);
      if (flood.parsed.length > before) floodBusy += now() - started;
      const report = scheduler.takeReport();
      if (report.parsed.some(([id]) => id === 2)) lightLatencyMax = Math.max(lightLatencyMax, now() - typed);
      advance(wait === Infinity ? end - now() : Math.max(wait, 0.5));
    }
  }
  assert.ok(floodBusy < 0.1 * 10_000 + 50 + 10, `the flood used ${floodBusy} ms of 10 s`);
  assert.ok(floodBusy > 0.1 * 10_000 * 0.8, `the flood got only ${floodBusy} ms: its share is not given`);
  assert.ok(lightLatencyMax < 10, `the light shell waited up to ${lightLatencyMax} ms`);
  assert.ok(flood.parsed.every((slice) => (slice.match(/\x1b/g)?.length ?? 0) <= 8), 'a slice held more than 8 sequences');
});

test('the shells of one learner share a group budget; another learner keeps their own', () => {
  const { scheduler, mirror, advance, now } = simulated({ groupShare: 0.15, groupBurstMs: 50 });
  const floods = [1, 2, 3].map(() => mirror(0.001, 0.5));
  const other = mirror(0.001, 0.5);
  floods.forEach((flood, index) => scheduler.open(index + 1, flood, 'attacker'));
  scheduler.open(9, other, 'someone');
  for (const id of [1, 2, 3, 9]) scheduler.write(id, '\x1bc'.repeat(100_000));
  const busy = new Map<number, number>();
  const end = now() + 10_000;
  while (now() < end) {
    const wait = scheduler.run(8);
    for (const [id, characters] of scheduler.takeReport().parsed) busy.set(id, (busy.get(id) ?? 0) + characters);
    advance(wait === Infinity ? end - now() : Math.max(wait, 0.5));
  }
  // ~0.25 ms per character: the attacker's three shells together get ~15 % (1.5 s of 10 s), the other one its 10 %.
  const attacker = (busy.get(1) ?? 0) + (busy.get(2) ?? 0) + (busy.get(3) ?? 0);
  assert.ok(attacker * 0.25 < 1_500 + 50 + 20, `the attacker's shells used ${attacker * 0.25} ms`);
  assert.ok((busy.get(9) ?? 0) * 0.25 > 900, `the other learner's shell got ${(busy.get(9) ?? 0) * 0.25} ms`);
  assert.ok([1, 2, 3].every((id) => (busy.get(id) ?? 0) > attacker / 5), `one shell of the group starved: ${[...busy]}`);
});

test('a shell whose queue would take seconds of its budget is reported behind, then caught up', () => {
  const { scheduler, mirror, advance } = simulated();
  scheduler.open(1, mirror(0.001, 0.5), 'learner-1');
  scheduler.write(1, '\x1bc'.repeat(1000));
  const events: Array<[number, boolean]> = [];
  let parsed = 0;
  for (let turn = 0; turn < 10_000; turn++) {
    const wait = scheduler.run(8);
    const report = scheduler.takeReport();
    events.push(...report.behind);
    parsed += report.parsed.reduce((sum, [, n]) => sum + n, 0);
    if (wait === Infinity) break;
    advance(wait);
  }
  // 1000 resets at 0.5 ms each are 500 ms of work: 5 s of a 10 % share, past the 2 s mark.
  assert.deepEqual(events, [[1, true], [1, false]]);
  assert.equal(parsed, 2000);
});

test('a viewer waiting for the screen of a flooding shell waits for its queue at the catch-up share', () => {
  const { scheduler, mirror, advance, now } = simulated();
  scheduler.open(1, mirror(0.001, 0.5), 'learner-1');
  scheduler.write(1, '\x1bc'.repeat(1000));
  scheduler.snapshot(1, 5);
  let answered: number | undefined;
  for (let turn = 0; turn < 10_000 && answered === undefined; turn++) {
    const wait = scheduler.run(8);
    if (scheduler.takeReport().snapshots.length > 0) answered = now();
    else advance(wait);
  }
  // 500 ms of work: at 50 % (with the burst) about as long, where 10 % would take 4.5 s.
  assert.ok(answered !== undefined && answered >= 500 && answered < 1_000, `answered at ${answered} ms`);
});

test('a snapshot sees exactly what was written before it; a burst of resizes is one reflow', () => {
  const { scheduler, mirror } = simulated();
  const shell = mirror(0.0001, 0);
  scheduler.open(7, shell, 'learner-7');
  scheduler.write(7, 'before ');
  scheduler.resize(7, 100, 30);
  scheduler.resize(7, 120, 40);
  scheduler.resize(7, 132, 43);
  scheduler.snapshot(7, 1);
  scheduler.write(7, 'after');
  while (scheduler.run(8) === 0);
  const report = scheduler.takeReport();
  assert.deepEqual(report.snapshots, [[1, '132x43:before ']]);
  assert.equal(report.parsed[0]?.[1], 'before after'.length);
  scheduler.snapshot(99, 2);
  assert.deepEqual(scheduler.takeReport().snapshots, [[2, '']], 'a closed shell answers an empty screen');
});

test('the headless mirror caps repeat counts and replays its screen', () => {
  const mirror = new ScreenMirror(300, 100);
  try {
    const started = performance.now();
    mirror.parse('X\x1b[2147483647b\x1b[2147483647S\x1b[2147483647L\x1b[2147483647M\x1b[2147483647T');
    const ms = performance.now() - started;
    assert.ok(ms < 1_000, `huge counts took ${ms} ms`);
    mirror.parse('\x1bc\x1b[31mhello\x1b[0m world\r\n');
    assert.match(mirror.serialize(), /hello.*world/);
    mirror.resize(80, 24);
    assert.equal(mirror.cols, 80);
  } finally {
    mirror.dispose();
  }
});

test('long OSC and DCS payloads (titles, reports) cost the mirror no memory', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const mirror = new ScreenMirror(80, 24);
  try {
    gc();
    const before = process.memoryUsage().heapUsed;
    const payload = 'x'.repeat(2_000_000);
    for (const [open, close] of [['\x1b]0;', '\x07'], ['\x1b]8;;', '\x1b\\'], ['\x1bP$q', '\x1b\\']]) {
      const text = `${open}${payload}${close}`;
      for (let at = 0; at < text.length; at += 16 * 1024) mirror.parse(text.slice(at, at + 16 * 1024));
    }
    mirror.parse('still here');
    gc();
    const grown = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
    // xterm's own handlers keep ~64 MB for a 2 MB title.
    assert.ok(grown < 16, `the heap grew by ${grown.toFixed(0)} MB`);
    assert.match(mirror.serialize(), /still here/);
  } finally {
    mirror.dispose();
  }
});

test('the worker pool mirrors shells off the main thread and answers snapshots in order', async () => {
  const pool = new MirrorPool({ size: 2 });
  try {
    const parsed = [0, 0];
    const mirrors = [0, 1].map((index) => pool.open({ cols: 80, rows: 24 }, { parsed: (n) => (parsed[index]! += n), behind: () => {} }, `learner-${index}`));
    mirrors[0]!.write('first shell\r\n');
    mirrors[1]!.write('second shell\r\n');
    mirrors[0]!.resize({ cols: 100, rows: 30 });
    const [one, two] = await Promise.all(mirrors.map((mirror) => mirror.snapshot()));
    assert.match(one!, /first shell/);
    assert.doesNotMatch(one!, /second/);
    assert.match(two!, /second shell/);
    assert.deepEqual(parsed, ['first shell\r\n'.length, 'second shell\r\n'.length]);
    assert.equal(mirrors[0]!.pending, 0);
    mirrors[1]!.close();
    assert.equal(pool.mirrors, 1);
    assert.equal(await mirrors[1]!.snapshot(), '');
  } finally {
    await pool.close();
  }
});

test('a worker that dies is replaced: its shells get blank mirrors, nothing stays pending', { timeout: 30_000 }, async () => {
  // A heap too small for a full 300×100 mirror of combining characters: the worker runs out.
  const errors: unknown[] = [];
  const pool = new MirrorPool({ size: 1, resourceLimits: { maxOldGenerationSizeMb: 12, maxYoungGenerationSizeMb: 4 }, error: (error) => errors.push(error) });
  // Idle workers are unref'd: keep this process up while one is replaced.
  const alive = setInterval(() => {}, 1_000);
  try {
    const big = pool.open({ cols: 300, rows: 100 }, { parsed: () => {}, behind: () => {} }, 'a');
    const small = pool.open({ cols: 80, rows: 24 }, { parsed: () => {}, behind: () => {} }, 'b');
    small.write('small shell');
    assert.match(await small.snapshot(), /small shell/);
    const line = `${'e\u0301'.repeat(299)}\r\n`;
    for (let n = 0; n < 1200; n++) big.write(line);
    assert.equal(await big.snapshot(), '', 'the snapshot asked of the dead worker answers an empty screen');
    assert.match(String(errors[0]), /ERR_WORKER_OUT_OF_MEMORY/);
    assert.equal(big.pending, 0, 'what was in flight is released (no pty stays paused on it)');
    big.write('after the crash');
    assert.match(await big.snapshot(), /after the crash/);
    assert.doesNotMatch(await small.snapshot(), /small shell/, 'the other shell of the worker starts blank');
  } finally {
    clearInterval(alive);
    await pool.close();
  }
});
