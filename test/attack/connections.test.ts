/**
 * Slow and greedy clients against the one HTTP server: 20,000 idle connections from one address
 * (held by a process of their own, so that its descriptors are not the server's), a slowloris
 * sending its headers a byte a second, a request whose body never comes. Another client's
 * /healthz must keep answering fast, and what is beyond the limits must be closed. Loopback
 * only; every loop is bounded and the attacker ends itself.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer({ config: { connections: { perClient: 2000, headersTimeout: 2000, idleTimeout: 3000 } } });
});
after(async () => {
  await server.cleanup();
  rmSync(server.config.dataDir, { recursive: true, force: true });
});

/** Times of `count` sequential GET /healthz from 127.0.0.1 (a client of its own), in ms. */
async function victim(count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const response = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    times.push(performance.now() - started);
  }
  return times;
}

const attacker = `
const { connect } = await import('node:net');
const [port, count, from] = process.argv.slice(1).map((value, i) => (i < 2 ? Number(value) : value));
let open = 0, closed = 0, failed = 0;
const sockets = [];
for (let i = 0; i < count; i += 500) {
  await Promise.all(Array.from({ length: Math.min(500, count - i) }, () => new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    sockets.push(socket);
    socket.on('connect', () => { open++; resolve(); });
    socket.on('error', () => { failed++; resolve(); });
    socket.on('close', () => { closed++; });
  })));
}
// Connections still in the listen backlog look open from here: wait until the server has
// accepted (and closed what it refuses), i.e. the count holds still for a second, 20 s at most.
for (let last = -1, still = 0, waited = 0; still < 2 && waited < 20_000; waited += 500) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  still = closed === last ? still + 1 : 0;
  last = closed;
}
process.stdout.write(JSON.stringify({ attempted: count, connected: open, closedByServer: closed - failed, failed }) + '\\n');
// Held until the test is done, 60 s at most.
const end = () => { for (const socket of sockets) socket.destroy(); process.exit(0); };
process.stdin.on('end', end).resume();
setTimeout(end, 60_000).unref();
`;

test('20,000 idle connections from one address: beyond its cap they are closed, another client is served fast', async () => {
  const idle = await victim(20);
  const child = spawn(process.execPath, ['--input-type=module', '-e', attacker, String(server.port), '20000', '127.0.0.3'], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const report = await new Promise<{ attempted: number; connected: number; closedByServer: number; failed: number }>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(JSON.parse(out));
      });
      child.on('exit', (code) => reject(new Error(`attacker exited (${code}) before reporting`)));
    });
    const underAttack = await victim(20);
    // Counted by the server: what is still in the kernel's listen backlog holds none of its descriptors.
    const held = await new Promise<number>((resolve, reject) => server.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    const p99 = (times: number[]) => Math.max(...times).toFixed(1);
    console.log(`idle connections: ${JSON.stringify(report)}; held ${held}; /healthz max ${p99(idle)} ms idle, ${p99(underAttack)} ms under attack`);
    // The victim's own keep-alive connections (another address) count in `held` too: a few at most.
    assert.ok(held <= 2000 + 10, `at most the per-client cap stays open (${held})`);
    assert.ok(Math.max(...underAttack) < 1000, `another client answered in ${p99(underAttack)} ms`);
  } finally {
    child.stdin.end();
    await new Promise((resolve) => child.once('exit', resolve));
  }
});

/** A socket from `from` that writes `bytes` one a second; resolves when the server closes it. */
function trickle(from: string, head: string, bytes: string): { closed: Promise<number>; socket: Socket } {
  const started = performance.now();
  const socket = connect({ host: '127.0.0.1', port: server.port, localAddress: from });
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    socket.write(head);
    let i = 0;
    timer = setInterval(() => (i < bytes.length ? socket.write(bytes[i++]!) : clearInterval(timer)), 1000);
  });
  socket.on('error', () => {});
  socket.resume();
  const closed = new Promise<number>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve(performance.now() - started);
    }),
  );
  return { closed, socket };
}

test('a slowloris (headers a byte a second) and a body that never comes are cut off within seconds; others are served meanwhile', async () => {
  const slow = Array.from({ length: 200 }, () => trickle('127.0.0.4', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: '.padEnd(30, 'a')));
  const silentBody = trickle('127.0.0.5', 'POST /api/labs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n', '');
  try {
    const during = await victim(10);
    const deadline = (ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), ms));
    const slowest = Math.max(...(await Promise.all(slow.map((one) => Promise.race([one.closed, deadline(15_000)])))));
    const body = await Promise.race([silentBody.closed, deadline(15_000)]);
    console.log(`slowloris closed after ${(slowest / 1000).toFixed(1)} s (headers timeout 2 s), silent body after ${(body / 1000).toFixed(1)} s (idle timeout 3 s); /healthz max ${Math.max(...during).toFixed(1)} ms`);
    assert.ok(slowest < 8000, `slowloris sockets closed within 8 s (${slowest} ms)`);
    assert.ok(body < 8000, `a silent body closed within 8 s (${body} ms)`);
    assert.ok(Math.max(...during) < 1000);
  } finally {
    for (const one of [...slow, silentBody]) one.socket.destroy();
  }
});
