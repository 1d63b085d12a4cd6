/**
 * The attack benchmark's attacker, in a process of its own (its CPU is not the server's nor the
 * victim's measuring loop's). Driven over IPC (lib/peer.ts): `start` begins one attack as a fresh
 * learner and returns at once; `stop` ends it, frees what it holds, and returns its figures.
 * Every loop here is bounded by `stop` and by a hard deadline; traffic goes to the loopback only.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket as NetSocket } from 'node:net';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LearnerClient } from '../../helpers/learner.ts';
import { Flooder, floods, maxSize, type Flood } from '../../helpers/terminal-flood.ts';
import { rawSigned, type RawCredential, type RawTarget } from '../../helpers/s3-raw.ts';
import { serveParent } from './peer.ts';

export type Attack = 'xml-bomb' | `mirror-${Flood}` | 'slow-forge' | 'idle-connections' | 'quota-fill';

export const attacks: Attack[] = ['xml-bomb', ...(Object.keys(floods) as Flood[]).map((flood) => `mirror-${flood}` as const), 'slow-forge', 'idle-connections', 'quota-fill'];

export type AttackerCommand = { cmd: 'start'; attack: Attack; url: string; lab: string } | { cmd: 'stop' } | { cmd: 'exit' };

export interface AttackFigures {
  attack: Attack;
  /** What the attack managed, in its own words (requests sent, refusals, connections held…). */
  summary: string;
}

/** No attack runs longer than this, whether or not `stop` comes. */
const deadlineMs = 120_000;

interface Running {
  stop(): Promise<string>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function s3Of(learner: LearnerClient, url: string): Promise<{ target: RawTarget; credential: RawCredential; bucket: string }> {
  const { s3 } = await learner.me();
  const server = new URL(url);
  return {
    target: { endpoint: s3.endpoint, region: s3.region, connectTo: { host: server.hostname, port: Number(server.port) } },
    credential: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, sessionToken: s3.sessionToken },
    bucket: s3.bucket,
  };
}

/** Runs `step` in `parallel` loops until stopped; counts outcomes by label. */
function loops(parallel: number, step: () => Promise<string>): { counts: Map<string, number>; stop(): Promise<void> } {
  const counts = new Map<string, number>();
  let stopped = false;
  const until = Date.now() + deadlineMs;
  const workers = Array.from({ length: parallel }, async () => {
    while (!stopped && Date.now() < until) {
      const label = await step().catch((error: Error) => `error ${error.message.slice(0, 40)}`);
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
  });
  return {
    counts,
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

const describe = (counts: Map<string, number>) => [...counts].map(([label, n]) => `${n}× ${label}`).join(', ') || 'nothing';

/** 2 MiB XML documents of unclosed tags to DeleteObjects and CompleteMultipartUpload. */
async function xmlBomb(url: string): Promise<Running> {
  const learner = new LearnerClient(url);
  const { target, credential, bucket } = await s3Of(learner, url);
  const bomb = Buffer.from(`<Delete>${'<Object><Key>'.repeat(2 * 1024 * 1024 / 13)}`);
  const md5 = createHash('md5').update(bomb).digest('base64');
  const created = await rawSigned(target, credential, 'POST', `/${bucket}/bomb?uploads`);
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body)?.[1];
  let turn = 0;
  const timings: number[] = [];
  const run = loops(2, async () => {
    const started = performance.now();
    const complete = uploadId && turn++ % 2 === 1;
    const response = complete
      ? await rawSigned(target, credential, 'POST', `/${bucket}/bomb?uploadId=${encodeURIComponent(uploadId)}`, bomb)
      : await rawSigned(target, credential, 'POST', `/${bucket}?delete`, bomb, { 'content-md5': md5 });
    timings.push(performance.now() - started);
    return `${complete ? 'complete' : 'delete'} ${response.status}`;
  });
  return {
    stop: async () => {
      await run.stop();
      const sorted = timings.sort((a, b) => a - b);
      return `${describe(run.counts)}; answered in median ${sorted[sorted.length >> 1]?.toFixed(0)} ms`;
    },
  };
}

/** One of the attack suite's escape-sequence floods, at the largest terminal the server accepts. */
async function mirrorFlood(url: string, lab: string, flood: Flood): Promise<Running> {
  const flooder = await Flooder.start(url, lab);
  await flooder.start(flood, deadlineMs / 1000);
  return {
    stop: async () => {
      await flooder.close();
      return `${flood} at ${maxSize.cols}×${maxSize.rows}`;
    },
  };
}

/** 32 git requests whose bodies arrive one byte a second. */
async function slowForge(url: string): Promise<Running> {
  const learner = new LearnerClient(url);
  const me = await learner.me();
  const token = (await learner.api('/api/me/git/token', { method: 'POST' })).body.token as string;
  const home = mkdtempSync(join(tmpdir(), 'atelier-attack-git-'));
  const forge = new URL(`${me.git.forgeUrl}/slow.git`);
  forge.username = 'x';
  forge.password = token;
  const git = (...args: string[]) => execFileSync('git', args, { cwd: home, env: { ...process.env, HOME: home, GIT_TERMINAL_PROMPT: '0' }, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(home, 'README.md'), 'slow\n');
  git('add', '.');
  git('-c', 'user.name=a', '-c', 'user.email=a@b', 'commit', '-qm', 'one');
  git('push', '-q', forge.href, 'main');
  const server = new URL(url);
  const requests: ClientRequest[] = [];
  const outcomes = new Map<string, number>();
  let stopped = false;
  for (let i = 0; i < 32; i++) {
    const req = httpRequest({
      host: server.hostname,
      port: Number(server.port),
      method: 'POST',
      path: `${forge.pathname}/git-upload-pack`,
      headers: {
        authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
        'content-type': 'application/x-git-upload-pack-request',
        'content-length': '1000000',
      },
    });
    req.on('response', (res) => {
      outcomes.set(`answered ${res.statusCode}`, (outcomes.get(`answered ${res.statusCode}`) ?? 0) + 1);
      res.resume();
    });
    req.on('error', () => outcomes.set('cut', (outcomes.get('cut') ?? 0) + 1));
    req.write('0032want ');
    requests.push(req);
  }
  const dribble = setInterval(() => {
    if (!stopped) for (const req of requests) if (!req.destroyed) req.write('0');
  }, 1_000);
  const deadline = setTimeout(() => void finish(), deadlineMs);
  const finish = async () => {
    stopped = true;
    clearInterval(dribble);
    clearTimeout(deadline);
    for (const req of requests) req.destroy();
    rmSync(home, { recursive: true, force: true });
  };
  return {
    stop: async () => {
      const held = requests.filter((req) => !req.destroyed && !req.writableEnded).length;
      await finish();
      return `32 slow requests, ${held} still held by the server at the end; ${describe(outcomes)}`;
    },
  };
}

/**
 * 20,000 TCP connections opened and left idle, from an address of their own (127.0.0.2): the
 * victim's 127.0.0.1 must not share the attacker's per-address cap, as two hosts would not.
 */
async function idleConnections(url: string): Promise<Running> {
  const server = new URL(url);
  const sockets: NetSocket[] = [];
  let closedByServer = 0;
  let failed = 0;
  const target = 20_000;
  const until = Date.now() + deadlineMs;
  for (let opened = 0; opened < target && Date.now() < until; ) {
    const batch = Math.min(500, target - opened);
    await Promise.all(
      Array.from({ length: batch }, () =>
        new Promise<void>((resolve) => {
          const socket = connect({ host: server.hostname, port: Number(server.port), localAddress: '127.0.0.2' });
          socket.once('connect', () => resolve());
          socket.once('error', () => {
            failed += 1;
            resolve();
          });
          socket.once('close', () => (closedByServer += 1));
          sockets.push(socket);
        }),
      ),
    );
    opened += batch;
  }
  return {
    stop: async () => {
      const open = sockets.filter((socket) => !socket.destroyed && socket.readyState === 'open').length;
      for (const socket of sockets) socket.destroy();
      return `${sockets.length} connections opened (${failed} failed), ${open} still open at the end, ${closedByServer} closed by the server`;
    },
  };
}

/** 1 MiB objects written as fast as the server takes them, past the learner's quota. */
async function quotaFill(url: string): Promise<Running> {
  const learner = new LearnerClient(url);
  const { target, credential, bucket } = await s3Of(learner, url);
  const chunk = randomBytes(1024 * 1024);
  let n = 0;
  let written = 0;
  const maxBytes = 2 * 1024 ** 3;
  const run = loops(4, async () => {
    if (written >= maxBytes) {
      await sleep(100);
      return 'capped by the bench';
    }
    const response = await rawSigned(target, credential, 'PUT', `/${bucket}/fill/${n++}`, chunk);
    if (response.status === 200) written += chunk.length;
    const code = /<Code>([^<]+)<\/Code>/.exec(response.body)?.[1];
    return `${response.status}${code ? ` ${code}` : ''}`;
  });
  return {
    stop: async () => {
      await run.stop();
      return `${(written / 1024 / 1024).toFixed(0)} MiB stored; ${describe(run.counts)}`;
    },
  };
}

function begin(attack: Attack, url: string, lab: string): Promise<Running> {
  if (attack.startsWith('mirror-')) return mirrorFlood(url, lab, attack.slice('mirror-'.length) as Flood);
  switch (attack) {
    case 'xml-bomb':
      return xmlBomb(url);
    case 'slow-forge':
      return slowForge(url);
    case 'idle-connections':
      return idleConnections(url);
    case 'quota-fill':
      return quotaFill(url);
  }
  throw new Error(`unknown attack ${attack}`);
}

let current: { attack: Attack; running: Running } | undefined;

serveParent(async (command: AttackerCommand): Promise<unknown> => {
  switch (command.cmd) {
    case 'start': {
      if (current) throw new Error(`${current.attack} is still running`);
      current = { attack: command.attack, running: await begin(command.attack, command.url, command.lab) };
      return null;
    }
    case 'stop': {
      if (!current) return null;
      const { attack, running } = current;
      current = undefined;
      return { attack, summary: await running.stop() } satisfies AttackFigures;
    }
    case 'exit':
      setImmediate(() => process.exit(0));
      return null;
  }
});
process.on('disconnect', () => process.exit(0));
