/**
 * Two lab-server replicas (real processes, local driver, one PostgreSQL) behind a small balancer
 * (root only): what serving a lab from another replica costs, and how long a learner waits when
 * the replica holding their terminal dies.
 *
 *   1. click → first prompt byte, 20 launches one after the other, all on replica A (the baseline,
 *      one server as before replicas), then through the balancer: the launch on A, the terminal on B;
 *   2. failover, 5 times: a terminal open through B, B killed (SIGKILL), then a new connection
 *      through the balancer (to A) until the prompt: the server side of a reconnect (socket.io's
 *      own reconnection delay, 1 to 5 s by default, comes on top in a browser).
 */
import { join } from 'node:path';
import { startPostgres } from '../helpers/postgres.ts';
import { balancer, startReplica, type Replica } from '../helpers/replica-processes.ts';
import { connectTerminal } from '../helpers/terminal.ts';
import type { LaunchResult } from './lib/class-clients.ts';
import { children, forkPeer } from './lib/peer.ts';
import { ms, summarize, table } from './lib/stats.ts';

if (process.getuid?.() !== 0) {
  console.log('replicas bench: needs root (the local driver runs labs as their own uids); skipped');
  process.exit(0);
}

const lab = 'terminal-basics';
const sequential = 20;
const failovers = 5;
const rows: string[][] = [['measure', 'n', 'median', 'p95', 'p99', 'max']];
const row = (name: string, values: number[]) => {
  const s = summarize(values);
  rows.push([name, String(s.n), ms(s.median), ms(s.p95), ms(s.p99), ms(s.max)]);
  return s;
};

const clients = forkPeer(join(import.meta.dirname, 'lib', 'class-clients.ts'));
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function launches(url: string): Promise<number[]> {
  const latencies: number[] = [];
  for (let n = 0; n < sequential; n++) {
    const result = await clients.call<LaunchResult>({ cmd: 'launch', url, lab, count: 1, timeoutMs: 60_000 }, 90_000);
    if (result.failures.length) throw new Error(result.failures[0]);
    latencies.push(...result.latencies);
    await clients.call({ cmd: 'delete', url }, 60_000);
  }
  return latencies;
}

const postgres = await startPostgres();
const databaseUrl = await postgres.database();
const a = await startReplica('A', databaseUrl);
const pair = { a, b: await startReplica('B', databaseUrl, a.dataDir) };
const replicas: Replica[] = [a, pair.b];
const lb = balancer(pair);
await new Promise<void>((resolve) => lb.server.listen(0, '127.0.0.1', resolve));
const viaBalancer = `http://127.0.0.1:${(lb.server.address() as { port: number }).port}`;
try {
  const alone = row('launch → prompt, all on one replica (baseline)', await launches(`http://127.0.0.1:${a.port}`));
  const across = row('launch → prompt, launch on A, terminal on B', await launches(viaBalancer));

  const reconnects: number[] = [];
  for (let n = 0; n < failovers; n++) {
    const created = await fetch(`${viaBalancer}/api/labs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lab }) });
    const view = (await created.json()) as { id: string; token: string };
    const onB = await connectTerminal(viaBalancer, { lab: view.id, token: view.token });
    await onB.waitFor(/\$ $/m, 20_000);
    const killed = performance.now();
    pair.b.alive = false;
    pair.b.process.kill('SIGKILL');
    const onA = await connectTerminal(viaBalancer, { lab: view.id, token: view.token });
    await onA.waitFor(/\$ $/m, 20_000);
    reconnects.push(performance.now() - killed);
    onA.close();
    onB.close();
    await fetch(`${viaBalancer}/api/labs/${view.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${view.token}` } });
    // A new B for the next round (the balancer sends socket.io to it again).
    pair.b = await startReplica('B', databaseUrl, a.dataDir);
    replicas.push(pair.b);
  }
  row('B killed → a prompt again through the balancer (from A)', reconnects);
  console.log(table(rows));
  console.log(`\nserving the terminal from the other replica: median ×${(across.median / alone.median).toFixed(2)}, p95 ×${(across.p95 / alone.p95).toFixed(2)} against one replica`);
} finally {
  lb.server.close();
  for (const replica of replicas) if (replica.process.exitCode === null) replica.process.kill('SIGTERM');
  await clients.call({ cmd: 'exit' }).catch(() => {});
  await postgres.stop();
}
process.exit(0);
