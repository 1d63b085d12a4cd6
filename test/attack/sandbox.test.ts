/**
 * Attack suite for the lab sandbox itself, held to a Kubernetes "restricted" pod with the runtime's
 * default seccomp profile: what a lab's own processes try against the kernel, the server's
 * descriptors, the host's ptys, host-wide /proc files and the server's paths.
 * Real sandboxes, run as root. Run: node_modules/.bin/node --test test/attack/sandbox.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { LabHandle, LabTerminal } from '../../server/drivers/driver.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { hostPidsOfUid, internal, labSpec, startLab } from '../helpers/driver.ts';

const isRoot = process.getuid?.() === 0;
const REPO = path.resolve(import.meta.dirname, '../..');
const PTY_MAX = 16;
// A uid range per process: this suite may run beside another copy of itself.
const driver = new LocalDriver({ uidBase: 600_000 + (process.pid % 400) * 64, uidCount: 64, cgroupName: 'atelier-attack-sandbox', ptyMax: PTY_MAX });

const sh = (lab: LabHandle, script: string, options: { stdin?: string; timeoutMs?: number } = {}) =>
  driver.exec(lab, ['bash', '-c', script], { timeoutMs: options.timeoutMs ?? 20_000, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
const perl = (lab: LabHandle, script: string, stdin = '') => driver.exec(lab, ['perl', '-e', script], { stdin, timeoutMs: 20_000 });

/** Waits for a shell prompt on a pty. */
async function prompt(term: LabTerminal): Promise<void> {
  let buf = '';
  const sub = term.onData((d) => (buf += d));
  const end = Date.now() + 5_000;
  while (!/\$ $/m.test(buf)) {
    if (Date.now() > end) throw new Error(`no prompt: ${buf}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  sub.dispose();
}

/**
 * Syscalls a lab must not make, with harmless arguments (none may succeed in doing anything: an
 * invalid magic, a NULL path, size 0…), numbered for x86_64 and aarch64. Each line of the probe's
 * output is `name rc errno`.
 */
const DENIED: Array<{ name: string; x64: number; arm64: number; args: string; errno?: number }> = [
  // ptrace of its own child (PTRACE_SEIZE): any ptrace at all
  { name: 'ptrace', x64: 101, arm64: 117, args: '0x4206, $kid, 0, 0' },
  { name: 'process_vm_readv', x64: 310, arm64: 270, args: '$kid, 0, 0, 0, 0, 0' },
  // the keeper's stderr, which was the server's socket
  { name: 'pidfd_getfd', x64: 438, arm64: 438, args: '$pidfd, 2, 0' },
  { name: 'io_uring_setup', x64: 425, arm64: 425, args: '1, $params' },
  { name: 'keyctl', x64: 250, arm64: 219, args: '0, -3, 1' },
  { name: 'add_key', x64: 248, arm64: 217, args: '$user, $desc, $desc, 1, -3' },
  { name: 'request_key', x64: 249, arm64: 218, args: '$user, $desc, 0, 0' },
  { name: 'perf_event_open', x64: 298, arm64: 241, args: '$perf, 0, -1, -1, 0' },
  { name: 'bpf', x64: 321, arm64: 280, args: '0, 0, 0' },
  { name: 'userfaultfd', x64: 323, arm64: 282, args: '1' },
  // READ_IMPLIES_EXEC: not one of the personas the filter allows, so it takes the filter's default
  // (ENOSYS; libseccomp cannot say "EPERM unless one of these values" in one rule)
  { name: 'personality', x64: 135, arm64: 92, args: '0x0400000', errno: 38 },
  { name: 'unshare', x64: 272, arm64: 97, args: '0x00020000' },
  { name: 'setns', x64: 308, arm64: 268, args: '$pidfd, 0' },
  { name: 'mount', x64: 165, arm64: 40, args: '$none, $tmp, $tmpfs, 0, 0' },
  { name: 'umount2', x64: 166, arm64: 39, args: '$tmp, 0' },
  { name: 'pivot_root', x64: 155, arm64: 41, args: '$tmp, $tmp' },
  // without OPEN_TREE_CLONE, open_tree is an unprivileged O_PATH open
  { name: 'open_tree', x64: 428, arm64: 428, args: '-100, $tmp, 0' },
  { name: 'move_mount', x64: 429, arm64: 429, args: '-100, $tmp, -100, $tmp, 0' },
  { name: 'fsopen', x64: 430, arm64: 430, args: '$tmpfs, 0' },
  { name: 'fspick', x64: 433, arm64: 433, args: '-100, $tmp, 0' },
  { name: 'kexec_load', x64: 246, arm64: 104, args: '0, 0, 0, 0' },
  { name: 'init_module', x64: 175, arm64: 105, args: '0, 0, 0' },
  { name: 'delete_module', x64: 176, arm64: 106, args: '$desc, 0' },
  { name: 'reboot', x64: 169, arm64: 142, args: '0, 0, 0, 0' },
  { name: 'swapon', x64: 167, arm64: 224, args: '$tmp, 0' },
  { name: 'acct', x64: 163, arm64: 89, args: '0' },
  // settimeofday(NULL, NULL) is a permitted no-op without a filter
  { name: 'settimeofday', x64: 164, arm64: 170, args: '0, 0' },
  { name: 'clock_settime', x64: 227, arm64: 112, args: '0, 0' },
  { name: 'chroot', x64: 161, arm64: 51, args: '$tmp' },
  // size 0 is invalid: ENOSYS (as Docker answers, so that glibc falls back to clone) rather than EINVAL
  { name: 'clone3', x64: 435, arm64: 435, args: '0, 0', errno: 38 },
];

function deniedProbe(arch: 'x64' | 'arm64'): string {
  const calls = DENIED.map((c) => `{ local $! = 0; my $rc = syscall(${c[arch]}, ${c.args}); print "${c.name} $rc ", $!+0, "\\n"; }`).join('\n');
  return `
    my $kid = fork() // die; if (!$kid) { sleep 30; exit 0 }
    my $pidfd = syscall(434, 2, 0);  # pidfd_open(keeper)
    my ($user, $desc, $none, $tmp, $tmpfs) = ('user', 'atelier-probe', 'none', '/tmp', 'tmpfs');
    my $params = "\\0" x 120;
    # perf_event_attr: PERF_TYPE_SOFTWARE, size 128, PERF_COUNT_SW_CPU_CLOCK, exclude_kernel|exclude_hv
    my $perf = pack('LLQQQQ', 1, 128, 0, 0, 0, (1 << 5) | (1 << 6)) . ("\\0" x 88);
    ${calls}
    kill 'KILL', $kid; waitpid($kid, 0);
  `;
}

/** `local → peer` inodes of the host's Unix stream sockets (ss, iproute2). */
function unixPeers(): Map<string, string> {
  const r = spawnSync('ss', ['-xaH'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ss -xaH: ${r.stderr}`);
  const peers = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /\s(\d+)\s+\S+\s+(\d+)\s*$/.exec(line.replace(/users:.*$/, '').trimEnd() + ' ');
    if (m) peers.set(m[1] as string, m[2] as string);
  }
  return peers;
}

/**
 * What a process's descriptors lead to: `pipe:[n]`, `socket:[n]`, or `dev:ino` of a file or
 * directory. Devices (/dev/null, a terminal) and anonymous inodes (one inode for all) are no one's.
 */
function descriptorsOf(pid: number | 'self'): Map<string, string> {
  const out = new Map<string, string>();
  let fds: string[] = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (/^(pipe|socket):\[\d+\]$/.test(link)) out.set(link, `${pid}/fd/${fd}`);
      else if (!link.startsWith('anon_inode:')) {
        const st = fs.statSync(`/proc/${pid}/fd/${fd}`);
        if (!st.isCharacterDevice() && !st.isBlockDevice()) out.set(`${st.dev}:${st.ino}`, `${pid}/fd/${fd} -> ${link}`);
      }
    } catch {
      // closed meanwhile, or a descriptor stat cannot follow
    }
  }
  return out;
}

describe('lab sandbox (attack suite)', { skip: !isRoot && 'needs root' }, () => {
  let dataDir: string;
  let gateway: net.Server;
  let A: LabHandle;
  let B: LabHandle;

  before(async () => {
    // A data directory with a distinctive name, holding the gateway socket as the server's does.
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-data-sandbox-'));
    fs.mkdirSync(path.join(dataDir, 'run'));
    const socketPath = path.join(dataDir, 'run', 'gateway.sock');
    gateway = net.createServer((c) => c.end('HTTP/1.1 204 No Content\r\n\r\n'));
    await new Promise<void>((resolve) => gateway.listen(socketPath, resolve));
    fs.chmodSync(socketPath, 0o666);
    await driver.reapAll();
    [A, B] = await Promise.all([
      startLab(driver, labSpec('sandbox-a', { gateway: { socketPath, port: 4987 }, env: { FORGE_URL: 'http://127.0.0.1:4987/git/x' }, homeFiles: { '.s3cfg': '[default]\n' } })),
      startLab(driver, labSpec('sandbox-b')),
    ]);
  });

  after(async () => {
    await driver.close();
    gateway?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('every process of a lab runs under the seccomp filter: pid 1, keeper, forwarder, shells, checks', async () => {
    const term = await driver.attach(A, { cols: 80, rows: 24 });
    try {
      await prompt(term);
      const r = await sh(A, 'for s in /proc/[0-9]*/status; do echo "$(grep -m1 ^Name: $s | cut -f2) $(grep -m1 ^Seccomp: $s | cut -f2)"; done');
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      // bwrap (pid 1), sleep (keeper), the forwarder, bash (terminal), bash (this check)
      for (const name of ['bwrap', 'sleep', 'atelier-gateway', 'bash']) assert.ok(lines.some((l) => l.startsWith(`${name} `)), `${name} is visible: ${lines}`);
      assert.deepEqual(lines.filter((l) => !l.endsWith(' 2')), [], 'processes without a seccomp filter (mode 2)');
    } finally {
      term.close();
    }
  });

  it("the calls a runtime's default profile denies, and ptrace, answer EPERM", async () => {
    const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
    const r = await perl(A, deniedProbe(arch));
    assert.equal(r.code, 0, r.stderr);
    const results = new Map(r.stdout.trim().split('\n').map((l) => {
      const [name, rc, errno] = l.split(' ');
      return [name as string, { rc: Number(rc), errno: Number(errno) }];
    }));
    const wrong = DENIED.filter((c) => {
      const got = results.get(c.name);
      return !got || got.rc !== -1 || got.errno !== (c.errno ?? 1);
    }).map((c) => `${c.name}: ${JSON.stringify(results.get(c.name))}`);
    assert.deepEqual(wrong, [], 'calls not denied with EPERM (clone3, personality: ENOSYS)');
    // What labs need still works under the filter.
    const ok = await sh(A, 'git init -q /tmp/g && python3 -c "import socket, threading; print(42)" && perl -e "fork // die; print 1"');
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('no descriptor of the server reaches a lab process', async () => {
    const server = descriptorsOf('self');
    const peers = unixPeers();
    const { uid } = internal(A);
    const outer = (A.state as { bwrapPid?: number }).bwrapPid;
    const leaks: string[] = [];
    // Every process of the lab's uid but the outer bwrap (on the host side of the sandbox).
    for (const pid of hostPidsOfUid(uid).filter((p) => p !== outer)) {
      for (const [target, where] of descriptorsOf(pid)) {
        const socket = /^socket:\[(\d+)\]$/.exec(target);
        const peer = socket && peers.get(socket[1] as string);
        if (server.has(target)) leaks.push(`${where}: the server's own ${target}`);
        else if (peer && server.has(`socket:[${peer}]`)) leaks.push(`${where}: ${target}, connected to the server's socket:[${peer}]`);
      }
    }
    assert.deepEqual(leaks, []);
  });

  it("a lab's ptys stop at its own devpts limit, and another lab still opens one", async () => {
    const hold = `perl -e '$| = 1; my @p; for (1..256) { open(my $f, "+<", "/dev/ptmx") or last; push @p, $f } print scalar(@p), "\\n"; sleep 20' > /tmp/ptys.txt 2>&1 &`;
    assert.equal((await sh(A, hold)).code, 0);
    let held = '';
    for (let i = 0; i < 100 && !held; i++) {
      await new Promise((r) => setTimeout(r, 50));
      held = (await sh(A, 'cat /tmp/ptys.txt')).stdout.trim();
    }
    assert.equal(held, String(PTY_MAX), `ptys lab A could open (its limit is ${PTY_MAX})`);
    const other = await perl(B, 'open(my $f, "+<", "/dev/ptmx") or die "ptmx: $!\\n"; print "opened\\n"');
    assert.equal(other.stdout, 'opened\n', other.stderr);
    await sh(A, 'pkill -f "sleep 20" ; pkill -x perl; true');
  });

  it("host-wide /proc files are masked as container runtimes mask them, /proc/sys is read-only, there is no /sys", async () => {
    const masked = ['/proc/acpi', '/proc/asound', '/proc/config.gz', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/sched_debug', '/proc/scsi', '/proc/timer_list', '/proc/timer_stats'].filter((p) => fs.existsSync(p));
    assert.ok(masked.length > 0, 'this host has some of the masked paths');
    const r = await sh(A, masked.map((p) => `if [ -d ${p} ]; then echo "${p} $(ls -A ${p} | wc -l)"; else echo "${p} $(cat ${p} 2>&1 | wc -c)"; fi`).join('\n'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), masked.map((p) => `${p} 0`), 'masked paths read empty');
    const mounts = await sh(A, 'cat /proc/self/mountinfo');
    for (const p of ['/proc/sys', '/proc/irq', '/proc/bus', '/proc/fs', '/proc/sysrq-trigger'].filter((x) => fs.existsSync(x))) {
      const line = mounts.stdout.split('\n').find((l) => l.split(' ')[4] === p);
      assert.ok(line, `${p} is a mount of its own`);
      assert.match(line.split(' ')[5] as string, /^ro,/, `${p} is read-only: ${line}`);
    }
    const write = await sh(A, 'echo "1 0" > /proc/sys/net/ipv4/ping_group_range');
    assert.notEqual(write.code, 0);
    assert.notEqual((await sh(A, 'ls /sys')).code, 0, 'no /sys in a lab');
  });

  it('mounts the host has below /proc (binfmt_misc, an automount point) do not follow into a lab', async () => {
    const below = '/proc/sys/fs/binfmt_misc';
    const mounted = () => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === below);
    // A host without it gets one for the time of this test (what systemd hosts have anyway).
    const ours = fs.existsSync(below) && !mounted();
    if (ours) assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4k,mode=0555', 'atelier-sandbox-test', below]).status, 0);
    try {
      assert.ok(mounted(), `${below} is a mount on the host`);
      const lab = await startLab(driver, labSpec('sandbox-proc-submount'));
      try {
        const r = await sh(lab, 'cat /proc/self/mountinfo');
        assert.deepEqual(r.stdout.split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(below)), [], `${below} in the lab`);
      } finally {
        await driver.stop(lab);
      }
    } finally {
      if (ours) spawnSync('umount', [below]);
    }
  });

  it("the server's data directory and the project's path are named nowhere a lab can read", async () => {
    // Needles come on stdin, so that the probe's own command line does not hold them.
    const scan = `
      chomp(my @needles = <STDIN>);
      my @hits;
      my $look = sub { my ($what, $text) = @_; for my $n (@needles) { push @hits, $what if defined $text && index($text, $n) >= 0 } };
      my $slurp = sub { open(my $f, '<', $_[0]) or return undef; local $/; my $t = <$f>; $t };
      for my $dir (glob('/proc/[0-9]*')) {
        next if $dir eq "/proc/$$";
        $look->("$dir/$_", $slurp->("$dir/$_")) for qw(environ cmdline mountinfo maps status);
        $look->("$dir/$_", readlink("$dir/$_")) for qw(exe cwd root);
        $look->($_, readlink($_)) for glob("$dir/fd/*");
      }
      my @files = ('/etc', '/run', '/opt', '/home', '/tmp', '/dev/shm');
      while (defined(my $p = shift @files)) {
        if (-l $p) { $look->($p, readlink($p)) }
        elsif (-d $p) { opendir(my $d, $p) or next; push @files, map { "$p/$_" } grep { !/^\\.\\.?$/ } readdir($d) }
        elsif (-f $p && -s $p < 1 << 20) { $look->($p, $slurp->($p)) }
      }
      print map { "$_\\n" } @hits;
    `;
    const r = await perl(A, scan, `${dataDir}\n${REPO}/\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', `what the lab can read that names ${dataDir} or ${REPO}`);
  });
});
