/**
 * The chart against a real API server (test/helpers/kube-cluster.ts: kube-apiserver with etcd and
 * KWOK): every object it renders with a school's values passes the server's own validation
 * (server-side dry run); the Role it gives the lab server's account allows exactly its rules, in
 * the labs' namespace only (SubjectAccessReview, the server's own authorizer); and, with that
 * account's own token, the Kubernetes driver's lab pod is admitted in the labs' namespace, whose
 * PodSecurity label makes admission refuse a looser or a privileged one, while the release's namespace is
 * closed to it. Then a real `helm install`, `upgrade` and `uninstall` into that API server: the
 * signing key made at install survives the upgrade (the chart looks it up) and the uninstall, as
 * do the data volume's claim and the labs' namespace. Containers never run here.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, AuthorizationV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, type V1Pod } from '@kubernetes/client-node';
import { labPod } from '../../server/drivers/kubernetes/manifests.ts';
import { chart, helmRun, namespace, only, render, school, type Manifest } from '../helpers/chart.ts';
import { startKubeCluster, type KubeCluster } from '../helpers/kube-cluster.ts';

let cluster: KubeCluster;
let manifests: Manifest[];
let labsNamespace: string;
let account: string;
/** The lab server's account: what its pods authenticate as. */
let serverUser: string;
const serverGroups = () => ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'];

before(async () => {
  [cluster, manifests] = await Promise.all([startKubeCluster(), render('--values', school)]);
  const labs = only(manifests, 'Namespace');
  labsNamespace = labs.metadata.name;
  await cluster.createNamespace(namespace);
  await cluster.createNamespace(labsNamespace, labs.metadata.labels);
  // What the RBAC checks stand on, created for real; the rest is only dry-run.
  const objects = KubernetesObjectApi.makeApiClient(cluster.kubeConfig());
  for (const kind of ['ServiceAccount', 'Role', 'RoleBinding']) await objects.create(only(manifests, kind));
  account = only(manifests, 'ServiceAccount').metadata.name;
  serverUser = `system:serviceaccount:${namespace}:${account}`;
});

after(async () => {
  await cluster?.stop();
});

/** An API error's status code and message (client-node throws them with the body as JSON text). */
async function refusalOf(request: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await request;
  } catch (error) {
    const failed = error as { code?: number; body?: string };
    let message = String(failed.body ?? error);
    try {
      message = (JSON.parse(message) as { message?: string }).message ?? message;
    } catch {
      // not JSON: kept as it came
    }
    return { code: failed.code ?? 0, message };
  }
  assert.fail('the API server accepted it');
}

test('the API server accepts every object the chart renders for a school (server-side dry run)', async () => {
  const objects = KubernetesObjectApi.makeApiClient(cluster.kubeConfig());
  const rendered = manifests.filter((manifest) => manifest.kind !== 'Namespace' && !['ServiceAccount', 'Role', 'RoleBinding'].includes(manifest.kind));
  assert.deepEqual(
    rendered.map((manifest) => manifest.kind).sort(),
    ['Deployment', 'Ingress', 'NetworkPolicy', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Secret', 'Service'],
  );
  for (const manifest of rendered) {
    await assert.doesNotReject(objects.create(manifest, undefined, 'All'), `the API server refused the ${manifest.kind} ${manifest.metadata.name}`);
  }
});

test('the lab server’s account may do exactly what its Role says, in the labs’ namespace and nowhere else', async () => {
  const authorization = cluster.kubeConfig().makeApiClient(AuthorizationV1Api);
  const allowed = async (attributes: { namespace?: string; verb: string; group?: string; resource: string; subresource?: string }) => {
    const review = await authorization.createSubjectAccessReview({
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: serverUser, groups: serverGroups(), resourceAttributes: attributes } },
    });
    return review.status?.allowed === true;
  };
  const role = only(manifests, 'Role');
  for (const rule of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
    for (const group of rule.apiGroups) {
      for (const full of rule.resources) {
        const [resource, subresource] = full.split('/') as [string, string | undefined];
        for (const verb of rule.verbs) {
          const attributes = { verb, group, resource, ...(subresource ? { subresource } : {}) };
          assert.equal(await allowed({ ...attributes, namespace: labsNamespace }), true, `${verb} ${full} refused in the labs' namespace`);
          assert.equal(await allowed({ ...attributes, namespace }), false, `${verb} ${full} allowed in the release's namespace`);
        }
      }
    }
  }
  const never: { verb: string; group?: string; resource: string; subresource?: string; namespace?: string }[] = [
    { verb: 'get', resource: 'secrets', namespace: labsNamespace },
    { verb: 'list', resource: 'secrets', namespace: labsNamespace },
    { verb: 'deletecollection', resource: 'pods', namespace: labsNamespace },
    { verb: 'create', resource: 'pods', subresource: 'attach', namespace: labsNamespace },
    { verb: 'create', resource: 'pods', subresource: 'portforward', namespace: labsNamespace },
    { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: labsNamespace },
    { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'roles', namespace: labsNamespace },
    { verb: 'update', resource: 'namespaces' },
    { verb: 'list', resource: 'nodes' },
    { verb: 'list', resource: 'pods', namespace: 'default' },
  ];
  for (const attributes of never) assert.equal(await allowed(attributes), false, `${attributes.verb} ${attributes.resource}${attributes.subresource ? `/${attributes.subresource}` : ''} allowed`);
});

test('with its own token, the lab server’s account gets the driver’s lab pod admitted (PodSecurity restricted), a looser or privileged one refused, and no pod in its own namespace', async () => {
  const admin = cluster.kubeConfig();
  const request = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: account,
    namespace,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: 600 } },
  });
  const own = new KubeConfig();
  const apiCluster = admin.getCurrentCluster()!;
  own.loadFromOptions({
    clusters: [apiCluster],
    users: [{ name: account, token: request.status!.token }],
    contexts: [{ name: account, cluster: apiCluster.name, user: account }],
    currentContext: account,
  });
  const core = own.makeApiClient(CoreV1Api);
  const env = new Map((only(manifests, 'Deployment').spec.template.spec.containers[0].env as { name: string; value?: string }[]).map((entry) => [entry.name, entry.value]));
  const pod = (inNamespace: string): V1Pod =>
    labPod(
      { labId: 'datalab-discovery', workspace: '/home/onyxia/work', resources: { cpu: 0.5, memory: 512 * 2 ** 20, disk: 256 * 2 ** 20, pids: 256 }, env: {}, image: env.get('ATELIER_LAB_IMAGE')! },
      { name: 'lab-chart-test', namespace: inNamespace, deployment: env.get('ATELIER_DEPLOYMENT')!, image: env.get('ATELIER_LAB_IMAGE')!, expiresAt: Math.ceil(Date.now() / 1000) + 3600, activeDeadlineSeconds: 3600 },
    );

  await assert.doesNotReject(core.createNamespacedPod({ namespace: labsNamespace, body: pod(labsNamespace), dryRun: 'All' }), 'the driver’s lab pod was refused');

  // What "baseline" lets through and only "restricted" refuses: escalation, capabilities kept.
  const loose = pod(labsNamespace);
  loose.spec!.containers[0]!.securityContext = { ...loose.spec!.containers[0]!.securityContext, allowPrivilegeEscalation: true, capabilities: {} };
  const refused = await refusalOf(core.createNamespacedPod({ namespace: labsNamespace, body: loose, dryRun: 'All' }));
  assert.equal(refused.code, 403);
  assert.match(refused.message, /violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false.*unrestricted capabilities/);
  const privileged = pod(labsNamespace);
  privileged.spec!.containers[0]!.securityContext = { ...privileged.spec!.containers[0]!.securityContext, privileged: true, allowPrivilegeEscalation: true };
  assert.match((await refusalOf(core.createNamespacedPod({ namespace: labsNamespace, body: privileged, dryRun: 'All' }))).message, /violates PodSecurity .*privileged/);

  const elsewhere = await refusalOf(core.createNamespacedPod({ namespace, body: pod(namespace), dryRun: 'All' }));
  assert.equal(elsewhere.code, 403);
  assert.match(elsewhere.message, /forbidden/);
  assert.equal((await refusalOf(core.listNamespacedSecret({ namespace: labsNamespace }))).code, 403);
});

test('helm install, upgrade and uninstall: the signing key made at install is kept through both, and so are the data claim and the labs’ namespace', async () => {
  const kubeconfig = ['--kubeconfig', cluster.kubeconfigPath];
  const release = ['atelier', chart, '--namespace', 'school', '--values', school, '--set', 'labs.namespace=school-labs'];
  const helm = async (...args: string[]) => {
    const result = await helmRun([...args, ...kubeconfig]);
    assert.equal(result.code, 0, `helm ${args[0]}: ${result.stderr}`);
  };
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const signingKey = async () => (await core.readNamespacedSecret({ name: 'atelier-secret-key', namespace: 'school' })).data!['secret-key'];

  await helm('install', ...release, '--create-namespace');
  const made = await signingKey();
  assert.equal(Buffer.from(Buffer.from(made!, 'base64').toString('utf8'), 'base64').length, 32);
  await helm('upgrade', ...release, '--set', 'settings.LOG_LEVEL=debug');
  assert.equal(await signingKey(), made, 'the upgrade made a new signing key: every learner would be signed out');
  const deployment = await cluster.kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'atelier', namespace: 'school' });
  assert.ok(deployment.spec!.template.spec!.containers[0]!.env!.some((entry) => entry.name === 'LOG_LEVEL' && entry.value === 'debug'), 'the upgrade did not reach the Deployment');

  await helm('uninstall', 'atelier', '--namespace', 'school');
  assert.equal(await signingKey(), made, 'the uninstall took the signing key');
  await assert.doesNotReject(core.readNamespacedPersistentVolumeClaim({ name: 'atelier-data', namespace: 'school' }), 'the uninstall took the data claim');
  await assert.doesNotReject(core.readNamespace({ name: 'school-labs' }), 'the uninstall took the labs’ namespace');
  assert.equal((await refusalOf(cluster.kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'atelier', namespace: 'school' }))).code, 404);
});
