/**
 * What the tests' Kubernetes control plane (test/helpers/kube-cluster.ts) really does, pinned so
 * that the Kubernetes driver's tests can rely on it: PodSecurity admission, KWOK's pod lifecycle,
 * exec through the API server to KWOK's simulated exec, RBAC, watches, and a stop that leaves
 * nothing behind. Needs the tools built by `node server/cli/kube-tools.ts` (setup.ts --test).
 * Run: node_modules/.bin/node --test test/integration/kube-cluster.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { ApiException, CoreV1Api, Exec, RbacAuthorizationV1Api, Watch, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { startKubeCluster, type KubeCluster } from '../helpers/kube-cluster.ts';

const restrictedNamespace = 'restricted-labs';

/** A pod the "restricted" Pod Security Standard accepts, as the driver's pods must be. */
function restrictedPod(name: string): V1Pod {
  return {
    metadata: { name, labels: { app: 'atelier-lab' } },
    spec: {
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'lab',
          image: 'atelier/lab:test',
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          resources: { requests: { cpu: '100m', memory: '128Mi', 'ephemeral-storage': '1Gi' }, limits: { cpu: '1', memory: '512Mi', 'ephemeral-storage': '1Gi' } },
        },
      ],
    },
  };
}

/** The API server's refusal: its HTTP code and its Status message. */
async function refusal(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const status = JSON.parse((error as ApiException<string>).body) as V1Status;
    return { code: error.code, message: status.message ?? '' };
  }
  assert.fail('the API server accepted it');
}

function collect(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    }),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the tests’ Kubernetes control plane (kube-apiserver, etcd, KWOK)', () => {
  let cluster: KubeCluster;
  let core: CoreV1Api;

  before(async () => {
    cluster = await startKubeCluster();
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await cluster.createNamespace(restrictedNamespace, { 'pod-security.kubernetes.io/enforce': 'restricted' });
  });

  after(() => cluster?.stop());

  it('refuses a privileged pod in a namespace enforcing "restricted", and accepts a restricted one', async () => {
    const privileged = restrictedPod('privileged');
    privileged.spec!.containers[0]!.securityContext = { privileged: true };
    const refused = await refusal(core.createNamespacedPod({ namespace: restrictedNamespace, body: privileged }));
    assert.equal(refused.code, 403);
    assert.match(refused.message, /violates PodSecurity "restricted:latest"/);
    assert.match(refused.message, /privileged/);

    const created = await core.createNamespacedPod({ namespace: restrictedNamespace, body: restrictedPod('accepted') });
    assert.equal(created.metadata?.name, 'accepted');
    // The API server's own defaulting and validation ran: phase Pending, the default service account.
    assert.equal(created.status?.phase, 'Pending');
    assert.equal(created.spec?.serviceAccountName, 'default');
  });

  it('schedules a pod on the KWOK node, which takes it to Running with an IP, and a watch sees its phases', async () => {
    const phases: string[] = [];
    const watch = new Watch(cluster.kubeConfig());
    const watching = await watch.watch(
      `/api/v1/namespaces/${restrictedNamespace}/pods`,
      { fieldSelector: 'metadata.name=watched' },
      (type, pod: V1Pod) => {
        const phase = `${type} ${pod.status?.phase}`;
        if (phases.at(-1) !== phase) phases.push(phase);
      },
      () => {},
    );
    try {
      await core.createNamespacedPod({ namespace: restrictedNamespace, body: restrictedPod('watched') });
      const running = await waitFor('the pod to run', async () => {
        const pod = await core.readNamespacedPod({ name: 'watched', namespace: restrictedNamespace });
        return pod.status?.phase === 'Running' && pod.status.podIP ? pod : undefined;
      });
      assert.equal(running.spec?.nodeName, cluster.nodeName);
      assert.match(running.status!.podIP!, /^10\.244\.0\.\d+$/);
      assert.equal(running.status?.containerStatuses?.[0]?.ready, true);
      await waitFor('the watch to see Running', async () => (phases.includes('MODIFIED Running') ? true : undefined));
      assert.deepEqual([phases[0], phases.at(-1)], ['ADDED Pending', 'MODIFIED Running']);

      // A graceful delete: KWOK plays the kubelet that confirms the pod's end.
      await core.deleteNamespacedPod({ name: 'watched', namespace: restrictedNamespace });
      await waitFor('the watch to see the pod deleted', async () => (phases.at(-1)?.startsWith('DELETED') ? true : undefined));
    } finally {
      watching.abort();
    }
  });

  it('runs an exec through the API server (v5.channel.k8s.io) in KWOK’s simulated exec: output and exit status', async () => {
    await waitFor('the pod to run', async () => {
      const pod = await core.readNamespacedPod({ name: 'accepted', namespace: restrictedNamespace });
      return pod.status?.phase === 'Running' ? true : undefined;
    });
    const run = async (command: string[]) => {
      const stdout = collect();
      const stderr = collect();
      let status: V1Status | undefined;
      const socket = await new Exec(cluster.kubeConfig()).exec(restrictedNamespace, 'accepted', 'lab', command, stdout.stream, stderr.stream, null, false, (s) => (status = s));
      const protocol = socket.protocol;
      await new Promise((resolve) => (socket.readyState === socket.CLOSED ? resolve(undefined) : socket.once('close', resolve)));
      return { stdout: stdout.text(), stderr: stderr.text(), status, protocol };
    };

    const failed = await run(['sh', '-c', 'echo to-stdout; echo to-stderr >&2; id -u; exit 3']);
    assert.equal(failed.protocol, 'v5.channel.k8s.io');
    assert.equal(failed.stdout, 'to-stdout\n65534\n', 'the command ran, as nobody');
    assert.equal(failed.stderr, 'to-stderr\n');
    // A kubelet answers NonZeroExitCode with an ExitCode cause; KWOK wraps the command's error, so
    // the API server reports an InternalError whose message ends with the status. Pinned: a
    // driver reading exit codes must read both, and a KWOK that changes this fails here.
    assert.equal(failed.status?.status, 'Failure');
    assert.equal(failed.status?.reason, 'InternalError');
    assert.match(failed.status?.message ?? '', /: exit status 3$/);

    const passed = await run(['sh', '-c', 'printf "%s" "$PWD"']);
    assert.equal(passed.status?.status, 'Success');
    assert.match(passed.stdout, /\/exec$/, 'in the exec scratch directory');
  });

  it('refuses the limited user what its Role does not allow', async () => {
    const limited = cluster.kubeConfig(cluster.limited).makeApiClient(CoreV1Api);
    const before = await refusal(limited.listNamespacedPod({ namespace: restrictedNamespace }));
    assert.equal(before.code, 403, 'no permission before a binding');

    const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: restrictedNamespace,
      body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: restrictedNamespace,
      body: {
        metadata: { name: 'pod-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: cluster.limited.name }],
      },
    });
    const listed = await waitFor('the binding to apply', () => limited.listNamespacedPod({ namespace: restrictedNamespace }).then((list) => list, () => undefined));
    assert.ok(listed.items.some((pod) => pod.metadata?.name === 'accepted'));

    const create = await refusal(limited.createNamespacedPod({ namespace: restrictedNamespace, body: restrictedPod('not-allowed') }));
    assert.equal(create.code, 403);
    assert.match(create.message, /cannot create resource "pods"/);
    const remove = await refusal(limited.deleteNamespacedPod({ name: 'accepted', namespace: restrictedNamespace }));
    assert.equal(remove.code, 403);
    const elsewhere = await refusal(limited.listNamespacedPod({ namespace: 'default' }));
    assert.equal(elsewhere.code, 403, 'the Role holds in its namespace only');
    const secrets = await refusal(limited.listNamespacedSecret({ namespace: restrictedNamespace }));
    assert.equal(secrets.code, 403);
  });

  it('issues service-account tokens (TokenRequest) that RBAC bindings apply to, as a Deployment in the cluster would use', async () => {
    const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: restrictedNamespace, body: { metadata: { name: 'lab-server' } } });
    await rbac.createNamespacedRoleBinding({
      namespace: restrictedNamespace,
      body: {
        metadata: { name: 'lab-server-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'lab-server', namespace: restrictedNamespace }],
      },
    });
    const issued = await core.createNamespacedServiceAccountToken({
      name: 'lab-server',
      namespace: restrictedNamespace,
      body: { spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 600 } },
    });
    const token = issued.status?.token;
    assert.ok(token, 'the API server signed a token');
    const asServiceAccount = cluster.kubeConfig(cluster.tokenUser('lab-server', token)).makeApiClient(CoreV1Api);
    const listed = await waitFor('the binding to apply', () => asServiceAccount.listNamespacedPod({ namespace: restrictedNamespace }).then((list) => list, () => undefined));
    assert.ok(listed.items.length > 0);
    const create = await refusal(asServiceAccount.createNamespacedPod({ namespace: restrictedNamespace, body: restrictedPod('not-allowed-either') }));
    assert.equal(create.code, 403);
    assert.match(create.message, new RegExp(`system:serviceaccount:${restrictedNamespace}:lab-server`));
  });

  it('deletes a namespace with its pods (the controller-manager empties it, KWOK ends the pods)', async () => {
    await cluster.createNamespace('short-lived');
    await core.createNamespacedPod({ namespace: 'short-lived', body: restrictedPod('doomed') });
    await core.deleteNamespace({ name: 'short-lived' });
    await waitFor('the namespace to be gone', () =>
      core.readNamespace({ name: 'short-lived' }).then(
        () => undefined,
        (error: unknown) => (error instanceof ApiException && error.code === 404 ? true : undefined),
      ),
    30_000);
    const pods = await core.listPodForAllNamespaces({ fieldSelector: 'metadata.namespace=short-lived' });
    assert.equal(pods.items.length, 0);
  });

  it('stops every process and removes its directory', async () => {
    const { dir, pids, server } = cluster;
    await cluster.stop();
    assert.equal(existsSync(dir), false);
    for (const [component, pid] of Object.entries(pids)) {
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `${component} is gone`);
    }
    await assert.rejects(fetch(server), 'nothing answers on the API server port');
  });
});
