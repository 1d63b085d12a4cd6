/**
 * Attack suite: a learner abusing their own lab, from inside it (the real terminal socket, or
 * driver.exec as the lab's checks use it), against a real in-process server with the real local
 * driver. Every attack must fail (or stay inside the lab's limits) and leave the server healthy:
 * after each one, /healthz answers and a fresh lab launches and runs `echo ok`.
 * Labs here are tiny (pids 64, memory 64Mi, disk 16Mi); every loop and wait is bounded.
 * Run: node_modules/.bin/node --disable-warning=ExperimentalWarning --test test/attack/lab-abuse.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connectTerminal, type TerminalClient } from '../helpers/terminal.ts';
import {
  Browser,
  assertHealthy,
  gc,
  hostPidsOfUid,
  isRoot,
  labUid,
  roundTrip,
  sleep,
  startAttackServer,
  waitNoProcesses,
  type AttackServer,
} from '../helpers/attack.ts';

const MiB = 1024 * 1024;

/** Host-only things a check must never see: a marker file, the server's environment, host files. */
const hostMarker = `ATELIER_HOST_MARKER_${randomBytes(8).toString('hex')}`;
const hostEnvMarker = `ATELIER_SERVER_ENV_${randomBytes(8).toString('hex')}`;
/** What follows the markers in the host file and the server's environment: never in any answer. */
const hostPayload = `payload-${randomBytes(8).toString('hex')}`;
const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-attack-host-'));
const hostFile = path.join(hostDir, 'marker.txt');
const hostHostname = fs.existsSync('/etc/hostname') ? fs.readFileSync('/etc/hostname', 'utf8').trim() : os.hostname();
/** A user of the host's /etc/passwd that the lab's own /etc/passwd (root, onyxia, nobody) lacks. */
const hostOnlyUser =
  fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':')[0] ?? '')
    .find((name) => /^[a-z_][a-z0-9_-]*$/.test(name) && !['root', 'onyxia', 'nobody'].includes(name)) ?? 'daemon';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const tinyLab = `
id: tiny
title: { fr: Petit lab, en: Tiny lab }
workspace: /home/onyxia/work
resources: { cpu: 0.5, memory: 64Mi, disk: 16Mi, pids: 64 }
ttl: 10m
idle: 10m
checks:
  host-marker:
    kind: file
    path: ~/work/x
    type: file
    contains: "${hostMarker}"
  host-env:
    kind: file
    path: ~/work/env
    type: file
    contains: "${hostEnvMarker}"
  host-hostname:
    kind: file
    path: ~/work/h
    type: file
    contains: "^${escape(hostHostname)}$"
  host-passwd:
    kind: file
    path: ~/work/mon-dossier
    type: file
    contains: "^${hostOnlyUser}:"
  host-shadow:
    kind: file
    path: ~/work/s
    type: file
    contains: "^root:"
  root-line:
    kind: file
    path: ~/work/notes.txt
    type: file
    contains: "^root:"
`;

let server: AttackServer;

before(async () => {
  fs.writeFileSync(hostFile, `${hostMarker}-${hostPayload}\n`, { mode: 0o644 });
  fs.chmodSync(hostDir, 0o755);
  process.env.ATELIER_ATTACK_SERVER_ENV = `${hostEnvMarker}-${hostPayload}`;
  server = await startAttackServer({ labs: { tiny: tinyLab }, uidBase: 240_000, cgroupName: 'atelier-attack-labs' });
});

after(async () => {
  await server?.cleanup();
  delete process.env.ATELIER_ATTACK_SERVER_ENV;
  fs.rmSync(hostDir, { recursive: true, force: true });
});

/** A learner with a running tiny lab and a terminal on it. */
async function tinyLabWithTerminal(options: { ack?: boolean; terminal?: string } = {}) {
  const browser = new Browser(server);
  const lab = await browser.launch('tiny');
  const terminal = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: options.terminal ?? 'main' }, { ack: options.ack ?? true });
  await terminal.screen;
  return { browser, lab, terminal, uid: labUid(server, lab.id) };
}

/** Types `command` and resolves with the output after it, up to `marker`. */
async function run(terminal: TerminalClient, command: string, marker: string, timeoutMs = 10_000): Promise<string> {
  const from = terminal.output().length;
  // `$((…))` keeps the marker out of the pty's echo of the command line.
  terminal.type(`${command}\recho "${marker}-$((1+1))"\r`);
  const output = await terminal.waitFor(new RegExp(`${marker}-2\\r?\\n`), timeoutMs, from);
  return output.slice(from);
}

async function deleteLab(browser: Browser, lab: { id: string; token: string }, uid: number): Promise<void> {
  const deleted = await browser.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
  assert.equal(deleted.status, 204);
  assert.deepEqual(await waitNoProcesses(uid), [], `processes of lab uid ${uid} survive its deletion`);
  assert.equal((await browser.api(`/api/labs/${lab.id}`, { token: lab.token })).status, 404);
}

describe('lab abuse (attack suite)', { skip: !isRoot && 'needs root (the local driver runs labs as their own uid)' }, () => {
  it('fork bomb through the pty: stops at the pids limit, other labs stay responsive, the lab deletes clean', async () => {
    const victim = await tinyLabWithTerminal({ terminal: 'bystander' });
    const bomber = await tinyLabWithTerminal();
    try {
      assert.notEqual(bomber.browser.cookie, victim.browser.cookie);
      bomber.terminal.type(':(){ :|:& };:\r');
      await sleep(1_500);
      const pids = hostPidsOfUid(bomber.uid).length;
      // The bomb did run into the limit: 64 processes in the lab, plus at most the entry helpers.
      assert.match(bomber.terminal.output(), /Resource temporarily unavailable|fork/);
      assert.ok(pids >= 16 && pids <= 64 + 4, `the bomb runs ${pids} processes`);
      // Another lab answers within a second, several times while the bomb keeps trying.
      for (let n = 0; n < 5; n++) {
        const ms = await roundTrip(victim.terminal, 100 + n, 1_000);
        assert.ok(ms < 1_000, `echo round trip in another lab took ${ms} ms`);
      }
      assert.equal((await server.api('/healthz')).status, 200);
    } finally {
      bomber.terminal.close();
      victim.terminal.close();
    }
    await deleteLab(bomber.browser, bomber.lab, bomber.uid);
    await deleteLab(victim.browser, victim.lab, victim.uid);
    await assertHealthy(server);
  });

  it('memory bomb: the process over the limit is killed, the lab survives, server RSS stays bounded', async () => {
    const { browser, lab, terminal, uid } = await tinyLabWithTerminal();
    try {
      assert.equal(server.sessions.get(lab.id)?.handle?.limits.memory, true, 'the memory limit is not enforced on this host');
      gc();
      const rssBefore = process.memoryUsage().rss;
      const python = await run(terminal, `python3 -c "b = b'x' * (300 * 1024 * 1024); print('allocated', len(b))"; echo "rc=$?"`, 'py-done', 20_000);
      assert.doesNotMatch(python, /allocated \d/);
      assert.match(python, /rc=(137|1)\b/);
      // bash alone: a doubling string.
      const shell = await run(terminal, `bash -c 'a=xxxxxxxx; for i in $(seq 1 40); do a=$a$a; done; echo "grew \${#a}"'; echo "rc=$?"`, 'sh-done', 20_000);
      assert.doesNotMatch(shell, /grew \d{9,}/);
      assert.doesNotMatch(shell, /rc=0\b/);
      // Through driver.exec too (what checks use).
      const handle = server.sessions.get(lab.id)!.handle!;
      const exec = await server.driver.exec(handle, ['python3', '-c', "b = bytearray(300 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('allocated')"], { timeoutMs: 20_000 });
      assert.doesNotMatch(exec.stdout, /allocated/);
      assert.notEqual(exec.code, 0);
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      assert.ok(rssGrowth < 64 * MiB, `server RSS grew by ${Math.round(rssGrowth / MiB)} MiB`);
      // The interactive shell survived its child's death.
      assert.match(await run(terminal, 'echo "still-$((2*3))"', 'alive'), /still-6/);
    } finally {
      terminal.close();
    }
    await deleteLab(browser, lab, uid);
    await assertHealthy(server);
  });

  it('filling the disk: ENOSPC in home, /tmp and /dev/shm; an inode flood hits the memory limit; the server is fine', async () => {
    const { browser, lab, terminal, uid } = await tinyLabWithTerminal();
    try {
      const output = await run(
        terminal,
        [
          'head -c 64M /dev/zero > ~/work/big; echo "home=$?"',
          'head -c 64M /dev/zero > /tmp/big; echo "tmp=$?"',
          'head -c 64M /dev/zero > /dev/shm/big; echo "shm=$?"',
          'echo x > /dev/full-file 2>/dev/null; echo "dev=$?"',
          'du -sk ~ /tmp | awk \'{ s += $1 } END { print "diskkib=" s }\'',
          'du -sk /dev/shm | awk \'{ print "shmkib=" $1 }\'',
        ].join('; '),
        'disk-done',
        20_000,
      );
      assert.match(output, /No space left on device/);
      for (const where of ['home', 'tmp', 'shm', 'dev']) assert.match(output, new RegExp(`${where}=1\\b`), `${where} write did not fail`);
      // The lab's disk is home + /tmp; /dev/shm is a quarter of it on top (and all of it is lab memory).
      const disk = Number(/diskkib=(\d+)/.exec(output)?.[1]);
      const shm = Number(/shmkib=(\d+)/.exec(output)?.[1]);
      assert.ok(disk <= 16 * 1024 + 64, `the lab wrote ${disk} KiB in home and /tmp (disk is 16Mi)`);
      assert.ok(shm <= 4 * 1024 + 64, `the lab wrote ${shm} KiB in /dev/shm`);

      // Empty files cost no disk blocks but kernel memory: the memory cgroup accounts for it.
      const handle = server.sessions.get(lab.id)!.handle!;
      const flood = await server.driver.exec(handle, ['python3', '-c', [
        'import time',
        'n, t = 0, time.time()',
        'try:',
        '    while time.time() - t < 3 and n < 2_000_000:',
        '        for i in range(1000):',
        "            open('/home/onyxia/f%d' % n, 'w').close(); n += 1",
        'except OSError as e:',
        "    print('error', e.errno)",
        "print('files', n, flush=True)",
      ].join('\n')], { timeoutMs: 15_000 });
      const files = Number(/files (\d+)/.exec(flood.stdout)?.[1] ?? 0);
      assert.ok(flood.code !== 0 || /error/.test(flood.stdout), `the inode flood ran freely: ${flood.code} ${flood.stdout}`);
      assert.ok(files < 500_000, `${files} files created`);
      assert.equal((await server.api('/healthz')).status, 200);
    } finally {
      terminal.close();
    }
    await deleteLab(browser, lab, uid);
    await assertHealthy(server);
  });

  it('processes meant to outlive the lab (setsid, nohup, disown, double fork, exec) die with it', async () => {
    const { browser, lab, terminal, uid } = await tinyLabWithTerminal();
    try {
      await run(
        terminal,
        [
          'setsid nohup sleep 1000 >/dev/null 2>&1 &',
          'disown',
          'nohup sleep 1001 >/dev/null 2>&1 & disown',
          '( (sleep 1002 >/dev/null 2>&1 &) & )',
          "(trap '' HUP TERM INT; exec -a atelier-escapee sleep 1003) >/dev/null 2>&1 &",
          'disown -a',
          "python3 -c 'import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(1004)\n    os._exit(0)' &",
        ].join('\n'),
        'spawned',
      );
      const handle = server.sessions.get(lab.id)!.handle!;
      const exec = await server.driver.exec(handle, ['bash', '-c', 'setsid sleep 1005 >/dev/null 2>&1 < /dev/null & disown; nohup sleep 1006 >/dev/null 2>&1 &'], { timeoutMs: 5_000 });
      assert.equal(exec.code, 0, exec.stderr);
      await sleep(300);
      const survivors = await server.driver.exec(handle, ['bash', '-c', 'pgrep -c -f "sleep 100[0-6]|atelier-escapee" || true']);
      assert.ok(Number(survivors.stdout.trim()) >= 6, `the lab's background processes are running: ${survivors.stdout}`);
      const cgroupDirs = (handle.state as { cgroupDirs: string[] }).cgroupDirs;
      terminal.close();
      await deleteLab(browser, lab, uid);
      assert.deepEqual(hostPidsOfUid(uid), []);
      for (const dir of cgroupDirs) assert.equal(fs.existsSync(dir), false, `cgroup ${dir} left behind`);
      // Nothing of it under another uid either (no process can change uid without capabilities).
      const leftovers = fs.readdirSync('/proc').filter((entry) => {
        if (!/^\d+$/.test(entry)) return false;
        try {
          return /^(sleep\x00100[0-6]|atelier-escapee)/.test(fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8'));
        } catch {
          return false;
        }
      });
      assert.deepEqual(leftovers, []);
    } finally {
      terminal.close();
    }
    await assertHealthy(server);
  });

  it('`yes` flood: a client that never acks pauses the shell, memory stays bounded, Ctrl-C stops it, other labs stay fast', async () => {
    const other = await tinyLabWithTerminal({ terminal: 'fast' });
    const flooder = await tinyLabWithTerminal({ ack: false });
    const socket = flooder.terminal.socket;
    let acking = false;
    socket.on('output', (data: string) => {
      if (acking) socket.emit('ack', data.length);
    });
    try {
      for (let n = 0; n < 3; n++) await roundTrip(other.terminal, n); // warm up
      gc();
      const rssBefore = process.memoryUsage().rss;
      flooder.terminal.type('yes atelier-flood\r');
      await flooder.terminal.waitFor(/atelier-flood\r?\n/);
      const trips: number[] = [];
      const started = Date.now();
      for (let n = 10; Date.now() - started < 3_000; n++) {
        trips.push(await roundTrip(other.terminal, n, 1_000));
        await sleep(100);
      }
      const received = flooder.terminal.output().length;
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      assert.ok(received < 1024 * 1024, `the client got ${received} characters without acking: the shell was not paused`);
      assert.ok(rssGrowth < 64 * MiB, `server RSS grew by ${Math.round(rssGrowth / MiB)} MiB during the flood`);
      const worst = Math.max(...trips);
      assert.ok(worst < 100, `another lab's echo round trip reached ${Math.round(worst)} ms during the flood (${trips.map(Math.round).join(', ')})`);

      // The client acks again; Ctrl-C must end the flood within a second.
      acking = true;
      socket.emit('ack', flooder.terminal.output().length);
      const interrupted = performance.now();
      flooder.terminal.type('\x03');
      await sleep(50);
      const from = flooder.terminal.output().length;
      flooder.terminal.type('echo "stopped-$((2+3))"\r');
      await flooder.terminal.waitFor(/stopped-5\r?\n/, 1_000, from);
      const ms = performance.now() - interrupted;
      assert.ok(ms < 1_000, `Ctrl-C took ${Math.round(ms)} ms`);
      const quiet = flooder.terminal.output().length;
      await sleep(300);
      assert.doesNotMatch(flooder.terminal.output().slice(quiet), /atelier-flood/, 'the flood goes on after Ctrl-C');
    } finally {
      flooder.terminal.close();
      other.terminal.close();
    }
    await deleteLab(flooder.browser, flooder.lab, flooder.uid);
    await deleteLab(other.browser, other.lab, other.uid);
    await assertHealthy(server);
  });

  it('escape sequences aimed at the server-side screen mirror never block the server nor blow its memory', async () => {
    // Every shell's output is parsed by a headless xterm inside the server process (screen replay).
    // A sequence whose cost grows with its parameter would stall every lab, the API, the forge and
    // S3 at once. Parameters here are small enough to keep a vulnerable server stalled for seconds
    // only; xterm accepts up to 2147483647, a thousand times more.
    const other = await tinyLabWithTerminal({ terminal: 'fast' });
    const { browser, lab, terminal, uid } = await tinyLabWithTerminal({ terminal: 'escapes' });
    let worstLag = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worstLag = Math.max(worstLag, now - last - 10);
      last = now;
    }, 10);
    const problems: string[] = [];
    try {
      const attacks: Array<[string, string]> = [
        ['REP (repeat the preceding character)', "printf 'A\\033[50000000b'"],
        ['SU (scroll up)', "printf '\\033[1500000S'"],
        ['SD (scroll down)', "printf '\\033[1500000T'"],
        ['IL (insert lines)', "printf '\\033[1500000L'"],
        ['DL (delete lines)', "printf '\\033[1500000M'"],
        ['CHT/CBT (tabs)', "printf '\\033[1500000I\\033[1500000Z'"],
        ['window ops, margins, alternate screen', "printf '\\033[8;9999;9999t\\033[4;99999;99999t\\033[?1049h\\033[1;99999r\\033[99999;99999H\\033[?1049l'"],
        ['a 2 MB OSC title', "head -c 2000000 /dev/zero | tr '\\0' 'x' | { printf '\\033]0;'; cat; printf '\\007'; }"],
        ['reports (DECRQSS, DSR, DA2)', "printf '\\033P$q m\\033\\\\\\033[18t\\033[14t\\033[>c\\033[6n'"],
      ];
      for (const [index, [name, command]] of attacks.entries()) {
        gc();
        const rssBefore = process.memoryUsage().rss;
        worstLag = 0;
        last = performance.now();
        await run(terminal, command, `escape-${index}`, 30_000);
        // The mirror parses after the output left for the viewers: give it time, then probe.
        await sleep(300);
        const trip = await roundTrip(other.terminal, 200 + index, 30_000);
        const rssGrowth = process.memoryUsage().rss - rssBefore;
        if (worstLag > 250) problems.push(`${name}: event loop blocked ${Math.round(worstLag)} ms`);
        if (trip > 250) problems.push(`${name}: another lab's echo took ${Math.round(trip)} ms`);
        if (rssGrowth > 128 * MiB) problems.push(`${name}: server RSS +${Math.round(rssGrowth / MiB)} MiB`);
      }
    } finally {
      clearInterval(ticker);
    }
    assert.deepEqual(problems, [], `terminal output stalls the whole server:\n${problems.join('\n')}`);
    // A reload replays a sane screen.
    terminal.close();
    const again = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'escapes' });
    try {
      const screen = await again.screen;
      assert.ok(screen.length < 4 * MiB, `replayed screen of ${screen.length} characters`);
      assert.match(await run(again, 'echo "sane-$((3*3))"', 'replayed'), /sane-9/);
    } finally {
      again.close();
      other.terminal.close();
    }
    await deleteLab(browser, lab, uid);
    await deleteLab(other.browser, other.lab, other.uid);
    await assertHealthy(server);
  });

  it('symlinks aimed at file checks never reveal or match host content', async () => {
    const { browser, lab, terminal, uid } = await tinyLabWithTerminal();
    const handle = server.sessions.get(lab.id)!.handle!;
    const check = async (id: string) => {
      const response = await browser.api(`/api/labs/${lab.id}/checks/${id}`, { method: 'POST', token: lab.token, lang: 'en' });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const text = JSON.stringify(response.body);
      for (const secret of [hostPayload, `${hostOnlyUser}:x:`, 'root:x:0:0', 'root:*:', 'root:!', 'onyxia:x:1000']) {
        assert.ok(!text.includes(secret), `check ${id} answered with file content (${secret}): ${text}`);
      }
      return response.body as { ok: boolean; found: string };
    };
    const sh = (script: string) => server.driver.exec(handle, ['bash', '-c', script], { timeoutMs: 5_000 });
    try {
      // The host marker is plainly readable on the host, by anyone.
      assert.equal(fs.readFileSync(hostFile, 'utf8').trim(), `${hostMarker}-${hostPayload}`);
      const pid1 = (handle.state as { pid1: number }).pid1;
      const targets = [
        hostFile,
        `/proc/1/root${hostFile}`,
        `/proc/self/root${hostFile}`,
        `/proc/${pid1}/root${hostFile}`,
        `/proc/${process.pid}/root${hostFile}`,
        `../../../../../../..${hostFile}`,
        '/',
        '/proc/1/root',
      ];
      for (const target of targets) {
        assert.equal((await sh(`ln -sfn ${JSON.stringify(target)} ~/work/x`)).code, 0);
        const result = await check('host-marker');
        assert.equal(result.ok, false, `a link to ${target} passed the check`);
      }
      // A chain of links, and a link to a directory holding the marker.
      await sh(`ln -sfn ${JSON.stringify(hostDir)} ~/work/dir; ln -sfn ~/work/dir/marker.txt ~/work/x`);
      assert.equal((await check('host-marker')).ok, false);
      // A FIFO or a device where a file is expected: no hang, no content.
      await sh('rm -f ~/work/x; mkfifo ~/work/x');
      const fifo = performance.now();
      assert.equal((await check('host-marker')).ok, false);
      assert.ok(performance.now() - fifo < 5_000, 'a FIFO made the check hang');
      await sh('rm -f ~/work/x; ln -s /dev/zero ~/work/x');
      assert.equal((await check('host-marker')).ok, false);

      // The server's environment through /proc.
      for (const target of ['/proc/1/environ', '/proc/self/environ', `/proc/${process.pid}/environ`, '/proc/2/environ']) {
        await sh(`ln -sfn ${target} ~/work/env`);
        assert.equal((await check('host-env')).ok, false, `${target} exposed the server's environment`);
      }
      // Host /etc files: the lab has its own /etc/passwd, no /etc/shadow and no /etc/hostname.
      for (const [id, link, target] of [
        ['host-hostname', 'h', '/etc/hostname'],
        ['host-hostname', 'h', '/proc/sys/kernel/hostname'],
        ['host-passwd', 'mon-dossier', '/etc/passwd'],
        ['host-passwd', 'mon-dossier', '/proc/1/root/etc/passwd'],
        ['host-shadow', 's', '/etc/shadow'],
        ['host-shadow', 's', '/proc/1/root/etc/shadow'],
      ] as const) {
        await sh(`ln -sfn ${target} ~/work/${link}`);
        const result = await check(id);
        assert.equal(result.ok, false, `${id}: a link to ${target} matched host content`);
      }
      // A race: the path flips between a file and links out while the check runs.
      const race = sh(`end=$((SECONDS+3)); echo safe > ~/work/plain; while [ $SECONDS -lt $end ]; do ln -sfn ~/work/plain ~/work/x; ln -sfn ${JSON.stringify(hostFile)} ~/work/x; ln -sfn /etc/passwd ~/work/mon-dossier; done`);
      for (let n = 0; n < 10; n++) {
        assert.equal((await check('host-marker')).ok, false);
        assert.equal((await check('host-passwd')).ok, false);
      }
      await race;
    } finally {
      terminal.close();
    }
    await deleteLab(browser, lab, uid);
    await assertHealthy(server);
  });

  it("a `contains` check does not pass through a link that leaves the workspace", async () => {
    // The lab's own /etc/passwd is not host content, but it is not the learner's work either:
    // a link out of the workspace must not satisfy a check about a file in it.
    const { browser, lab, terminal, uid } = await tinyLabWithTerminal();
    const handle = server.sessions.get(lab.id)!.handle!;
    const check = async () => (await browser.api(`/api/labs/${lab.id}/checks/root-line`, { method: 'POST', token: lab.token, lang: 'en' })).body as { ok: boolean; found: string };
    try {
      const outside: Record<string, boolean> = {};
      for (const target of ['/etc/passwd', '../../../etc/passwd', '/proc/self/root/etc/passwd']) {
        assert.equal((await server.driver.exec(handle, ['bash', '-c', `ln -sfn ${target} ~/work/notes.txt`])).code, 0);
        outside[target] = (await check()).ok;
      }
      // Control: the learner's own file with that content passes.
      await server.driver.exec(handle, ['bash', '-c', 'rm -f ~/work/notes.txt; echo "root: mine" > ~/work/notes.txt']);
      assert.equal((await check()).ok, true, 'the check works on a real file');
      assert.deepEqual(outside, { '/etc/passwd': false, '../../../etc/passwd': false, '/proc/self/root/etc/passwd': false }, 'links out of the workspace passed the check');
    } finally {
      terminal.close();
    }
    await deleteLab(browser, lab, uid);
    await assertHealthy(server);
  });

  it("the lab's gateway reaches the forge and S3 only, never the API, the sockets or the site", async () => {
    const { browser, lab, terminal, uid } = await tinyLabWithTerminal();
    const handle = server.sessions.get(lab.id)!.handle!;
    try {
      const env = await server.driver.exec(handle, ['bash', '-c', 'echo "$AWS_S3_ENDPOINT"']);
      const endpoint = env.stdout.trim();
      assert.match(endpoint, /^127\.0\.0\.1:\d+$/);
      const [host, port] = endpoint.split(':');
      const body = '{"lab":"tiny"}';
      for (const [method, target, headers, payload] of [
        ['GET', '/healthz', '', ''],
        ['GET', '/api/me', '', ''],
        ['POST', '/api/labs', `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n`, body],
        ['GET', `/api/labs/${lab.id}`, `Authorization: Bearer ${lab.token}\r\n`, ''],
        ['GET', '/socket.io/?EIO=4&transport=polling', '', ''],
        ['GET', '/fr/', '', ''],
      ] as const) {
        const request = `${method} ${target} HTTP/1.0\r\nHost: ${endpoint}\r\n${headers}\r\n${payload}`;
        const script = `exec 3<>/dev/tcp/${host}/${port} || exit 9; printf %s "$REQUEST" >&3; timeout 3 cat <&3 | head -c 2000`;
        const result = await server.driver.exec(handle, ['env', `REQUEST=${request}`, 'bash', '-c', script], { timeoutMs: 5_000 });
        assert.match(result.stdout, /^HTTP\/1\.[01] 404 /, `${method} ${target} from inside the lab: ${result.stdout.slice(0, 200)}`);
        assert.doesNotMatch(result.stdout, /"status":"ok"|"token"|"learner"|"sid"/);
      }
      // The lab's launch did not create a second lab.
      assert.equal(server.sessions.all().filter((session) => session.learnerId === server.sessions.get(lab.id)?.learnerId).length, 1);
    } finally {
      terminal.close();
    }
    await deleteLab(browser, lab, uid);
    await assertHealthy(server);
  });
});
