/**
 * LocalDriver against real bubblewrap sandboxes (root only; no mocks).
 * Run: node_modules/.bin/node --test test/integration/local-driver.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { LabHandle, LabSpec, LabTerminal } from '../../server/drivers/driver.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { hostPidsOfUid, internal, labSpec, startLab } from '../helpers/driver.ts';

const isRoot = process.getuid?.() === 0;
// A uid range of its own, so this file never meets labs of the attack suite or of a running server.
const driver = new LocalDriver({ uidBase: 210_000, uidCount: 100, cgroupName: 'atelier-test' });
const MARKER = 'ATELIER_SERVER_ONLY_MARKER_7f3a';

const spec = (id: string, extra: Partial<LabSpec> = {}) => labSpec(id, { env: { GIT_USER_NAME: 'Ada Lovelace', AWS_S3_ENDPOINT: 'minio.example:9000' }, ...extra });

/** Collects a pty's output and waits for a pattern. */
function screen(term: LabTerminal) {
  let buf = '';
  term.onData((d) => (buf += d));
  return {
    get text() {
      return buf;
    },
    clear() {
      buf = '';
    },
    async waitFor(re: RegExp, ms = 5000): Promise<string> {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const m = re.exec(buf);
        if (m) return m[0];
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`timeout waiting for ${re} in pty output:\n${buf.slice(-2000)}`);
    },
  };
}



describe('LocalDriver (real sandboxes)', { skip: !isRoot && 'needs root' }, () => {
  let lab: LabHandle;
  const progress: string[] = [];

  before(async () => {
    process.env[MARKER] = 'server-secret-value';
    await driver.reapAll();
    lab = await startLab(driver, spec('it-main', { env: { FOO_FROM_SPEC: 'bar baz', GIT_USER_NAME: 'Ada' } }), (e) => progress.push(e.step));
  });

  after(async () => {
    await driver.close();
    delete process.env[MARKER];
  });

  it('reports progress steps and enforced limits', () => {
    assert.deepEqual(progress, ['sandbox', 'limits', 'workspace', 'ready']);
    assert.equal(lab.limits.pids, true);
    assert.equal(lab.limits.disk, true);
    assert.ok(lab.limits.mechanisms.includes('rlimit'));
    assert.ok(lab.limits.mechanisms.includes('tmpfs-size'));
    const cg = lab.limits.mechanisms.find((m) => m.startsWith('cgroup-'));
    if (fs.existsSync('/sys/fs/cgroup/memory/cgroup.procs') || fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      assert.ok(cg, `a cgroup mechanism is reported: ${lab.limits.mechanisms}`);
      assert.equal(lab.limits.memory, true);
    }
  });

  it('attach: a login shell in the workspace; mkdir is seen by exec', async () => {
    const before = await driver.exec(lab, ['test', '-d', '/home/onyxia/work/mon-dossier']);
    assert.notEqual(before.code, 0);
    const term = await driver.attach(lab, { cols: 100, rows: 30 });
    const s = screen(term);
    await s.waitFor(/\$ $/m);
    term.write('pwd\r');
    await s.waitFor(/^\/home\/onyxia\/work\r?$/m);
    term.write('mkdir mon-dossier && echo made-$((6*7))\r');
    await s.waitFor(/made-42/);
    const after = await driver.exec(lab, ['test', '-d', '/home/onyxia/work/mon-dossier']);
    assert.equal(after.code, 0);
    term.close();
  });

  it('attach: Ctrl-C interrupts a foreground job (job control works)', async () => {
    const term = await driver.attach(lab, { cols: 80, rows: 24 });
    const s = screen(term);
    await s.waitFor(/\$ $/m);
    assert.doesNotMatch(s.text, /no job control/);
    term.write('sleep 100\r');
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    term.write('\x03');
    term.write('echo back-$((40+2))\r');
    await s.waitFor(/back-42/, 3000);
    assert.ok(Date.now() - t0 < 3000);
    term.close();
  });

  it('no server file descriptor reaches the lab', async () => {
    const term = await driver.attach(lab, { cols: 200, rows: 30 });
    const s = screen(term);
    await s.waitFor(/\$ $/m);
    // (not inside $(…): the shell would hold the substitution's pipe while it runs)
    term.write("echo -n 'FDS: '; ls /proc/$$/fd | sort -n | tr '\\n' ' '; echo :END\r");
    const line = await s.waitFor(/FDS: [\d ]+:END/);
    const fds = line.replace('FDS:', '').replace(':END', '').trim().split(/\s+/).map(Number);
    // 0,1,2 = the pty; 255 = bash's own copy of its terminal.
    assert.deepEqual(fds.filter((f) => f > 2 && f !== 255), [], `unexpected fds in the lab shell: ${fds}`);
    term.close();
    // exec: only stdio (3 is ls's own directory handle).
    const r = await driver.exec(lab, ['ls', '/proc/self/fd']);
    assert.deepEqual(r.stdout.trim().split(/\s+/).map(Number).sort((a, b) => a - b), [0, 1, 2, 3]);
    // The keeper and bwrap's init, seen from the host: stdio only.
    const { pid1 } = internal(lab);
    for (const pid of [pid1, ...fs.readFileSync(`/proc/${pid1}/task/${pid1}/children`, 'utf8').trim().split(/\s+/)]) {
      const fds2 = fs.readdirSync(`/proc/${pid}/fd`).map(Number).filter((f) => f > 2);
      // bwrap's init keeps one internal fd (its signalfd/event fd) at most.
      for (const f of fds2) {
        const target = fs.readlinkSync(`/proc/${pid}/fd/${f}`);
        assert.match(target, /anon_inode/, `pid ${pid} fd ${f} -> ${target}`);
      }
    }
  });

  it('environment: built by the driver, never the server’s', async () => {
    const r = await driver.exec(lab, ['env']);
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stdout, new RegExp(MARKER));
    assert.match(r.stdout, /^FOO_FROM_SPEC=bar baz$/m);
    assert.match(r.stdout, /^GIT_USER_NAME=Ada$/m);
    assert.match(r.stdout, /^HOME=\/home\/onyxia$/m);
    assert.match(r.stdout, /^USER=onyxia$/m);
    for (const k of Object.keys(process.env)) {
      if (['HOME', 'USER', 'PATH', 'LANG', 'TERM', 'SHELL', 'LOGNAME', 'PWD', 'SHLVL', '_'].includes(k)) continue;
      assert.doesNotMatch(r.stdout, new RegExp(`^${k}=`, 'm'), `server variable ${k} leaked`);
    }
    const term = await driver.attach(lab, { cols: 120, rows: 30 });
    const s = screen(term);
    await s.waitFor(/\$ $/m);
    term.write(`echo "M=[\${${MARKER}:-none}] F=[$FOO_FROM_SPEC]"\r`);
    await s.waitFor(/M=\[none\] F=\[bar baz\]/);
    term.close();
  });

  it('exec: exit codes, stdin, no shell unless asked, timeout kills', async () => {
    assert.deepEqual(await driver.exec(lab, ['sh', '-c', 'echo out; echo err >&2; exit 3']), { code: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    assert.equal((await driver.exec(lab, ['cat'], { stdin: 'hello' })).stdout, 'hello');
    assert.equal((await driver.exec(lab, ['echo', '$HOME;', 'id'])).stdout, '$HOME; id\n');
    assert.equal((await driver.exec(lab, ['/nonexistent'])).code !== 0, true);
    const t0 = Date.now();
    const r = await driver.exec(lab, ['sh', '-c', 'echo started; sleep 30'], { timeoutMs: 500 });
    assert.ok(Date.now() - t0 < 3000, 'returned soon after the timeout');
    assert.equal(r.code, 124);
    assert.equal(r.timedOut, true);
    assert.match(r.stdout, /started/);
    assert.match(r.stderr, /timed out/);
    const ps = await driver.exec(lab, ['sh', '-c', 'ps -eo args | grep -c "^sleep 30" || true']);
    assert.equal(ps.stdout.trim(), '0', 'the timed-out command was killed');
    const big = await driver.exec(lab, ['head', '-c', String(1024 * 1024), '/dev/zero']);
    assert.equal(big.stdout.length, 64 * 1024, 'output is capped at 64 KiB');
  });

  it('list() finds the running labs', async () => {
    const sessions = (await driver.list()).map((h) => h.sessionId);
    assert.ok(sessions.includes('it-main'));
  });

  it('stop(): no process of the lab uid remains, cgroups gone, idempotent', async () => {
    const l = await startLab(driver, spec('it-stop'));
    const { uid, cgroupDirs } = internal(l);
    const term = await driver.attach(l, { cols: 80, rows: 24 });
    const s = screen(term);
    await s.waitFor(/\$ $/m);
    term.write('sleep 1000 & sleep 1001 & (setsid sleep 1002 &) ; echo bg-ok\r');
    await s.waitFor(/bg-ok/);
    assert.ok(hostPidsOfUid(uid).length >= 5);
    assert.ok(cgroupDirs.length > 0 ? cgroupDirs.every((d) => fs.existsSync(d)) : true);
    await driver.stop(l);
    assert.deepEqual(hostPidsOfUid(uid), []);
    for (const d of cgroupDirs) assert.equal(fs.existsSync(d), false, `${d} removed`);
    await driver.stop(l); // idempotent
    await assert.rejects(driver.exec(l, ['true']), /stopped/);
    assert.ok(!(await driver.list()).some((h) => h.id === 'it-stop'));
  });

  it('start → stop → start, several labs at once', async () => {
    for (let round = 0; round < 2; round++) {
      const labs = await Promise.all([1, 2, 3].map((n) => startLab(driver, spec(`it-multi-${round}-${n}`))));
      const uids = labs.map((l) => internal(l).uid);
      assert.equal(new Set(uids).size, 3, 'one uid per lab');
      const results = await Promise.all(labs.map((l, n) => driver.exec(l, ['sh', '-c', `echo lab${n} > ~/mark; cat ~/mark; hostname`])));
      results.forEach((r, n) => {
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^lab${n}\ndatalab-discovery\n$`));
      });
      await Promise.all(labs.map((l) => driver.stop(l)));
      for (const uid of uids) assert.deepEqual(hostPidsOfUid(uid), []);
    }
  });

  it('reapAll() stops labs it did not start (server restart)', async () => {
    const other = new LocalDriver({ uidBase: 210_000, uidCount: 100, cgroupName: 'atelier-test' });
    const l = await startLab(driver, spec('it-orphan'));
    const { uid } = internal(l);
    const found = await other.list();
    const h = found.find((x) => x.sessionId === 'it-orphan');
    assert.ok(h, 'recovered by a fresh driver');
    assert.equal(h.labId, 'datalab-discovery');
    assert.equal(h.id, l.id);
    assert.equal((await other.exec(h, ['pwd'])).stdout, '/home/onyxia/work\n');
    // The learner's environment comes back with it (the claim's record), not only the lab.
    assert.equal((await other.exec(h, ['printenv', 'GIT_USER_NAME'])).stdout, 'Ada Lovelace\n');
    await other.reapAll();
    assert.deepEqual(hostPidsOfUid(uid), []);
    await driver.stop(l);
  });

  it('writes home files at creation, private to the lab user, and refuses names that are paths', async () => {
    const l = await startLab(driver, spec('it-home-files', { homeFiles: { '.gitconfig': '[user]\n\tname = Ada\n', '.s3cfg': 'x' } }));
    try {
      const stat = await driver.exec(l, ['stat', '-c', '%a %U %n', '/home/onyxia/.gitconfig', '/home/onyxia/.s3cfg']);
      assert.equal(stat.stdout, '600 onyxia /home/onyxia/.gitconfig\n600 onyxia /home/onyxia/.s3cfg\n');
      assert.equal((await driver.exec(l, ['git', 'config', '--global', 'user.name'])).stdout, 'Ada\n');
    } finally {
      await driver.stop(l);
    }
    await assert.rejects(startLab(driver, spec('it-home-escape', { homeFiles: { '../../etc/x': 'x' } })), /home file name/);
  });
});
