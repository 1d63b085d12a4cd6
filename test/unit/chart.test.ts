/**
 * The Helm chart (deploy/chart/atelier), rendered by a real helm (built from its Go module by
 * server/cli/helm-tool.ts, cached) with its default values and with a school's
 * (examples/school.yaml), then read back as manifests: replicas and rollout, the Ingress's hosts,
 * RBAC verbs exactly as the Kubernetes driver needs them, nothing privileged, and every setting
 * the chart gives the server one the server (server/config.ts) or the deployment brief names,
 * with values the server's own validation accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { loadConfig, projectRoot } from '../../server/config.ts';
import { checkDeployment, labsNetworkPolicy } from '../../server/drivers/kubernetes/manifests.ts';
import { registerHealthRoutes } from '../../server/http/health.ts';
import type { Sessions } from '../../server/labs/sessions.ts';
import { lint, namespace, only, refusal, render, school, type Manifest } from '../helpers/chart.ts';

/**
 * Settings named by the deployment brief that the Kubernetes driver, the PostgreSQL store and the
 * shared keys read; they reach server/config.ts as those land.
 */
const briefSettings = new Set([
  'ATELIER_DRIVER',
  'ATELIER_KUBE_NAMESPACE',
  'ATELIER_LAB_IMAGE',
  'ATELIER_DEPLOYMENT',
  'ATELIER_DATABASE_URL',
  'ATELIER_SECRET_KEY_FILE',
  'ATELIER_LAB_SERVICE_ACCOUNT',
]);

/** The names server/config.ts reads: the keys of its `environment` object. */
function serverSettings(): Set<string> {
  const source = readFileSync(join(projectRoot, 'server', 'config.ts'), 'utf8');
  const body = source.slice(source.indexOf('const environment = z.object({'), source.indexOf('\n})', source.indexOf('const environment = z.object({')));
  const names = [...body.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((match) => match[1]!);
  assert.ok(names.length > 30 && names.includes('ATELIER_ORIGIN'), `could not read the settings of server/config.ts (found ${names.join(', ')})`);
  return new Set(names);
}

const server = (manifests: Manifest[]) => only(manifests, 'Deployment').spec.template.spec.containers[0];

/** The server container's env as name → plain value (undefined for one from a Secret). */
function envOf(manifests: Manifest[]): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  for (const entry of server(manifests).env as { name: string; value?: string }[]) {
    assert.ok(!env.has(entry.name), `${entry.name} is set twice`);
    env.set(entry.name, entry.value);
  }
  return env;
}

test('helm lint passes with the default values and with a school’s', async () => {
  for (const args of [[], ['--values', school]]) {
    const result = await lint(...args);
    assert.equal(result.code, 0, `helm lint ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  }
});

test('default values: one replica replaced rather than rolled, on SQLite and the embedded S3, no disruption budget', async () => {
  const manifests = await render();
  const deployment = only(manifests, 'Deployment');
  assert.equal(deployment.spec.replicas, 1);
  assert.equal(deployment.spec.strategy.type, 'Recreate');
  assert.equal(manifests.filter((manifest) => manifest.kind === 'PodDisruptionBudget').length, 0);
  const env = envOf(manifests);
  assert.ok(!env.has('ATELIER_DATABASE_URL') && !env.has('ATELIER_S3_ENDPOINT'));
  assert.deepEqual(
    manifests.map((manifest) => manifest.kind).sort(),
    ['Deployment', 'Ingress', 'Namespace', 'NetworkPolicy', 'PersistentVolumeClaim', 'Role', 'RoleBinding', 'Secret', 'Service', 'ServiceAccount'],
  );
});

test('a school’s values: three replicas rolled one at a time, a budget keeping two, credentials from the school’s own Secrets', async () => {
  const manifests = await render('--values', school);
  const deployment = only(manifests, 'Deployment');
  assert.equal(deployment.spec.replicas, 3);
  assert.equal(deployment.spec.strategy.type, 'RollingUpdate');
  assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
  const budget = only(manifests, 'PodDisruptionBudget');
  assert.equal(budget.spec.minAvailable, 2);
  assert.deepEqual(budget.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  const env = server(manifests).env as { name: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
  const from = (name: string) => env.find((entry) => entry.name === name)?.valueFrom?.secretKeyRef;
  assert.deepEqual(from('ATELIER_DATABASE_URL'), { name: 'atelier-database', key: 'url' });
  assert.deepEqual(from('ATELIER_S3_ADMIN_ACCESS_KEY_ID'), { name: 'atelier-s3', key: 'accessKeyId' });
  assert.deepEqual(from('ATELIER_S3_ADMIN_SECRET_ACCESS_KEY'), { name: 'atelier-s3', key: 'secretAccessKey' });
  // Nothing given inline: the chart makes no Secret but the signing key.
  assert.deepEqual(manifests.filter((manifest) => manifest.kind === 'Secret').map((secret) => secret.metadata.name), ['atelier-secret-key']);
  assert.deepEqual(only(manifests, 'PersistentVolumeClaim').spec.accessModes, ['ReadWriteMany']);
  // The data directory is shared, its run/ (the server's own sockets) is each pod's.
  const pod = deployment.spec.template.spec;
  const mounts = Object.fromEntries(server(manifests).volumeMounts.map((mount: { mountPath: string; name: string }) => [mount.mountPath, pod.volumes.find((volume: { name: string }) => volume.name === mount.name)]));
  assert.ok(mounts['/var/lib/atelier'].persistentVolumeClaim);
  assert.ok(mounts['/var/lib/atelier/run'].emptyDir);
});

test('credentials given inline go to a Secret the pods read, never into the pod spec', async () => {
  const manifests = await render('--values', school, '--set', 'database.existingSecret=,database.url=postgres://atelier:pw-db@db:5432/atelier', '--set', 's3.existingSecret=,s3.accessKeyId=AKIDEXAMPLE,s3.secretAccessKey=pw-s3');
  const secret = manifests.find((manifest) => manifest.kind === 'Secret' && manifest.metadata.name === 'atelier-secrets');
  assert.ok(secret, 'no Secret for the inline credentials');
  const decoded = Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
  assert.deepEqual(decoded, { 'database-url': 'postgres://atelier:pw-db@db:5432/atelier', 's3-access-key-id': 'AKIDEXAMPLE', 's3-secret-access-key': 'pw-s3' });
  const podSpec = JSON.stringify(only(manifests, 'Deployment'));
  for (const secretValue of ['pw-db', 'pw-s3', 'AKIDEXAMPLE']) assert.ok(!podSpec.includes(secretValue), `${secretValue} is in the Deployment`);
});

test('the Ingress answers for the platform, the S3 origin and the apps wildcard, with their certificates, and the server is told the same origins', async () => {
  const manifests = await render('--values', school);
  const ingress = only(manifests, 'Ingress');
  assert.equal(ingress.spec.ingressClassName, 'nginx');
  assert.deepEqual(
    ingress.spec.rules.map((rule: { host: string }) => rule.host),
    ['atelier.ecole.example', 's3.atelier.ecole.example', '*.apps.atelier.ecole.example'],
  );
  assert.deepEqual(ingress.spec.tls, [
    { secretName: 'atelier-tls', hosts: ['atelier.ecole.example', 's3.atelier.ecole.example'] },
    { secretName: 'atelier-apps-wildcard-tls', hosts: ['*.apps.atelier.ecole.example'] },
  ]);
  const service = only(manifests, 'Service');
  for (const rule of ingress.spec.rules) {
    const backend = rule.http.paths[0].backend.service;
    assert.equal(backend.name, service.metadata.name);
    assert.ok(service.spec.ports.some((port: { name: string }) => port.name === backend.port.name), `the Service has no port ${backend.port.name}`);
  }
  const containerPort = server(manifests).ports.find((port: { name: string }) => port.name === 'http').containerPort;
  const env = envOf(manifests);
  assert.equal(env.get('PORT'), String(containerPort));
  assert.equal(env.get('ATELIER_ORIGIN'), 'https://atelier.ecole.example');
  assert.equal(env.get('ATELIER_S3_ORIGIN'), 'https://s3.atelier.ecole.example');
  assert.equal(env.get('ATELIER_APPS_ORIGIN'), 'https://*.apps.atelier.ecole.example');
  assert.equal(env.get('ATELIER_TRUST_PROXY'), 'true');
});

test('RBAC: a Role in the labs’ namespace with exactly the driver’s verbs, bound to the server’s account, and nothing cluster-wide', async () => {
  const manifests = await render('--values', school);
  assert.deepEqual(manifests.filter((manifest) => /^Cluster/.test(manifest.kind)), []);
  const role = only(manifests, 'Role');
  assert.equal(role.metadata.namespace, 'atelier-labs');
  const granted = (role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]).flatMap((rule) =>
    rule.apiGroups.flatMap((group) => rule.resources.map((resource) => `${group || 'core'}/${resource}: ${[...rule.verbs].sort().join(' ')}`)),
  );
  assert.deepEqual(granted.sort(), [
    'core/configmaps: create',
    'core/events: list watch',
    'core/pods/exec: create get',
    'core/pods: create delete get list patch watch',
    'core/secrets: create',
    'core/services: create',
    'metrics.k8s.io/pods: get',
    'networking.k8s.io/networkpolicies: create update',
  ]);
  const binding = only(manifests, 'RoleBinding');
  assert.equal(binding.metadata.namespace, 'atelier-labs');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
  const account = only(manifests, 'ServiceAccount');
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace }]);
  assert.equal(only(manifests, 'Deployment').spec.template.spec.serviceAccountName, account.metadata.name);
});

test('the labs’ namespace enforces PodSecurity restricted, and its default policy denies all traffic', async () => {
  const manifests = await render();
  const labs = only(manifests, 'Namespace');
  assert.equal(labs.metadata.name, 'atelier-labs');
  assert.equal(labs.metadata.labels!['pod-security.kubernetes.io/enforce'], 'restricted');
  const policy = only(manifests, 'NetworkPolicy');
  assert.equal(policy.metadata.namespace, 'atelier-labs');
  assert.deepEqual(policy.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  const without = await render('--set', 'labs.createNamespace=false,labs.defaultDenyNetworkPolicy=false');
  assert.deepEqual(without.filter((manifest) => manifest.kind === 'Namespace' || manifest.kind === 'NetworkPolicy'), []);
});

test('the lab server’s pod asks for nothing privileged', async () => {
  for (const manifests of [await render(), await render('--values', school)]) {
    const pod = only(manifests, 'Deployment').spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.notEqual(pod.securityContext.runAsUser, 0);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    for (const field of ['hostNetwork', 'hostPID', 'hostIPC', 'shareProcessNamespace']) assert.ok(!pod[field], `${field} is set`);
    assert.deepEqual(pod.volumes.filter((volume: Record<string, unknown>) => 'hostPath' in volume), []);
    for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
      const context = container.securityContext;
      assert.equal(context.privileged ?? false, false);
      assert.equal(context.allowPrivilegeEscalation, false);
      assert.equal(context.readOnlyRootFilesystem, true);
      assert.deepEqual(context.capabilities, { drop: ['ALL'] });
      assert.ok(!container.ports?.some((port: Record<string, unknown>) => 'hostPort' in port), 'a host port');
    }
  }
});

/** What the server makes of the rendered settings: every plain one server/config.ts knows (Secrets' values stand in). */
function serverConfig(env: Map<string, string | undefined>, known: Set<string>) {
  const plain = Object.fromEntries([...env].filter(([name, value]) => value !== undefined && known.has(name)));
  const external = env.has('ATELIER_S3_ENDPOINT') ? { ATELIER_S3_ADMIN_ACCESS_KEY_ID: 'k', ATELIER_S3_ADMIN_SECRET_ACCESS_KEY: 's' } : {};
  return loadConfig({ ...plain, ...external });
}

test('every setting the chart gives the server is one it or the brief names, and the server accepts their values', async () => {
  const known = serverSettings();
  for (const manifests of [await render(), await render('--values', school)]) {
    const env = envOf(manifests);
    for (const name of env.keys()) assert.ok(known.has(name) || briefSettings.has(name), `the chart sets ${name}, which neither server/config.ts nor the brief names`);
    const config = serverConfig(env, known);
    assert.equal(config.driver, 'kubernetes');
    assert.equal(config.kubernetes!.namespace, 'atelier-labs');
    assert.equal(config.deployment, only(manifests, 'Deployment').metadata.name);
    assert.doesNotThrow(() => checkDeployment(config.deployment), 'the Kubernetes driver refuses the deployment name');
  }
  const refused = await render('--set', 'settings.ATELIER_MAX_LABS=lots');
  assert.throws(() => serverConfig(envOf(refused), known), /ATELIER_MAX_LABS/);
});

test('labs reach the lab gateway through the Service, and the driver’s NetworkPolicy lets them reach exactly the server’s pods on that port', async () => {
  const manifests = await render('--values', school);
  const config = serverConfig(envOf(manifests), serverSettings());
  const deployment = only(manifests, 'Deployment');
  const service = only(manifests, 'Service');
  const containerPort = (name: string) => server(manifests).ports.find((port: { name: string }) => port.name === name)?.containerPort;
  const { gateway, server: pods } = config.kubernetes!;
  assert.equal(gateway.host, `${service.metadata.name}.${namespace}.svc`);
  const servicePort = service.spec.ports.find((port: { port: number }) => port.port === gateway.port);
  assert.ok(servicePort, `the Service has no port ${gateway.port}`);
  assert.equal(containerPort(servicePort.targetPort), config.labGatewayPort, 'the gateway Service port does not lead to the port the server listens on for labs');
  // NetworkPolicy sees the pod's port, not the Service's: the same number, or labs are cut off.
  assert.equal(gateway.port, config.labGatewayPort);
  const policy = labsNetworkPolicy({ namespace: config.kubernetes!.namespace, deployment: config.deployment, server: { ...pods!, port: gateway.port! } });
  const toServer = policy.spec!.egress![0]!;
  assert.deepEqual(toServer.to![0]!.podSelector!.matchLabels, deployment.spec.template.metadata.labels);
  assert.deepEqual(toServer.to![0]!.namespaceSelector!.matchLabels, { 'kubernetes.io/metadata.name': namespace });
  assert.deepEqual(toServer.ports, [{ port: containerPort('gateway'), protocol: 'TCP' }]);
  // The Ingress never routes to the gateway: it answers the forge and S3 for labs only.
  assert.deepEqual([...new Set(only(manifests, 'Ingress').spec.rules.map((rule: { http: { paths: { backend: { service: { port: { name: string } } } }[] } }) => rule.http.paths[0]!.backend.service.port.name))], ['http']);
});

test('the probes ask the server’s real health route, and the key file is where the key Secret is mounted', async () => {
  const manifests = await render();
  const container = server(manifests);
  const app = Fastify();
  registerHealthRoutes(app, { sessions: { runningCount: () => 0, all: () => [] } as unknown as Sessions });
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
    assert.equal(container[probe].httpGet.port, 'http');
    const response = await app.inject({ method: 'GET', url: container[probe].httpGet.path });
    assert.equal(response.statusCode, 200, `${probe} asks ${container[probe].httpGet.path}, which answers ${response.statusCode}`);
  }
  await app.close();
  const keyFile = envOf(manifests).get('ATELIER_SECRET_KEY_FILE')!;
  const pod = only(manifests, 'Deployment').spec.template.spec;
  const mount = container.volumeMounts.find((entry: { mountPath: string }) => keyFile.startsWith(`${entry.mountPath}/`));
  assert.ok(mount, `${keyFile} is on no mounted volume`);
  const volume = pod.volumes.find((entry: { name: string }) => entry.name === mount.name);
  const secret = manifests.find((manifest) => manifest.kind === 'Secret' && manifest.metadata.name === volume.secret.secretName);
  assert.ok(secret, 'the key volume names no Secret the chart makes');
  const key = Buffer.from(Buffer.from(secret.data[keyFile.slice(mount.mountPath.length + 1)], 'base64').toString('utf8'), 'base64');
  assert.equal(key.length, 32);
  assert.equal(secret.metadata.annotations!['helm.sh/resource-policy'], 'keep');
});

test('the chart refuses replicas that would each keep their own learners, buckets or repositories, and settings it owns', async () => {
  assert.match(await refusal('--set', 'replicaCount=2'), /PostgreSQL learner store/);
  assert.match(await refusal('--set', 'replicaCount=2,database.url=postgres://a@b/c'), /external S3/);
  assert.match(await refusal('--values', school, '--set', 'persistence.accessModes={ReadWriteOnce}'), /ReadWriteMany/);
  assert.match(await refusal('--values', school, '--set', 'persistence.enabled=false'), /data volume every replica mounts/);
  assert.match(await refusal('--set', 's3.endpoint=https://s3.example'), /key/);
  assert.match(await refusal('--set', 'settings.ATELIER_ORIGIN=https://elsewhere.example'), /settings\.ATELIER_ORIGIN/);
  assert.match(await refusal('--set', `labs.namespace=${namespace}`), /labs\.namespace/);
  // The driver takes deployment names of 32 characters at most.
  assert.match(await refusal('--set', `fullnameOverride=${'a'.repeat(33)}`), /32 characters/);
  assert.match(await refusal('--set', 'replicas=3'), /additional properties 'replicas'/);
});
