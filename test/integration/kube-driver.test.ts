/**
 * The Kubernetes driver against a real control plane (test/helpers/kube-cluster.ts: kube-apiserver,
 * etcd, controller-manager, scheduler, KWOK playing a node), as the lab server's own account with
 * nothing but the chart's Role for the labs (deploy/chart): the API server validates its manifests, enforces PodSecurity
 * "restricted" on the labs' namespace and RBAC; watches, claims, exec through the API server
 * (to KWOK's simulated exec, which runs the command as a program of this machine in a scratch
 * directory), culling by several replicas. Containers do not run there.
 *
 * What needs a running container (a shell in the lab image, its read-only root, the lab user,
 * the services) is in the last suite, which runs only when KUBECONFIG points to a real cluster.
 *
 * Run: node_modules/.bin/node --test test/integration/kube-driver.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, CoreV1Api, KubeConfig, NetworkingV1Api, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions } from '@kubernetes/client-node';
import type { LabHandle, LabTemplate, ProgressEvent } from '../../server/drivers/driver.ts';
import { KubernetesDriver, type KubernetesDriverOptions } from '../../server/drivers/kubernetes/kubernetes-driver.ts';
import { LABEL, labPod } from '../../server/drivers/kubernetes/manifests.ts';
import { only, render } from '../helpers/chart.ts';
import { startKubeCluster, type KubeCluster } from '../helpers/kube-cluster.ts';
import { driverContract } from '../helpers/driver-contract.ts';

const MiB = 1024 * 1024;
const labsNamespace = 'labs';
const serverNamespace = 'atelier';


/** One control plane for the file (the machine has 2 cores): started on first use, stopped at the end. */
let clusterStarted: Promise<KubeCluster> | undefined;
const sharedCluster = () =>
  (clusterStarted ??= startKubeCluster().then(async (cluster) => {
    // A lab asks for ephemeral storage (its disk): KWOK's node reports none unless told.
    const storage = { 'ephemeral-storage': '100Gi' };
    await cluster
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .patchNodeStatus(
        { name: cluster.nodeName, body: { status: { capacity: storage, allocatable: storage } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    return cluster;
  }));
after(async () => {
  await (await clusterStarted?.catch(() => undefined))?.stop();
});

const template = (extra: Partial<LabTemplate> = {}): LabTemplate => ({
  labId: 'datalab-discovery',
  workspace: '/home/onyxia/work',
  resources: { cpu: 0.25, memory: 256 * MiB, disk: 64 * MiB, pids: 128 },
  env: { LAB_OWN: 'from-the-template' },
  tools: { mc: '#!/bin/sh\necho mc\n' },
  ...extra,
});

async function refusal(promise: Promise<unknown>): Promise<ApiException<string>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiException) return error as ApiException<string>;
    throw error;
  }
  assert.fail('the API server accepted it');
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the Kubernetes driver on a real API server (KWOK nodes)', () => {
  let cluster: KubeCluster;
  let admin: CoreV1Api;
  let serverConfig: KubeConfig;
  const drivers: KubernetesDriver[] = [];
  const driver = (extra: Partial<KubernetesDriverOptions> = {}): KubernetesDriver => {
    const made = new KubernetesDriver({
      namespace: labsNamespace,
      image: 'atelier/lab:test',
      deployment: 'school',
      kubeConfig: serverConfig,
      gateway: { host: `atelier.${serverNamespace}.svc`, port: 80 },
      networkPolicy: { server: { namespace: serverNamespace, podLabels: { 'app.kubernetes.io/name': 'atelier', 'app.kubernetes.io/component': 'server' }, port: 4321 }, egressCidrs: ['0.0.0.0/0'] },
      cullIntervalMs: 0,
      startTimeoutMs: 30_000,
      ...extra,
    });
    drivers.push(made);
    return made;
  };

  before(async () => {
    cluster = await sharedCluster();
    admin = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await cluster.createNamespace(labsNamespace, { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
    // The lab server's account has the chart's Role in the labs' namespace, and nothing else.
    const { rules } = only(await render(), 'Role');
    const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({ namespace: labsNamespace, body: { metadata: { name: 'atelier-labs' }, rules } });
    await rbac.createNamespacedRoleBinding({
      namespace: labsNamespace,
      body: {
        metadata: { name: 'atelier-labs' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'atelier-labs' },
        subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: cluster.limited.name }],
      },
    });
    serverConfig = cluster.kubeConfig(cluster.limited);
  });

  after(async () => {
    for (const d of drivers) await d.close();
  });

  it('the labs’ namespace refuses a pod that is not "restricted", and the server’s account can do nothing elsewhere', async () => {
    const pod = labPod(template(), { name: 'lab-escalating', namespace: labsNamespace, deployment: 'school', image: 'atelier/lab:test', expiresAt: 0, activeDeadlineSeconds: 60 });
    pod.spec!.containers[0]!.securityContext!.allowPrivilegeEscalation = true;
    const refused = await refusal(cluster.kubeConfig().makeApiClient(CoreV1Api).createNamespacedPod({ namespace: labsNamespace, body: pod }));
    assert.equal(refused.code, 403);
    assert.match(String(refused.body), /violates PodSecurity .*restricted:latest.*allowPrivilegeEscalation != false/);
    const elsewhere = await refusal(serverConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'default' }));
    assert.equal(elsewhere.code, 403);
  });

  const progress: ProgressEvent[] = [];
  let lab: LabHandle;

  it('provision: a pod the API server admits, its progress from the pod’s conditions and events, the labs’ policy and tools', async () => {
    const d = driver();
    lab = await d.provision(template(), (event) => progress.push(event));
    const steps = progress.map((event) => event.step);
    assert.equal(steps[0], 'pending');
    assert.ok(steps.includes('scheduled'), steps.join(' '));
    assert.equal(steps.at(-1), 'ready');
    const pod = await admin.readNamespacedPod({ name: lab.id, namespace: labsNamespace });
    assert.equal(pod.status?.phase, 'Running');
    assert.equal(pod.metadata?.labels?.[LABEL.pool], 'warm');
    assert.equal(pod.metadata?.labels?.[LABEL.deployment], 'school');
    assert.equal(pod.spec?.activeDeadlineSeconds, 7 * 24 * 3600 + 8 * 3600, 'the longest warm wait and the longest lifetime');
    const policy = await cluster.kubeConfig().makeApiClient(NetworkingV1Api).readNamespacedNetworkPolicy({ name: 'atelier-labs-school', namespace: labsNamespace });
    const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
    assert.deepEqual(plain(policy.spec?.egress?.[2]?.to?.[0]?.ipBlock), { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] });
    assert.deepEqual(plain(policy.spec?.ingress?.[0]?._from?.[0]?.podSelector?.matchLabels), { 'app.kubernetes.io/name': 'atelier', 'app.kubernetes.io/component': 'server' });
    const tools = pod.spec?.volumes?.find((v) => v.name === 'tools')?.configMap?.name;
    assert.ok(tools);
    assert.equal((await admin.readNamespacedConfigMap({ name: tools, namespace: labsNamespace })).data?.mc, '#!/bin/sh\necho mc\n');
  });

  it('provision: a pod the cluster cannot place says why, in the scheduler\'s own words, and is removed', async () => {
    const d = driver({ startTimeoutMs: 3000 });
    const seen: ProgressEvent[] = [];
    await assert.rejects(d.provision(template({ resources: { cpu: 0.25, memory: 256 * MiB, disk: 1024 ** 5, pids: 128 } }), (event) => seen.push(event)), (error: Error) => {
      assert.match(error.message, /did not run within 3000 ms \(waiting: 0\/1 nodes are available: 1 Insufficient ephemeral-storage/);
      return true;
    });
    assert.ok(seen.some((event) => event.step === 'waiting' && /Insufficient ephemeral-storage/.test(event.message ?? '')), JSON.stringify(seen));
    await eventually('the unplaceable pod removed', async () => ((await d.list()).some((h) => h.labId === 'datalab-discovery' && h.id !== lab.id) ? undefined : true));
  });

  it('claim: labels, a lower deadline, the environment’s Secret owned by the pod, files written through exec; never twice', async () => {
    const d = driver();
    const expiresAt = Date.now() + 600_000;
    const claimed = await d.claim(lab, { sessionId: 'session-1', learnerId: 'learner-1', env: { LEARNER_SECRET: "it's a secret" }, homeFiles: { '.gitconfig': '[user]\n' }, expiresAt });
    assert.equal(claimed.sessionId, 'session-1');
    const pod = await admin.readNamespacedPod({ name: lab.id, namespace: labsNamespace });
    assert.equal(pod.metadata?.labels?.[LABEL.pool], 'claimed');
    assert.equal(pod.metadata?.labels?.[LABEL.session], 'session-1');
    assert.equal(pod.metadata?.labels?.[LABEL.learner], 'learner-1');
    assert.equal(pod.metadata?.labels?.[LABEL.expires], String(Math.ceil(expiresAt / 1000)));
    assert.ok(pod.spec!.activeDeadlineSeconds! <= 8 * 3600 + 5, `deadline lowered to the lifetime: ${pod.spec!.activeDeadlineSeconds}`);
    const secret = await admin.readNamespacedSecret({ name: `${lab.id}-env`, namespace: labsNamespace });
    assert.equal(Buffer.from(secret.data!.LEARNER_SECRET!, 'base64').toString(), "it's a secret");
    assert.equal(secret.metadata?.ownerReferences?.[0]?.uid, pod.metadata?.uid);
    // KWOK's exec ran the claim's script in its scratch directory: the environment is there for every exec.
    const seen = await d.exec(claimed, ['sh', '-c', 'printf %s "$LEARNER_SECRET"; cat .gitconfig']);
    assert.deepEqual(seen, { code: 0, stdout: "it's a secret[user]\n", stderr: '', timedOut: false });
    const again = driver().claim(lab, { sessionId: 'session-2', env: {}, expiresAt });
    await assert.rejects(again, /cannot be claimed/);
    assert.equal((await admin.readNamespacedPod({ name: lab.id, namespace: labsNamespace })).metadata?.labels?.[LABEL.session], 'session-1');
    lab = claimed;
  });

  // Not stdin to its end: KWOK's simulated exec never closes the command's stdin (the real-cluster suite has it).
  it('exec: exit codes, stderr, and a timeout killed and reported', async () => {
    const d = driver();
    assert.deepEqual(await d.exec(lab, ['sh', '-c', 'echo out; echo err >&2; exit 3']), { code: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    const big = await d.exec(lab, ['sh', '-c', 'head -c 200000 /dev/zero | tr "\\0" x']);
    assert.equal(big.stdout.length, 64 * 1024, 'output is capped');
    const started = Date.now();
    const slow = await d.exec(lab, ['sh', '-c', 'echo begun; sleep 30'], { timeoutMs: 700 });
    assert.ok(Date.now() - started < 5000);
    assert.equal(slow.timedOut, true);
    assert.equal(slow.code, 124);
    assert.match(slow.stdout, /begun/);
    assert.match(slow.stderr, /timed out after 700 ms/);
    assert.equal(await d.usage(lab), undefined, 'no metrics.k8s.io on this cluster (nor in the chart\'s Role)');
  });

  it('update and list: the expiry label moves; each deployment lists its own labs only; a handle is plain JSON', async () => {
    const d = driver();
    const later = Date.now() + 3_600_000;
    await d.update(JSON.parse(JSON.stringify(lab)) as LabHandle, { expiresAt: later });
    assert.equal((await admin.readNamespacedPod({ name: lab.id, namespace: labsNamespace })).metadata?.labels?.[LABEL.expires], String(Math.ceil(later / 1000)));
    const other = driver({ deployment: 'another-school', networkPolicy: undefined });
    const theirs = await other.provision(template({ tools: {} }));
    const ours = await d.list();
    assert.ok(ours.some((h) => h.id === lab.id && h.sessionId === 'session-1' && h.labId === 'datalab-discovery'));
    assert.ok(!ours.some((h) => h.id === theirs.id), 'not another deployment’s');
    assert.deepEqual((await other.list()).map((h) => h.id), [theirs.id]);
    const listed = ours.find((h) => h.id === lab.id)!;
    assert.deepEqual(listed.state, lab.state, 'the same state from the pod alone');
    await other.stop(theirs);
  });

  it('culling: expired labs go (warm ones too) whichever replicas cull at once; extended and other deployments’ labs stay', async () => {
    const a = driver();
    const b = driver();
    const stale = await a.claim(await a.provision(template()), { sessionId: 'stale', env: {}, expiresAt: Date.now() - 1000 });
    const warm = await a.provision(template());
    const kept = await a.claim(await a.provision(template()), { sessionId: 'kept', env: {}, expiresAt: Date.now() - 1000 });
    await b.update(kept, { expiresAt: Date.now() + 600_000 });
    const other = driver({ deployment: 'another-school', networkPolicy: undefined });
    const theirs = await other.claim(await other.provision(template({ tools: {} })), { sessionId: 'theirs', env: {}, expiresAt: Date.now() - 1000 });
    // The warm pod's lease is 15 minutes away: culling at a later "now" sees it expired.
    const inTwoHours = Date.now() + 2 * 3_600_000;
    await eventually('the extension seen by both replicas', async () => {
      const seen = await Promise.all([a, b].map(async (d) => (await d.list()).find((h) => h.id === kept.id)));
      return seen.every(Boolean) ? true : undefined;
    });
    const [byA, byB] = await Promise.all([a.cull(Date.now()), b.cull(Date.now())]);
    assert.ok(byA + byB >= 1, `deleted by a: ${byA}, by b: ${byB}`);
    await eventually('the stale lab gone', async () => ((await a.list()).some((h) => h.id === stale.id) ? undefined : true));
    assert.ok((await a.list()).some((h) => h.id === warm.id), 'the warm one has not expired yet');
    assert.ok((await a.list()).some((h) => h.id === kept.id), 'the extended one stays');
    await Promise.all([a.cull(inTwoHours), b.cull(inTwoHours)]);
    await eventually('the warm lab culled', async () => ((await a.list()).some((h) => h.id === warm.id) ? undefined : true));
    assert.ok((await other.list()).some((h) => h.id === theirs.id), 'another deployment’s lab is not ours to cull');
    // The claimed pods' Secrets go with them (the garbage collector follows the owner references).
    await eventually('the stale lab’s Secret collected', () =>
      admin.readNamespacedSecret({ name: `${stale.id}-env`, namespace: labsNamespace }).then(
        () => undefined,
        (e: ApiException<string>) => (e.code === 404 ? true : undefined),
      ),
    );
    for (const h of [kept, lab]) await a.stop(h);
    await other.stop(theirs);
    await assert.rejects(a.exec(kept, ['true']), /cannot exec in the lab's pod/, 'a stopped lab refuses exec');
    await a.stop(kept);
  });

  it('a warm pod’s lease is renewed by the replica holding it, and culled once that replica is gone', async () => {
    const holder = driver({ warmLeaseMs: 4000, cullIntervalMs: 300 });
    const warm = await holder.provision(template());
    const expiry = async () => Number((await admin.readNamespacedPod({ name: warm.id, namespace: labsNamespace })).metadata?.labels?.[LABEL.expires]);
    const first = await expiry();
    await eventually('the lease renewed', async () => ((await expiry()) > first ? true : undefined), 10_000);
    await holder.close();
    const culler = driver();
    assert.equal(await culler.cull(Date.now()), 0, 'the lease still runs');
    assert.equal(await culler.cull(Date.now() + 5000), 1, 'its holder gone, the lease runs out');
  });
});

driverContract(
  'kubernetes (KWOK)',
  async () => {
    const cluster = await sharedCluster();
    await cluster.createNamespace('contract-labs', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    const made: KubernetesDriver[] = [];
    const make = () => {
      const d = new KubernetesDriver({ namespace: 'contract-labs', image: 'atelier/lab:test', deployment: 'contract', kubeConfig: cluster.kubeConfig(), cullIntervalMs: 0, startTimeoutMs: 30_000 });
      made.push(d);
      return d;
    };
    return {
      driver: make(),
      another: make,
      template: template(),
      cleanup: async () => {
        for (const d of made) await d.close();
      },
    };
  },
  {
    unsupported: {
      exec: 'KWOK runs an exec as a program of this machine, without the pod’s environment (the template’s variables)',
      'home-files': 'KWOK’s exec writes in its scratch directory, not in a pod’s home',
    },
  },
);

/** A real cluster: KUBECONFIG's current context, the labs' namespace and image from the environment. */
const realCluster = process.env.KUBECONFIG ? undefined : 'KUBECONFIG does not point to a real cluster (set it, and ATELIER_KUBE_NAMESPACE, ATELIER_LAB_IMAGE)';
describe('with a real cluster (KUBECONFIG): a shell in a running lab container', { skip: realCluster }, () => {
  if (realCluster) return;
  const namespace = process.env.ATELIER_KUBE_NAMESPACE ?? 'atelier-labs';
  const image = process.env.ATELIER_LAB_IMAGE ?? 'atelier/lab:0.1.0';
  const made: KubernetesDriver[] = [];
  const make = () => {
    const d = new KubernetesDriver({ namespace, image, deployment: `test-${process.pid}`, cullIntervalMs: 0 });
    made.push(d);
    return d;
  };
  driverContract('kubernetes (real cluster)', async () => ({
    driver: make(),
    another: make,
    template: template({ tools: {} }),
    cleanup: async () => {
      for (const d of made) await d.close();
    },
  }));

  const inCluster = process.env.KUBERNETES_SERVICE_HOST ? {} : { skip: 'the lab server reaches a lab\'s service through its Service\'s DNS name: run the test in a pod of the cluster' };
  it('a service in the lab: started from its Unix socket, reached through the lab\'s Service, stopped', inCluster, async () => {
    const d = make();
    const lab = await d.claim(await d.provision(template({ tools: {} })), { sessionId: 'service-test', env: {}, expiresAt: Date.now() + 600_000 });
    try {
      const socket = '/run/atelier/services/jupyterlab.sock';
      const serve = `import http.server, os, socketserver\nclass S(socketserver.UnixStreamServer):\n    def get_request(self):\n        r, _ = super().get_request()\n        return r, ("lab", 0)\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(os.environ["ANSWER"].encode())\nS("${socket}", H).serve_forever()`;
      await d.startService(lab, { name: 'jupyterlab', argv: ['python3', '-c', serve], env: { ANSWER: 'forty-two' }, socket, log: '/home/onyxia/.cache/atelier/jupyterlab.log' }, { timeoutMs: 60_000 });
      assert.equal(await d.serviceState(lab, 'jupyterlab'), 'running');
      const answer = await new Promise<string>((resolve, reject) => {
        const c = d.connectService(lab, 'jupyterlab');
        let data = '';
        c.on('connect', () => c.write('GET / HTTP/1.0\r\n\r\n'));
        c.on('data', (chunk) => (data += chunk));
        c.on('end', () => resolve(data));
        c.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.0 200[\s\S]*forty-two$/);
      await d.stopService(lab, 'jupyterlab');
      assert.equal(await d.serviceState(lab, 'jupyterlab'), 'stopped');
    } finally {
      await d.stop(lab);
    }
  });

  it('the lab runs as uid 1000 on a read-only root, writing only to its home and /tmp', async () => {
    const d = make();
    const lab = await d.provision(template({ tools: {} }));
    try {
      const r = await d.exec(lab, ['sh', '-c', 'id -u; touch /etc/x 2>/dev/null && echo root-writable; touch ~/ok /tmp/ok && echo home-ok']);
      assert.equal(r.stdout, '1000\nhome-ok\n');
    } finally {
      await d.stop(lab);
    }
  });
});
