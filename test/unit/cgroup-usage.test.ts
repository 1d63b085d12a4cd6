/**
 * What a lab's cgroups say it consumes (the dock's Monitoring tab), read from fake v1 and v2
 * trees in a temporary directory: the same files the kernel shows, written by hand.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLabCgroup, flatKey, labCgroupDirs, parseCpuMax, readLabUsage, setupCgroups } from '../../server/drivers/local/cgroups.ts';

const MiB = 1024 * 1024;
const uid = 200_042;
const resources = { cpu: 1.5, memory: 512 * MiB, disk: MiB, pids: 64 };
let root = '';

function tree(prefix: string): string {
  root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return root;
}

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('cgroup usage, v2', () => {
  function v2(): { base: string; dir: string } {
    const base = tree('cg2-usage-');
    fs.writeFileSync(path.join(base, 'cgroup.controllers'), 'cpu memory pids\n');
    fs.writeFileSync(path.join(base, 'cgroup.subtree_control'), '');
    fs.mkdirSync(path.join(base, 'atelier'));
    fs.writeFileSync(path.join(base, 'atelier', 'cgroup.subtree_control'), 'memory pids cpu');
    return { base, dir: path.join(base, 'atelier', `lab-${uid}`) };
  }

  it('reads CPU time, memory and the limits the lab was given', () => {
    const { base, dir } = v2();
    const setup = setupCgroups(base, 'atelier');
    createLabCgroup(setup, uid, resources);
    fs.writeFileSync(path.join(dir, 'cpu.stat'), 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 0\n');
    fs.writeFileSync(path.join(dir, 'memory.current'), `${210 * MiB}\n`);
    const usage = readLabUsage(setup, uid);
    assert.equal(usage.cpuUsec, 2_500_000);
    assert.equal(usage.memoryBytes, 210 * MiB);
    assert.equal(usage.cpuLimit, 1.5, 'cpu.max as createLabCgroup wrote it');
    assert.equal(usage.memoryLimit, 512 * MiB);
    const since = usage.cpuSince ?? NaN;
    assert.ok(Math.abs(since - fs.statSync(dir).ctimeMs) < 1, 'the first window starts at the group');
  });

  it('says nothing it cannot read: no memory controller, no limits', () => {
    const { base, dir } = v2();
    fs.writeFileSync(path.join(base, 'cgroup.controllers'), 'cpu pids\n');
    fs.writeFileSync(path.join(base, 'atelier', 'cgroup.subtree_control'), 'pids cpu');
    const setup = setupCgroups(base, 'atelier');
    createLabCgroup(setup, uid, resources);
    fs.writeFileSync(path.join(dir, 'cpu.stat'), 'usage_usec 7\n');
    fs.writeFileSync(path.join(dir, 'cpu.max'), 'max 100000\n');
    assert.deepEqual(Object.keys(readLabUsage(setup, uid)).sort(), ['cpuSince', 'cpuUsec']);
  });

  it('a lab without a group reads as nothing', () => {
    const { base } = v2();
    assert.deepEqual(readLabUsage(setupCgroups(base, 'atelier'), uid), {});
  });
});

describe('cgroup usage, v1', () => {
  /** A Debian-like v1 mount: cpu and cpuacct are links to one cpu,cpuacct hierarchy. */
  function v1(options: { cpuacct: boolean }): string {
    const base = tree('cg1-usage-');
    for (const h of ['memory', 'pids', options.cpuacct ? 'cpu,cpuacct' : 'cpu']) {
      fs.mkdirSync(path.join(base, h));
      fs.writeFileSync(path.join(base, h, 'cgroup.procs'), '');
    }
    if (options.cpuacct) {
      fs.symlinkSync('cpu,cpuacct', path.join(base, 'cpu'));
      fs.symlinkSync('cpu,cpuacct', path.join(base, 'cpuacct'));
    }
    return base;
  }

  it('joins cpuacct (once where it shares cpu\'s mount) and reads it', () => {
    const base = v1({ cpuacct: true });
    const setup = setupCgroups(base, 'atelier');
    assert.equal(setup.mode, 'v1');
    const cpuDir = path.join(base, 'cpu,cpuacct', 'atelier', `lab-${uid}`);
    const memoryDir = path.join(base, 'memory', 'atelier', `lab-${uid}`);
    const cg = createLabCgroup(setup, uid, resources);
    assert.deepEqual(cg.dirs.sort(), [cpuDir, memoryDir, path.join(base, 'pids', 'atelier', `lab-${uid}`)].sort());
    assert.deepEqual(labCgroupDirs(setup, uid).sort(), cg.dirs.sort());
    fs.writeFileSync(path.join(cpuDir, 'cpuacct.usage'), '1234567000\n');
    fs.writeFileSync(path.join(memoryDir, 'memory.usage_in_bytes'), `${99 * MiB}\n`);
    const usage = readLabUsage(setup, uid);
    assert.equal(usage.cpuUsec, 1_234_567);
    assert.equal(usage.memoryBytes, 99 * MiB);
    assert.equal(usage.cpuLimit, 1.5, 'cfs quota over period');
    assert.equal(usage.memoryLimit, 512 * MiB);
    assert.ok(usage.cpuSince !== undefined && Math.abs(usage.cpuSince - fs.statSync(cpuDir).ctimeMs) < 1);
  });

  it('reads no limit where the kernel says none, and no CPU time without cpuacct', () => {
    const base = v1({ cpuacct: false });
    const setup = setupCgroups(base, 'atelier');
    assert.ok(setup.problems.some((p) => p.includes('cpuacct')), 'the operator is told');
    createLabCgroup(setup, uid, resources);
    const memoryDir = path.join(base, 'memory', 'atelier', `lab-${uid}`);
    const cpuDir = path.join(base, 'cpu', 'atelier', `lab-${uid}`);
    fs.writeFileSync(path.join(memoryDir, 'memory.limit_in_bytes'), '9223372036854771712\n');
    fs.writeFileSync(path.join(memoryDir, 'memory.usage_in_bytes'), '4096\n');
    fs.writeFileSync(path.join(cpuDir, 'cpu.cfs_quota_us'), '-1\n');
    assert.deepEqual(readLabUsage(setup, uid), { memoryBytes: 4096 });
  });

  it('cpuacct alone is no cgroup setup (nothing to limit with)', () => {
    const base = tree('cg1-acct-');
    fs.mkdirSync(path.join(base, 'cpuacct'));
    fs.writeFileSync(path.join(base, 'cpuacct', 'cgroup.procs'), '');
    const setup = setupCgroups(base, 'atelier');
    assert.equal(setup.mode, 'none');
    assert.deepEqual(setup.parents, {});
  });
});

describe('cgroup file formats', () => {
  it('cpu.max: quota over period, "max" is no quota', () => {
    assert.equal(parseCpuMax('50000 100000\n'), 0.5);
    assert.equal(parseCpuMax('max 100000'), undefined);
    assert.equal(parseCpuMax('garbage'), undefined);
  });

  it('flat keys: the exact key only', () => {
    const stat = 'usage_usec 10\nuser_usec 7\nsystem_usec 3\n';
    assert.equal(flatKey(stat, 'usage_usec'), 10);
    assert.equal(flatKey(stat, 'system_usec'), 3);
    assert.equal(flatKey(stat, 'usec'), undefined);
  });
});
