/**
 * LocalDriver.usage() against a real sandbox (root only): a CPU burner and a 100 MiB allocation
 * run in the lab, and the readings rise by as much; the limits are the ones it was started with.
 * Run: node_modules/.bin/node --test test/integration/lab-usage.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LabHandle } from '../../server/drivers/driver.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { MiB, labSpec, startLab } from '../helpers/driver.ts';

const isRoot = process.getuid?.() === 0;
// A uid range of its own, so this file never meets the labs of another test or of a server.
const driver = new LocalDriver({ uidBase: 210_400, uidCount: 10, cgroupName: 'atelier-test' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function inLab(lab: LabHandle, script: string): Promise<void> {
  const result = await driver.exec(lab, ['bash', '-c', script]);
  assert.equal(result.code, 0, result.stderr);
}

async function reading(lab: LabHandle) {
  const usage = await driver.usage(lab);
  assert.ok(usage, 'the lab has cgroups counting its CPU time and memory');
  return usage;
}

describe('LocalDriver.usage (real sandbox)', { skip: !isRoot && 'needs root' }, () => {
  let lab: LabHandle;

  before(async () => {
    await driver.reapAll();
    lab = await startLab(driver, labSpec('usage-main', { resources: { cpu: 0.5, memory: 256 * MiB, disk: 64 * MiB, pids: 128 } }));
  });

  after(() => driver.close());

  it('reports the limits it was started with, and an idle lab near zero', async () => {
    const first = await reading(lab);
    assert.deepEqual([first.cpu.limit, first.memory.limit], [0.5, 256 * MiB]);
    assert.ok(first.memory.used > 0 && first.memory.used < 64 * MiB, `an idle lab holds little memory: ${first.memory.used}`);
    assert.ok(Math.abs(first.at - Date.now()) < 1000);
    await sleep(1000);
    const idle = await reading(lab);
    assert.ok(idle.cpu.used < 0.1, `idle: ${idle.cpu.used} cores`);
  });

  it('a CPU burner shows as cores used since the previous reading, held to the quota', async () => {
    await reading(lab);
    await inLab(lab, "nohup timeout 6 sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $! >/tmp/burner");
    await sleep(2500);
    const busy = await reading(lab);
    // Half a core at most (the quota), a little over for the accounting's edges; at least a good
    // part of it even on a machine busy with other tests.
    assert.ok(busy.cpu.used > 0.25 && busy.cpu.used < 0.65, `burning: ${busy.cpu.used} cores`);
    await inLab(lab, 'kill $(cat /tmp/burner)');
    await sleep(600);
    await reading(lab);
    await sleep(1000);
    const after = await reading(lab);
    assert.ok(after.cpu.used < 0.1, `after the burner: ${after.cpu.used} cores`);
  });

  it('readings too close together repeat the previous one instead of dividing noise', async () => {
    const a = await reading(lab);
    const b = await reading(lab);
    assert.equal(b.cpu.used, a.cpu.used);
    assert.ok(b.at >= a.at);
  });

  it('100 MiB allocated in the lab show in its memory', async () => {
    const before = await reading(lab);
    await inLab(
      lab,
      `nohup python3 -c "
import time
block = b'x' * (100 * 1024 * 1024)
open('/tmp/allocated', 'w').close()
time.sleep(30)
" >/dev/null 2>&1 & echo $! >/tmp/holder
for i in $(seq 100); do [ -e /tmp/allocated ] && exit 0; sleep 0.1; done; exit 1`,
    );
    const holding = await reading(lab);
    const grown = holding.memory.used - before.memory.used;
    assert.ok(grown >= 95 * MiB && grown < 160 * MiB, `grew by ${(grown / MiB).toFixed(1)} MiB`);
    await inLab(lab, 'kill $(cat /tmp/holder)');
  });

  it('a stopped lab has no usage', async () => {
    const other = await startLab(driver, labSpec('usage-stopped'));
    assert.ok(await driver.usage(other));
    await driver.stop(other);
    assert.equal(await driver.usage(other), undefined);
  });
});
