import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FD,
  LAB_PYTHON_DIR,
  LAB_CODE_SERVER_DIR,
  SERVICE_SOCKET_DIR,
  PROC_READONLY,
  bwrapArgs,
  checkGatewayPort,
  checkWorkspace,
  diskSplit,
  encodeEnv,
  helperArgs,
  hostnameFor,
  hostsFile,
  keeperArgv,
  labEnv,
  passwdFile,
} from '../../server/drivers/local/sandbox-args.ts';
import { createLabCgroup, labCgroupDirs, setupCgroups } from '../../server/drivers/local/cgroups.ts';
import { SeccompError, labSeccompFilter } from '../../server/drivers/local/seccomp.ts';

const host = {
  symlinks: { '/bin': 'usr/bin', '/lib': 'usr/lib' },
  dirs: ['/lib64'],
  etc: ['/etc/ld.so.cache', '/etc/profile'],
  procMasked: { files: ['/proc/kcore', '/proc/keys'], dirs: ['/proc/acpi'] },
};
const base = { instanceId: 's1', labId: 'Datalab Discovery!', workspace: '/home/onyxia/work', homeBytes: 3 << 20, tmpBytes: 1 << 20, shmBytes: 1 << 20, network: 'none' as const, host };

/** Value following a flag (first occurrence after `from`). */
const after = (a: string[], flag: string, from = 0) => a[a.indexOf(flag, from) + 1];
/** Sources of the host binds, in order. */
const bindSources = (a: string[]) => a.flatMap((x, i) => (x === '--bind' || x === '--ro-bind' || x === '--ro-bind-try' ? [a[i + 1]] : []));
const HOST_BINDS = ['/usr', '/lib64', '/etc/ld.so.cache', '/etc/profile', ...PROC_READONLY, LAB_PYTHON_DIR, LAB_CODE_SERVER_DIR];

describe('bwrapArgs', () => {
  const a = bwrapArgs(base);
  it('unshares everything, forbids nested user namespaces, dies with its parent', () => {
    for (const f of ['--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent']) assert.ok(a.includes(f), f);
    assert.ok(!a.includes('--share-net'));
    assert.ok(bwrapArgs({ ...base, network: 'host' }).includes('--share-net'));
    assert.ok(!a.includes('--new-session'), 'no --new-session: it breaks job control');
  });
  it('runs as uid/gid 1000 with a sanitized hostname', () => {
    assert.equal(after(a, '--uid'), '1000');
    assert.equal(after(a, '--gid'), '1000');
    assert.equal(after(a, '--hostname'), 'datalab-discovery');
  });
  it('binds only /usr, the host symlinks and chosen /etc files, read-only', () => {
    const binds = bindSources(a);
    assert.deepEqual(binds, HOST_BINDS);
    assert.ok(!a.includes('--bind'), 'no writable host bind');
    assert.equal(after(a, '--symlink'), 'usr/bin');
    for (const forbidden of ['/', '/etc', '/root', '/home', '/proc', '/work', '/var', '/run', '/etc/shadow']) {
      assert.ok(!binds.includes(forbidden), forbidden);
    }
  });
  it('own /proc, /dev; capped tmpfs for home, /tmp, /dev/shm; read-only root and /dev', () => {
    assert.equal(after(a, '--proc'), '/proc');
    assert.equal(after(a, '--dev'), '/dev');
    const i = a.indexOf(path.posix.join('/home/onyxia'), a.indexOf('--tmpfs'));
    assert.equal(a[i - 1], '--tmpfs');
    assert.equal(a[i - 2], String(3 << 20));
    assert.equal(a[i - 3], '--size');
    assert.equal(a[i - 4], '0700');
    const rro = a.flatMap((x, j) => (x === '--remount-ro' ? [a[j + 1]] : []));
    assert.deepEqual(rro, ['/proc/acpi', '/dev', '/']);
    assert.equal(after(a, '--chdir'), '/home/onyxia/work');
    assert.deepEqual(a.slice(-3), ['--', '/usr/bin/sleep', 'infinity']);
  });
  it('masks host-wide /proc files as runc does: files read as /dev/null, directories as an empty read-only tmpfs', () => {
    const proc = a.indexOf('--proc');
    for (const f of ['/proc/kcore', '/proc/keys']) {
      const i = a.indexOf(f);
      assert.deepEqual(a.slice(i - 2, i + 1), ['--dev-bind', '/dev/null', f]);
      assert.ok(i > proc, `${f} is masked after /proc is mounted`);
    }
    const i = a.indexOf('--tmpfs', proc);
    assert.deepEqual(a.slice(i - 4, i + 4), ['--perms', '0555', '--size', '4096', '--tmpfs', '/proc/acpi', '--remount-ro', '/proc/acpi']);
    for (const p of PROC_READONLY) {
      const j = a.indexOf(p);
      assert.deepEqual(a.slice(j - 1, j + 2), ['--ro-bind-try', p, p], `${p} is read-only`);
      assert.ok(j > proc);
    }
  });
  it('/dev/pts is the helper’s devpts instance (capped), bound over the one --dev makes', () => {
    const dev = a.indexOf('--dev');
    const i = a.indexOf('--dev-bind', dev);
    assert.deepEqual(a.slice(i, i + 3), ['--dev-bind', '/dev/pts', '/dev/pts']);
    assert.equal(a.filter((x) => x === '--dev-bind').length, 3, 'two masked files and /dev/pts: nothing else of /dev');
  });
  it('every process runs under the seccomp filter read from its fd', () => {
    assert.equal(after(a, '--seccomp'), String(FD.seccomp));
    assert.ok(a.indexOf('--seccomp') < a.indexOf('--'), 'a bwrap option, not part of the command');
    const fds = Object.values(FD);
    assert.equal(new Set(fds).size, fds.length, 'one descriptor per purpose');
  });
  it('passes /etc/passwd and friends as data fds', () => {
    assert.equal(after(a, '--ro-bind-data'), '4');
    assert.match(passwdFile(), /^onyxia:x:1000:1000:onyxia:\/home\/onyxia:\/bin\/bash$/m);
  });
});

describe('bwrapArgs with a gateway', () => {
  const a = bwrapArgs({ ...base, gateway: { port: 4321 } });
  it('keeper: perl gateway.pl <port> <fd> -- sleep infinity, from a data fd on the read-only root', () => {
    assert.deepEqual(a.slice(a.indexOf('--') + 1), ['/usr/bin/perl', '/run/atelier/gateway.pl', '4321', '7', '--', '/usr/bin/sleep', 'infinity']);
    assert.deepEqual(keeperArgv(), ['/usr/bin/sleep', 'infinity']);
    const i = a.indexOf('/run/atelier/gateway.pl');
    assert.deepEqual(a.slice(i - 4, i), ['--perms', '0444', '--ro-bind-data', '8']);
    assert.ok(a.indexOf('/run/atelier/gateway.pl') < a.lastIndexOf('--remount-ro'), 'created before / goes read-only');
  });
  it('the socket is a symlink to the keeper’s descriptor: no host path is bound, the network stays unshared', () => {
    const i = a.indexOf('/run/atelier/gateway.sock');
    assert.deepEqual(a.slice(i - 2, i + 1), ['--symlink', '/proc/2/fd/7', '/run/atelier/gateway.sock']);
    assert.ok(!a.includes('--share-net'));
    assert.ok(!a.includes('--bind'));
    assert.deepEqual(bindSources(a), HOST_BINDS);
  });
  it('without a gateway, /run holds only the services\' sockets: a small tmpfs of the lab user\'s', () => {
    const a = bwrapArgs(base);
    assert.deepEqual(a.filter((x) => x.startsWith('/run')), [SERVICE_SOCKET_DIR]);
    const i = a.indexOf(SERVICE_SOCKET_DIR);
    assert.deepEqual(a.slice(i - 5, i + 1), ['--perms', '0700', '--size', String(1024 * 1024), '--tmpfs', SERVICE_SOCKET_DIR]);
    assert.ok(i < a.lastIndexOf('--remount-ro'), 'mounted before / goes read-only: its path cannot be replaced');
  });
  it('the port must be a TCP port', () => {
    for (const bad of [0, -1, 65536, 1.5, Number.NaN, '80' as unknown as number]) {
      assert.throws(() => checkGatewayPort(bad), /gateway.port/);
      assert.throws(() => bwrapArgs({ ...base, gateway: { port: bad } }), /gateway.port/);
    }
    assert.equal(checkGatewayPort(65535), 65535);
  });
  it('localhost is 127.0.0.1 only (where the gateway listens)', () => {
    const h = hostsFile('Datalab');
    assert.match(h, /^127\.0\.0\.1\tlocalhost datalab$/m);
    for (const line of h.split('\n').filter((l) => !l.startsWith('127.'))) assert.ok(!line.split(/\s+/).includes('localhost'), line);
  });
});

describe('helpers', () => {
  it('workspace must be on a writable tmpfs', () => {
    assert.equal(checkWorkspace('/home/onyxia/work/'), '/home/onyxia/work');
    assert.throws(() => checkWorkspace('/usr/x'));
    assert.throws(() => checkWorkspace('relative'));
    assert.throws(() => checkWorkspace('/home/onyxia/../../etc'));
  });
  it('labEnv builds a clean environment and rejects bad names', () => {
    const e = labEnv({ FOO: 'a b' }, '/home/onyxia/work');
    assert.deepEqual(Object.keys(e).sort(), ['FOO', 'HOME', 'LANG', 'LOGNAME', 'PATH', 'PWD', 'SHELL', 'TERM', 'USER']);
    assert.throws(() => labEnv({ 'A=B': 'x' }, '/tmp'));
    assert.throws(() => labEnv({ A: 'x\0y' }, '/tmp'));
    assert.equal(Buffer.from(encodeEnv({ A: '1', B: 'x=y' }), 'hex').toString(), 'A=1\0B=x=y\0');
  });
  it('helperArgs and diskSplit', () => {
    const h = helperArgs('/h.pl', 'x64', 'enter', { cgroupProcs: ['/cg/a'], rlimits: { nproc: 9, nofile: 8, core: 0 }, uid: 1000, gid: 1000, target: 42, wd: '/w' }, ['bash', '-l']);
    assert.deepEqual(h, ['/h.pl', 'x64', 'enter', '--cgroup=/cg/a', '--rlimit=nproc:9:9', '--rlimit=nofile:8:8', '--rlimit=core:0:0', '--uid=1000', '--gid=1000', '--target=42', '--wd=/w', '--', 'bash', '-l']);
    const k = helperArgs('/h.pl', 'x64', 'start', { cgroupProcs: [], rlimits: { nproc: 9, nofile: 8, core: 0 }, uid: 7, gid: 7, fds: 9, ptys: 16, gatewayFd: 7 }, ['bwrap']);
    assert.deepEqual(k.slice(-6), ['--gid=7', '--fds=9', '--ptys=16', '--gateway-fd=7', '--', 'bwrap']);
    const d = diskSplit(64 << 20);
    assert.equal(d.home + d.tmp, 64 << 20);
    assert.equal(hostnameFor('---'), 'lab');
  });
});

describe('seccomp filter (libseccomp, Atelier’s policy)', () => {
  const generator = path.resolve(import.meta.dirname, '../../server/drivers/local/seccomp-bpf.py');
  it('compiles to BPF for x86_64 and aarch64, once per process', () => {
    for (const arch of ['x64', 'arm64']) {
      const bpf = labSeccompFilter(arch);
      assert.equal(bpf.length % 8, 0, 'whole sock_filter instructions');
      assert.ok(bpf.length / 8 > 100 && bpf.length / 8 <= 4096, `${bpf.length / 8} instructions`);
      assert.equal(labSeccompFilter(arch), bpf, 'cached');
    }
    assert.notDeepEqual(labSeccompFilter('x64'), labSeccompFilter('arm64'), 'syscall numbers differ by architecture');
    assert.throws(() => labSeccompFilter('ia32'), SeccompError);
  });
  it('denies what a lab must never call and allows what shells, git and Python need', () => {
    const mustDeny = ['ptrace', 'process_vm_readv', 'pidfd_getfd', 'io_uring_setup', 'keyctl', 'add_key', 'perf_event_open', 'bpf', 'mount', 'umount2', 'move_mount', 'open_tree', 'fsopen', 'fsmount', 'pivot_root', 'unshare', 'setns', 'kexec_load', 'init_module', 'finit_module', 'reboot', 'swapon', 'userfaultfd', 'open_by_handle_at'];
    const mustAllow = ['read', 'write', 'openat', 'execve', 'wait4', 'mmap', 'futex', 'pipe2', 'epoll_pwait', 'connect', 'getdents64', 'rseq', 'seccomp'];
    for (const arch of ['x64', 'arm64']) {
      const r = spawnSync('/usr/bin/python3', [generator, arch, '--policy'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const decisions = JSON.parse(r.stdout) as Record<string, string>;
      assert.ok(Object.keys(decisions).length > 250, `${arch}: every known call has a decision`);
      assert.deepEqual(mustDeny.filter((name) => decisions[name] !== 'EPERM'), [], `${arch}: not denied`);
      assert.deepEqual(mustAllow.filter((name) => decisions[name] !== 'allow'), [], `${arch}: not allowed`);
      for (const name of ['clone', 'clone3', 'socket', 'personality']) assert.equal(decisions[name], 'by-argument', name);
    }
  });
});

describe('cgroups (fake v2 tree)', () => {
  it('enables controllers and writes v2 limits', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cg2-'));
    fs.writeFileSync(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    fs.writeFileSync(path.join(root, 'cgroup.subtree_control'), '');
    // A real cgroupfs shows the enabled set; a plain file just keeps the last write: pre-create ours.
    fs.mkdirSync(path.join(root, 'atelier'));
    fs.writeFileSync(path.join(root, 'atelier', 'cgroup.subtree_control'), 'memory pids cpu');
    const setup = setupCgroups(root, 'atelier');
    assert.equal(setup.mode, 'v2');
    assert.deepEqual(Object.keys(setup.parents).sort(), ['cpu', 'memory', 'pids']);
    const cg = createLabCgroup(setup, 200001, { cpu: 0.5, memory: 1 << 20, disk: 1, pids: 7 });
    assert.deepEqual(cg.enforced, { memory: true, pids: true, cpu: true });
    const dir = path.join(root, 'atelier', 'lab-200001');
    assert.deepEqual(labCgroupDirs(setup, 200001), [dir]);
    assert.equal(fs.readFileSync(path.join(dir, 'memory.max'), 'utf8'), String(1 << 20));
    assert.equal(fs.readFileSync(path.join(dir, 'pids.max'), 'utf8'), '7');
    assert.equal(fs.readFileSync(path.join(dir, 'cpu.max'), 'utf8'), '50000 100000');
    assert.deepEqual(cg.procsFiles, [path.join(dir, 'cgroup.procs')]);
    fs.rmSync(root, { recursive: true });
  });
});
