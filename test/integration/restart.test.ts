/**
 * The server as it runs in production (`node server/main.ts`, a child process with the project's
 * labs), killed and restarted on the same data directory:
 *   - SIGKILL: the lab's sandbox dies with its server; what a dead server may still leave in the
 *     lab uid range (a sandbox whose server is not the next one, a stray lab process) is reaped by
 *     the next server before it listens, and a new lab launches;
 *   - SIGTERM stops every lab, exits 0, and the learner's data is intact in the SQLite file.
 * The labs use their own host uid range, so other servers running meanwhile are left alone.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { makeSiteDir } from '../helpers/server.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { internal, startLab } from '../helpers/driver.ts';

const root = join(import.meta.dirname, '..', '..');
const uidBase = 281_000;
const uidCount = 40;
const dataDir = mkdtempSync(join(tmpdir(), 'atelier-restart-'));
const siteDir = makeSiteDir();
const children = new Set<ChildProcess>();

after(() => {
  for (const child of children) child.kill('SIGKILL');
  // Whatever a failed run left in this test's uid range.
  for (const { pid } of labProcesses()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(siteDir, { recursive: true, force: true });
});

/** Live processes whose real uid is in this test's lab range, with their start time (pid reuse). */
function labProcesses(): { pid: number; uid: number; started: string }[] {
  const found: { pid: number; uid: number; started: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      const state = /^State:\s+(\S)/m.exec(status)?.[1];
      if (!(uid >= uidBase && uid < uidBase + uidCount) || state === 'Z') continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
      found.push({ pid: Number(entry), uid, started });
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

interface Running {
  child: ChildProcess;
  url: string;
  logs: Record<string, any>[];
  exited: Promise<number | null>;
}

async function startMain(port: number): Promise<Running> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'server/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      ATELIER_DATA_DIR: dataDir,
      ATELIER_SITE_DIR: siteDir,
      ATELIER_LABS_DIR: join(root, 'labs'),
      ATELIER_LAB_UID_BASE: String(uidBase),
      ATELIER_LAB_UID_COUNT: String(uidCount),
      ATELIER_MAX_LABS: String(uidCount),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const logs: Record<string, any>[] = [];
  let stderr = '';
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line.trim()) logs.push(JSON.parse(line));
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    children.delete(child);
    resolve(code);
  }));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) assert.fail(`server exited with ${child.exitCode}: ${stderr}`);
    assert.ok(Date.now() < deadline, `server not up after 20 s: ${stderr}`);
    const up = await fetch(`${url}/healthz`).then((response) => response.ok, () => false);
    if (up) return { child, url, logs, exited };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitFor(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('SIGKILL leaves no sandbox behind; the next server reaps leftovers before listening; SIGTERM stops labs and keeps learner data', async () => {
  const port = await freePort();
  const first = await startMain(port);
  const learner = new LearnerClient(first.url);
  const learnerId = (await learner.me()).learner.id;
  assert.equal((await learner.api('/api/me/git', { method: 'PUT', body: { name: 'Margaret Hamilton', email: 'mh@example.org' } })).status, 200);
  const lab = await learner.launch('datalab-discovery');
  assert.equal(lab.status, 'running');
  const before = labProcesses();
  assert.ok(before.length >= 2, `the lab's sandbox processes: ${JSON.stringify(before)}`);
  // The log line comes through the child's stdout pipe, which may trail the HTTP answer a little.
  await waitFor('the "lab started" log line', () => first.logs.some((line) => line.msg === 'lab started' && line.session === lab.id && line.learner === learnerId && typeof line.durationMs === 'number'), 3_000);

  first.child.kill('SIGKILL');
  assert.equal(await first.exited, null, 'killed by a signal');
  // The sandbox dies with its server (the keeper's parent-death signal, bwrap --die-with-parent).
  await waitFor('no process of the SIGKILLed server\'s lab', () => labProcesses().length === 0, 3_000);

  // What a server that died without taking its labs along leaves (a keeper that lost its parent-death
  // signal, a half-started lab): a real sandbox in the range whose server is not the next one, and a
  // stray process of a lab uid. The next server must reap both before it listens.
  const leftovers = new LocalDriver({ uidBase, uidCount });
  const planted = await startLab(leftovers, {
    sessionId: 'left-behind',
    labId: 'datalab-discovery',
    workspace: '/home/onyxia/work',
    resources: { cpu: 0.5, memory: 128 * 1024 * 1024, disk: 32 * 1024 * 1024, pids: 64 },
    env: {},
    expiresAt: Date.now() + 600_000,
  });
  assert.ok(planted);
  // Its server is this test process, still alive: make its lease say what a crashed server's says
  // (a holder that no longer runs, of the same deployment), which is what lets the next one adopt it.
  writeFileSync(`/run/atelier/uids/${internal(planted).uid}`, JSON.stringify({ pid: 0, start: '0', deployment: 'atelier' }));
  const stray = spawn('/usr/bin/setpriv', [`--reuid=${uidBase + uidCount - 1}`, `--regid=${uidBase + uidCount - 1}`, '--clear-groups', '/usr/bin/sleep', '600'], {
    detached: true,
    stdio: 'ignore',
  });
  stray.unref();
  await waitFor('the stray process runs', () => labProcesses().some((p) => p.uid === uidBase + uidCount - 1));
  const planted2 = labProcesses();
  assert.ok(planted2.length >= 3, `leftovers: ${JSON.stringify(planted2)}`);

  const t0 = Date.now();
  const second = await startMain(port);
  const upMs = Date.now() - t0;
  const survivors = labProcesses().filter((p) => [...before, ...planted2].some((b) => b.pid === p.pid && b.started === p.started));
  assert.deepEqual(survivors, [], 'no process left by a previous run survives the restart');
  assert.deepEqual(labProcesses(), [], 'nothing at all runs in the lab uid range before anyone launches');
  const reaped = second.logs.find((line) => line.msg === 'labs of a previous run reaped');
  assert.ok(reaped && reaped.reaped >= 1, `reaping logged: ${JSON.stringify(reaped)}`);
  assert.ok(upMs < 15_000, `restarted and reaped in ${upMs} ms`);

  // The old lab is gone for its page; the learner (same cookie, same data dir) launches a new one.
  learner.url = second.url;
  assert.equal((await learner.api(`/api/labs/${lab.id}`, { token: lab.token })).status, 404);
  const again = await learner.launch('datalab-discovery');
  assert.equal(again.status, 'running');
  assert.notEqual(again.id, lab.id);
  assert.equal((await learner.me()).git.name, 'Margaret Hamilton', 'learner data survived the SIGKILL');
  assert.ok(labProcesses().length >= 2, 'the new lab runs');

  second.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([second.exited, new Promise((resolve) => (timer = setTimeout(resolve, 25_000, 'timeout')))]);
  clearTimeout(timer);
  assert.equal(code, 0, 'SIGTERM exits 0');
  await waitFor('every lab process gone after SIGTERM', () => labProcesses().length === 0);
  assert.ok(second.logs.some((line) => line.msg === 'lab stopped' && line.session === again.id && line.reason === 'shutdown'));

  // The learner store is intact and readable by another process.
  assert.ok(statSync(join(dataDir, 'learners.db')).size > 0);
  const db = new DatabaseSync(join(dataDir, 'learners.db'), { readOnly: true });
  try {
    const row = db.prepare('SELECT id, git_name FROM learners WHERE id = ?').get(learnerId) as { id: string; git_name: string } | undefined;
    assert.deepEqual({ ...row }, { id: learnerId, git_name: 'Margaret Hamilton' });
  } finally {
    db.close();
  }
});
