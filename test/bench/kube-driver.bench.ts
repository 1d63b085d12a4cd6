/**
 * The Kubernetes driver on the tests' control plane (kube-apiserver, etcd, KWOK nodes): a burst of
 * launches through three driver instances (replicas of one deployment) without a warm pool
 * (provision then claim) and with one (claims of pods provisioned beforehand), then the culling of
 * every lab by the three at once. Prints launch and claim latency (median, p95), API server
 * requests per launch (from its apiserver_request_total: every client counted, the scheduler's
 * binds and KWOK's status updates included), and this process's CPU and memory (the three
 * replicas' drivers together). KUBE_BENCH_LABS sets the burst (default 300; the issue asks 1,000),
 * KUBE_BENCH_CONCURRENCY the launches each replica runs at once (default 50).
 * Pods' containers do not run (KWOK): a real cluster adds image pulls and container starts.
 */
import https from 'node:https';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { LabHandle, LabTemplate } from '../../server/drivers/driver.ts';
import { KubernetesDriver } from '../../server/drivers/kubernetes/kubernetes-driver.ts';
import { startKubeCluster, type KubeCluster } from '../helpers/kube-cluster.ts';
import { CpuMeter, mib, ms, pct, summarize } from './lib/stats.ts';

const labs = Number(process.env.KUBE_BENCH_LABS ?? 300);
const replicas = 3;
/**
 * Launches each replica runs at once, the others wait their turn (the lab server bounds its
 * starts the same way, ATELIER_MAX_STARTING): a thousand at once from one process exhaust its
 * connections to the API server.
 */
const perReplica = Number(process.env.KUBE_BENCH_CONCURRENCY ?? 50);
const namespace = 'labs';
const template: LabTemplate = {
  labId: 'bench',
  workspace: '/home/onyxia/work',
  resources: { cpu: 0.01, memory: 16 * 1024 * 1024, disk: 16 * 1024 * 1024, pids: 64 },
  env: {},
};

/** The API server's request counters, summed by verb and resource. */
async function requestCounts(cluster: KubeCluster): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    const request = https.get(`${cluster.server}/metrics`, { ca: cluster.caCert, headers: { authorization: `Bearer ${cluster.adminToken}` } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    });
    request.on('error', reject);
  });
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

function perLaunch(before: Map<string, number>, after: Map<string, number>): string {
  const delta = [...after].map(([key, n]) => [key, n - (before.get(key) ?? 0)] as const).filter(([, n]) => n > 0);
  const total = delta.reduce((sum, [, n]) => sum + n, 0);
  const top = delta.sort((a, b) => b[1] - a[1]).slice(0, 6).map(([key, n]) => `${key} ${(n / labs).toFixed(2)}`);
  return `${(total / labs).toFixed(1)} (${top.join(', ')})`;
}

/** Runs fn under one of `limit` slots. */
function slots(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let free = limit;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}

const cluster = await startKubeCluster({ timeoutMs: 120_000 });
try {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  // Room for the burst on KWOK's one node (it reports no storage and 110 pods otherwise).
  const room = { 'ephemeral-storage': '10Ti', pods: String(labs * 3), cpu: '10000', memory: '10Ti' };
  await core.patchNodeStatus({ name: cluster.nodeName, body: { status: { capacity: room, allocatable: room } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  await cluster.createNamespace(namespace, { 'pod-security.kubernetes.io/enforce': 'restricted' });
  const drivers = Array.from({ length: replicas }, () => new KubernetesDriver({ namespace, image: 'atelier/lab:bench', deployment: 'bench', kubeConfig: cluster.kubeConfig(), cullIntervalMs: 0, startTimeoutMs: 600_000 }));
  const driverOf = (i: number) => drivers[i % replicas]!;
  const replicaSlots = drivers.map(() => slots(perReplica));
  const inSlot = <T>(i: number, fn: () => Promise<T>) => replicaSlots[i % replicas]!(fn);
  await Promise.all(drivers.map((d) => d.list()));
  const claimFor = (i: number) => ({ sessionId: `session-${i}`, learnerId: `learner-${i}`, env: { AWS_SECRET_ACCESS_KEY: `secret-${i}` }, homeFiles: { '.gitconfig': '[user]\n' }, expiresAt: Date.now() + 3_600_000 });
  const cpu = new CpuMeter();

  // Without a pool: each launch provisions, then claims.
  let before = await requestCounts(cluster);
  cpu.start();
  let started = performance.now();
  const cold: number[] = [];
  const launched: LabHandle[] = await Promise.all(
    Array.from({ length: labs }, async (_, i) => {
      const handle = await inSlot(i, async () => driverOf(i).claim(await driverOf(i).provision(template), claimFor(i)));
      cold.push(performance.now() - started);
      return handle;
    }),
  );
  const coldWall = performance.now() - started;
  const coldCpu = cpu.read();
  let after = await requestCounts(cluster);
  const c = summarize(cold);
  console.log(`no pool, ${labs} launches in a burst through ${replicas} replicas (${perReplica} at once each): burst → claimed median ${ms(c.median)}, p95 ${ms(c.p95)}, all in ${ms(coldWall)}`);
  console.log(`  API server requests per launch: ${perLaunch(before, after)}`);
  console.log(`  this process (3 drivers): CPU ${pct(coldCpu)} of a core over the burst, RSS ${mib(process.memoryUsage().rss)}`);

  // Culling: every lab expired, the three replicas culling at once.
  started = performance.now();
  const culled = await Promise.all(drivers.map((d) => d.cull(Date.now() + 2 * 3_600_000)));
  for (;;) {
    if ((await drivers[0]!.list()).length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  console.log(`culling ${launched.length} expired labs by ${replicas} replicas at once: ${ms(performance.now() - started)} until none is listed (deletes by replica: ${culled.join(', ')})`);

  // One claim at a time: the cost of a claim alone (a patch, a Secret and an exec at once).
  const alone: number[] = [];
  for (let i = 0; i < 20; i++) {
    const handle = await driverOf(i).provision(template);
    const t0 = performance.now();
    const result = await driverOf(i).claim(handle, claimFor(i));
    alone.push(performance.now() - t0);
    await driverOf(i).stop(result);
  }
  const a = summarize(alone);
  console.log(`one claim at a time (${alone.length}): median ${ms(a.median)}, p95 ${ms(a.p95)}`);

  // With a pool: the pods provisioned beforehand, then a burst of claims.
  started = performance.now();
  const warm = await Promise.all(Array.from({ length: labs }, (_, i) => inSlot(i, () => driverOf(i).provision(template))));
  console.log(`pool of ${labs} provisioned in ${ms(performance.now() - started)}`);
  before = await requestCounts(cluster);
  cpu.start();
  started = performance.now();
  const claims: number[] = [];
  const claimed = await Promise.all(
    warm.map(async (handle, i) => {
      const result = await inSlot(i, () => driverOf(i).claim(handle, claimFor(i)));
      claims.push(performance.now() - started);
      return result;
    }),
  );
  const warmWall = performance.now() - started;
  const warmCpu = cpu.read();
  after = await requestCounts(cluster);
  const w = summarize(claims);
  console.log(`warm pool, ${labs} claims in a burst: burst → claimed median ${ms(w.median)}, p95 ${ms(w.p95)}, all in ${ms(warmWall)}`);
  console.log(`  API server requests per launch: ${perLaunch(before, after)}`);
  console.log(`  this process (3 drivers): CPU ${pct(warmCpu)} of a core over the burst, RSS ${mib(process.memoryUsage().rss)}`);

  await Promise.all(claimed.map((handle, i) => inSlot(i, () => driverOf(i).stop(handle))));
  await Promise.all(drivers.map((d) => d.close()));
} finally {
  await cluster.stop();
}
