/**
 * Attack suite for the local driver: every attempt must fail, and each assertion says how.
 * Real sandboxes, run as root. Run: node_modules/.bin/node --test test/attack/isolation.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { LabHandle, LabSpec, LabTerminal } from '../../server/drivers/driver.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { MiB, hostPidsOfUid, internal, startLab } from '../helpers/driver.ts';

const isRoot = process.getuid?.() === 0;
const REPO = path.resolve(import.meta.dirname, '../..');
const MARKER = 'ATELIER_ATTACK_MARKER_91c2';
const SECRET = 'top-secret-of-lab-A-5b1e';
const driver = new LocalDriver({ uidBase: 230_000, uidCount: 100, cgroupName: 'atelier-test' });

function spec(id: string, resources: Partial<LabSpec['resources']> = {}, extra: Partial<LabSpec> = {}): LabSpec {
  return {
    sessionId: id,
    labId: 'attack',
    workspace: '/home/onyxia/work',
    resources: { cpu: 1, memory: 256 * MiB, disk: 64 * MiB, pids: 128, ...resources },
    env: {},
    expiresAt: Date.now() + 600_000,
    ...extra,
  };
}

/** Listening TCP sockets of the lab's network namespace, as "addr:port" (from /proc/net/tcp*). */
async function listening(lab: LabHandle): Promise<string[]> {
  const r = await sh(lab, 'cat /proc/net/tcp /proc/net/tcp6');
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[3] === '0A')
    .map((f) => {
      const [addr, port] = (f[1] as string).split(':') as [string, string];
      const ip = addr.length === 8 ? (addr.match(/../g) as string[]).reverse().map((h) => parseInt(h, 16)).join('.') : addr;
      return `${ip}:${parseInt(port, 16)}`;
    });
}

const sh = (lab: LabHandle, script: string, timeoutMs = 10_000) => driver.exec(lab, ['bash', '-c', script], { timeoutMs });


async function shellOutput(term: LabTerminal, command: string, ms = 5000): Promise<string> {
  let buf = '';
  const sub = term.onData((d) => (buf += d));
  const end = Date.now() + ms;
  while (!/\$ $/m.test(buf)) {
    if (Date.now() > end) throw new Error(`no prompt: ${buf}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  buf = '';
  term.write(`${command}; echo __DONE__$((1+1))\r`);
  while (!buf.includes('__DONE__2')) {
    if (Date.now() > end) throw new Error(`no output: ${buf}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  sub.dispose();
  return buf;
}

describe('sandbox isolation (attack suite)', { skip: !isRoot && 'needs root' }, () => {
  let A: LabHandle;
  let B: LabHandle;

  before(async () => {
    process.env[MARKER] = 'server-only';
    await driver.reapAll();
    [A, B] = await Promise.all([startLab(driver, spec('attack-a')), startLab(driver, spec('attack-b'))]);
    const w = await sh(A, `echo ${SECRET} > ~/secret.txt; echo ${SECRET} > /tmp/secret.txt; echo ${SECRET} > ~/work/secret.txt; echo ${SECRET} > /dev/shm/secret.txt`);
    assert.equal(w.code, 0, w.stderr);
  });

  after(async () => {
    await driver.close();
    delete process.env[MARKER];
  });

  it('cannot read /etc/shadow (it is not in the sandbox)', async () => {
    const r = await sh(B, 'cat /etc/shadow');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /No such file or directory/);
    const ls = await sh(B, 'ls /etc');
    assert.doesNotMatch(ls.stdout, /shadow|sudoers|ssh/);
  });

  it("cannot read the project's files, /work, /root, /home, /var; /run holds only the services' sockets", async () => {
    const r = await sh(B, `cat ${JSON.stringify(path.join(REPO, 'package.json'))}`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /No such file or directory/);
    for (const dir of ['/work', '/root', '/var/lib', '/srv', '/mnt']) {
      const l = await sh(B, `ls -A ${dir}`);
      assert.notEqual(l.code, 0, `${dir} must not exist in the lab`);
      assert.match(l.stderr, /No such file or directory/);
    }
    // The host's /run is not there: only the lab's own tmpfs for its services' sockets (empty).
    assert.equal((await sh(B, 'ls -A /run; ls -A /run/atelier; ls -A /run/atelier/services')).stdout, 'atelier\nservices\n');
    assert.equal((await sh(B, 'ls -A /home')).stdout.trim(), 'onyxia');
    // /opt holds the platform's own read-only tools at most (VS Code and the labs' Python environment, when built).
    const opt = await sh(B, 'ls -A /opt /opt/atelier 2>/dev/null');
    assert.match(opt.stdout, /^(|\/opt:\natelier\n\n\/opt\/atelier:\n(bin\n)?(code-server\n)?(python\n)?)$/, opt.stdout);
  });

  it("cannot read the server's environment or the host's /proc", async () => {
    const env = await sh(B, `env; cat /proc/1/environ | tr '\\0' '\\n'; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'`);
    assert.doesNotMatch(env.stdout, new RegExp(MARKER));
    assert.doesNotMatch(env.stdout, /NODE_|npm_/);
    // pid 1 of the lab is bubblewrap's init, not the host's init; only lab processes are visible.
    const comm = await sh(B, 'cat /proc/1/comm; ls -d /proc/[0-9]* | wc -l; cat /proc/[0-9]*/status 2>/dev/null | grep "^Uid:" | sort -u');
    assert.match(comm.stdout, /^bwrap\n/);
    assert.ok(Number(comm.stdout.split('\n')[1]) < 10, 'only a handful of lab processes');
    assert.match(comm.stdout, /Uid:\t1000\t1000\t1000\t1000\n$/);
    const own = await sh(B, `cat /proc/${process.pid}/environ`);
    if (process.pid > 100) assert.notEqual(own.code, 0, 'the server process is not visible');
    // The lab's /proc is its own proc mount, not the host's.
    const mounts = await sh(B, 'grep " /proc " /proc/self/mountinfo | wc -l; cat /proc/self/mountinfo');
    // (the mount point is the 5th field: /proc/sys, bound read-only, is not /sys)
    assert.doesNotMatch(mounts.stdout, /\/work|\/root|^(\S+ ){4}\/sys /m);
  });

  it("cannot read another lab's files by any path", async () => {
    const { pid1 } = internal(A);
    const attempts = [
      `cat /proc/${pid1}/root/home/onyxia/secret.txt`,
      `cat /proc/${pid1}/root/tmp/secret.txt`,
      'cat /proc/1/root/home/onyxia/secret.txt',
      'cat /proc/*/root/home/onyxia/secret.txt',
      'cat /proc/*/cwd/secret.txt',
      'cat /tmp/secret.txt',
      'cat /dev/shm/secret.txt',
      'cat ~/secret.txt ~/work/secret.txt',
      `grep -rs ${SECRET} /home /tmp /dev/shm /proc/*/root/home 2>/dev/null`,
    ];
    for (const a of attempts) {
      const r = await sh(B, a);
      assert.doesNotMatch(r.stdout, new RegExp(SECRET), `leak via: ${a}`);
    }
    // … while lab A itself still has it (the attempt did not just fail for an unrelated reason).
    assert.equal((await sh(A, 'cat ~/secret.txt')).stdout.trim(), SECRET);
  });

  it("cannot signal another lab's processes; kill -9 -1 only hurts the attacker", async () => {
    const victims = hostPidsOfUid(internal(A).uid);
    assert.ok(victims.length >= 2);
    const r = await sh(B, `for p in ${victims.join(' ')}; do kill -9 $p 2>&1 || echo "failed $p"; done`);
    for (const p of victims) assert.match(r.stdout, new RegExp(`failed ${p}`));
    assert.match(r.stdout, /No such process/);
    // kill -1 from B: everything B may signal, which is B only.
    const C = await startLab(driver, spec('attack-c'));
    await sh(C, 'kill -9 -1; sleep 1', 5000);
    const alive = await sh(A, 'cat ~/secret.txt');
    assert.equal(alive.code, 0);
    assert.equal(alive.stdout.trim(), SECRET);
    assert.deepEqual(hostPidsOfUid(internal(A).uid).sort(), victims.sort(), 'lab A untouched');
    await driver.stop(C);
  });

  it('has no capability at all, in exec and in the terminal', async () => {
    const zero = /^Cap(Inh|Prm|Eff|Bnd|Amb):\t0000000000000000$/gm;
    const r = await sh(B, 'grep ^Cap /proc/self/status; grep NoNewPrivs /proc/self/status');
    assert.equal(r.stdout.match(zero)?.length, 5, r.stdout);
    assert.match(r.stdout, /NoNewPrivs:\t1/);
    const term = await driver.attach(B, { cols: 120, rows: 40 });
    const out = await shellOutput(term, 'grep ^Cap /proc/self/status; grep ^Cap /proc/$$/status');
    assert.equal(out.match(zero)?.length, 10, out);
    term.close();
    // Also the sandbox's own processes (bwrap init, keeper).
    const k = await sh(B, 'grep -h ^Cap /proc/1/status /proc/2/status');
    assert.equal(k.stdout.match(zero)?.length, 10, k.stdout);
  });

  it('setuid binaries give no root; no new user namespace; no mount', async () => {
    const r = await sh(B, [
      'su -c id root </dev/null; echo "su=$?"',
      'passwd -S root </dev/null; echo "passwd=$?"',
      'mount -t tmpfs none /tmp; echo "mount=$?"',
      'unshare -Ur id; echo "unshare=$?"',
      'id -u',
    ].join('; '));
    assert.doesNotMatch(r.stdout, /uid=0/);
    for (const k of ['su', 'passwd', 'mount', 'unshare']) assert.doesNotMatch(r.stdout, new RegExp(`^${k}=0$`, 'm'), `${k} succeeded`);
    assert.match(r.stdout, /^1000$/m);
  });

  it('cannot write outside its tmpfs', async () => {
    for (const p of ['/usr/x', '/usr/bin/x', '/etc/x', '/etc/passwd', '/x', '/dev/x', '/bin/x']) {
      const r = await sh(B, `echo pwned > ${p}`);
      assert.notEqual(r.code, 0, `${p} writable`);
      assert.match(r.stderr, /Read-only file system|Permission denied/);
    }
    const ok = await sh(B, 'echo fine > ~/ok && echo fine > /tmp/ok && cat ~/ok /tmp/ok');
    assert.equal(ok.stdout, 'fine\nfine\n');
  });

  it('disk cap: filling the home fails with ENOSPC', async () => {
    const small = await startLab(driver, spec('attack-disk', { disk: 16 * MiB }));
    const r = await sh(small, 'head -c 200M /dev/zero > ~/big; echo "rc=$?"; du -sm ~/big | cut -f1');
    assert.match(r.stderr, /No space left on device/);
    assert.match(r.stdout, /rc=1/);
    assert.ok(Number(r.stdout.trim().split('\n').pop()) <= 16);
    const t = await sh(small, 'head -c 200M /dev/zero > /tmp/big; echo "rc=$?"');
    assert.match(t.stderr, /No space left on device/);
    await driver.stop(small);
  });

  it('pid cap: a fork storm stops at the limit, the host is unharmed', async () => {
    const lab = await startLab(driver, spec('attack-pids', { pids: 64 }));
    const r = await driver.exec(lab, ['python3', '-c', [
      'import subprocess',
      'n = 0',
      'for i in range(200):',
      '    try:',
      "        subprocess.Popen(['sleep', '30'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); n += 1",
      '    except OSError:',
      '        pass',
      'print(n)',
    ].join('\n')], { timeoutMs: 20_000 });
    const started = Number(r.stdout.trim());
    assert.ok(started > 10 && started < 64, `started ${started} of 200 (stderr: ${r.stderr.slice(0, 300)})`);
    assert.ok(hostPidsOfUid(internal(lab).uid).length <= 64);
    // Another lab and the server still work.
    assert.equal((await sh(A, 'echo alive')).stdout, 'alive\n');
    await driver.stop(lab);
    assert.deepEqual(hostPidsOfUid(internal(lab).uid), []);
  });

  it('memory cap: a process allocating over the limit is killed', async () => {
    const lab = await startLab(driver, spec('attack-mem', { memory: 64 * MiB }));
    const limited = lab.limits.memory;
    const r = await driver.exec(lab, ['python3', '-c', "b = b'x' * (300 * 1024 * 1024); print('allocated', len(b))"], { timeoutMs: 20_000 });
    if (limited) {
      assert.doesNotMatch(r.stdout, /allocated/);
      assert.ok(r.code === 137 || /MemoryError/.test(r.stderr), `code ${r.code} stderr ${r.stderr.slice(0, 200)}`);
    }
    assert.equal((await sh(lab, 'echo still-usable')).stdout, 'still-usable\n');
    await driver.stop(lab);
  });
  describe('lab gateway', () => {
    const GPORT = 4321;
    let dir: string;
    let gatewayServer: http.Server;
    let hostTcp: net.Server;
    let hostTcpPort = 0;
    let hostTcpHits = 0;
    let abstractServer: net.Server;
    const abstractName = `atelier-attack-${process.pid}`;
    let G: LabHandle;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-attack-gw-'));
      fs.chmodSync(dir, 0o700);
      const socketPath = path.join(dir, 'gateway.sock');
      gatewayServer = http.createServer((req, res) => {
        req.resume();
        res.end(`gateway ${req.method} ${req.url}\n`);
      });
      await new Promise<void>((r) => gatewayServer.listen(socketPath, r));
      fs.chmodSync(socketPath, 0o666);
      // A host service on every address (loopback and external), and one on an abstract Unix socket.
      hostTcp = net.createServer((c) => {
        hostTcpHits++;
        c.end('host service\n');
      });
      // Dual-stack where the host has IPv6, IPv4 only otherwise.
      await new Promise<void>((resolve) => hostTcp.once('error', () => hostTcp.listen(0, '0.0.0.0', resolve)).listen(0, '::', resolve));
      hostTcpPort = (hostTcp.address() as net.AddressInfo).port;
      abstractServer = net.createServer((c) => {
        hostTcpHits++;
        c.end('abstract\n');
      });
      await new Promise<void>((r) => abstractServer.listen(`\0${abstractName}`, r));
      G = await startLab(driver, spec('attack-gw', {}, { gateway: { socketPath, port: GPORT } }));
    });

    after(async () => {
      await driver.stop(G);
      await Promise.all([gatewayServer, hostTcp, abstractServer].map((srv) => new Promise((r) => srv.close(r))));
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('reaches the gateway socket and no host port: not on loopback, not on the host’s addresses, not abstract sockets', async () => {
      // The host service answers from the host itself (the attempt below is not failing for another reason).
      const self = await new Promise<string>((resolve, reject) => {
        const c = net.connect(hostTcpPort, '127.0.0.1', () => c.once('data', (d) => resolve(d.toString())));
        c.on('error', reject);
      });
      assert.equal(self, 'host service\n');
      hostTcpHits = 0;
      const ifaces = Object.values(os.networkInterfaces()).flat();
      const v6 = (hostTcp.address() as net.AddressInfo).family === 'IPv6';
      const addrs = [
        ...new Set([
          '127.0.0.1',
          '0.0.0.0',
          ...ifaces.filter((i) => i && (i.family === 'IPv4' || (v6 && !i.address.startsWith('fe80')))).map((i) => i!.address),
        ]),
      ];
      const script = [
        'import socket, sys',
        'port = int(sys.argv[1])',
        'for a in sys.argv[3:]:',
        '    try:',
        '        s = socket.create_connection((a, port), timeout=2); print("CONNECTED", a, s.recv(100))',
        '    except OSError as e:',
        '        print("refused", a, type(e).__name__)',
        'try:',
        '    s = socket.socket(socket.AF_UNIX); s.connect(chr(0) + sys.argv[2]); print("CONNECTED abstract", s.recv(100))',
        'except OSError as e:',
        '    print("refused abstract", type(e).__name__)',
        "import urllib.request as u; print(u.urlopen('http://127.0.0.1:%d/git/x' % " + GPORT + ", timeout=5).read().decode(), end='')",
      ].join('\n');
      for (const lab of [G, B]) {
        const r = await driver.exec(lab, ['python3', '-c', script, String(hostTcpPort), abstractName, ...addrs], { timeoutMs: 20_000 });
        assert.doesNotMatch(r.stdout, /CONNECTED/, r.stdout);
        assert.equal(r.stdout.match(/^refused /gm)?.length, addrs.length + 1, r.stdout + r.stderr);
        if (lab === G) assert.match(r.stdout, /^gateway GET \/git\/x$/m, r.stderr);
        else assert.match(r.stderr, /Connection refused/, 'no gateway in a lab without one');
      }
      assert.equal(hostTcpHits, 0, 'no connection reached a host service');
      // Only loopback exists, and only the gateway listens (on 127.0.0.1, not on every address).
      assert.deepEqual(await listening(G), [`127.0.0.1:${GPORT}`]);
      const dev = await sh(G, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
      assert.equal(dev.stdout.trim(), 'lo');
      // The host path of the socket's directory is not in the lab (only the descriptor is).
      const other = await sh(G, `ls ${JSON.stringify(dir)}; cat /proc/2/fd/7`);
      assert.notEqual(other.code, 0);
      assert.match(other.stderr, /No such file or directory/);
      assert.match(other.stderr, /No such device or address/);
      // Every process of the lab, the forwarder included, has no capability.
      const caps = await sh(G, 'grep -h ^CapEff /proc/[0-9]*/status | sort -u');
      assert.equal(caps.stdout, 'CapEff:\t0000000000000000\n');
    });

    it('cannot remove, replace, re-point or re-permission the gateway socket', async () => {
      const attempts = [
        'rm -f /run/atelier/gateway.sock',
        'mv /run/atelier/gateway.sock /tmp/g',
        'ln -sf /tmp/evil.sock /run/atelier/gateway.sock',
        'ln -sfn /tmp /run/atelier',
        'rm -rf /run/atelier',
        'touch /run/atelier/x',
        'cp /bin/true /run/atelier/gateway.pl',
        'chmod 0777 /run/atelier/gateway.sock',
        'chmod 0700 /proc/2/fd/7',
        'ln -L /proc/2/fd/7 ~/gateway-link',
        'python3 -c "import os; os.mknod(\'/run/atelier/x.sock\', 0o140666)"',
        // The services' socket directory is a mount point: the lab cannot swap it for a link.
        'mv /run/atelier/services /run/atelier/s2',
        'rm -rf /run/atelier/services',
      ];
      for (const a of attempts) {
        const r = await sh(G, a);
        assert.notEqual(r.code, 0, `succeeded: ${a}`);
        assert.match(r.stderr, /Read-only file system|Operation not permitted|Invalid cross-device link|Permission denied/, `${a}: ${r.stderr}`);
      }
      const after = await sh(G, `readlink /run/atelier/gateway.sock; ls -A /run/atelier; stat -L -c %a /run/atelier/gateway.sock; curl -sS --max-time 5 http://localhost:${GPORT}/still 2>&1 || python3 -c "import urllib.request as u; print(u.urlopen('http://localhost:${GPORT}/still').read().decode(), end='')"`);
      assert.equal(after.stdout, `/proc/2/fd/7\ngateway.pl\ngateway.sock\nservices\n666\ngateway GET /still\n`, after.stderr);
    });

    it('a lab without a gateway has no such socket, nothing in /run but the services\' directory, nothing listening', async () => {
      const r = await sh(B, `ls -A /run/atelier; ls /run/atelier/gateway.sock; ls /proc/2/fd; ps -eo args | grep -c "^atelier-gateway"`);
      assert.match(r.stderr, /No such file or directory/);
      assert.deepEqual(r.stdout.trim().split('\n').slice(0, -1), ['services', '0', '1', '2']);
      assert.equal(r.stdout.trim().split('\n').pop(), '0');
      assert.deepEqual(await listening(B), []);
    });
  });
});
