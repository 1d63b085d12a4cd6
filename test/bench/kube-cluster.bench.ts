/**
 * The tests' Kubernetes control plane (test/helpers/kube-cluster.ts): how long a start takes (to a
 * Ready KWOK node and a default service account), a pod created to Running with an IP, an exec
 * round trip through the API server, and a stop; then the resident memory of each component with
 * one cluster up. The tools' check when they are built (server/cli/kube-tools.ts) is timed too; a
 * cold build is not (it is printed by the build itself). Prints figures; cleans up.
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { CoreV1Api, Exec } from '@kubernetes/client-node';
import { ensureKubeTools } from '../../server/cli/kube-tools.ts';
import { startKubeCluster, type KubeCluster } from '../helpers/kube-cluster.ts';
import { mib, ms, summarize } from './lib/stats.ts';

const rounds = 5;
const execs = 20;

const checkStarted = performance.now();
await ensureKubeTools(undefined, () => {});
console.log(`kube-tools when built: ${ms(performance.now() - checkStarted)}`);

async function podRunning(cluster: KubeCluster, name: string): Promise<void> {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name }, spec: { containers: [{ name: 'lab', image: 'atelier/lab:bench' }] } } });
  for (;;) {
    const pod = await core.readNamespacedPod({ name, namespace: 'default' });
    if (pod.status?.phase === 'Running' && pod.status.podIP) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function execOnce(cluster: KubeCluster, pod: string): Promise<void> {
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const socket = await new Exec(cluster.kubeConfig()).exec('default', pod, 'lab', ['true'], sink, sink, null, false);
  await new Promise((resolve) => socket.once('close', resolve));
}

const starts: number[] = [];
const toRunning: number[] = [];
const nextToRunning: number[] = [];
const stops: number[] = [];
const execTimes: number[] = [];
let memory = '';
for (let round = 0; round < rounds; round += 1) {
  let at = performance.now();
  const cluster = await startKubeCluster();
  starts.push(performance.now() - at);
  at = performance.now();
  await podRunning(cluster, 'bench');
  toRunning.push(performance.now() - at);
  at = performance.now();
  await podRunning(cluster, 'bench-next');
  nextToRunning.push(performance.now() - at);
  for (let i = 0; i < execs; i += 1) {
    at = performance.now();
    await execOnce(cluster, 'bench');
    execTimes.push(performance.now() - at);
  }
  if (round === 0) {
    memory = Object.entries(cluster.pids)
      .map(([component, pid]) => `${component} ${mib(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024)}`)
      .join(', ');
  }
  at = performance.now();
  await cluster.stop();
  stops.push(performance.now() - at);
}

const line = (label: string, values: number[]) => {
  const s = summarize(values);
  console.log(`${label}: median ${ms(s.median)}, max ${ms(s.max)} (n=${s.n})`);
};
line('start (node Ready, default service account)', starts);
line('first pod created → Running with an IP', toRunning);
line('next pod created → Running with an IP', nextToRunning);
line('exec `true` through the API server and KWOK', execTimes);
line('stop (processes ended, directory removed)', stops);
console.log(`resident memory, one cluster: ${memory}`);
