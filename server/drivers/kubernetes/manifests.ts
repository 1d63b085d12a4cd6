/**
 * Pure builders of what the Kubernetes driver sends to the API server (the lab's pod, the Secret of
 * a learner's environment, the labs' NetworkPolicy, the Service of a lab's services, the tools'
 * ConfigMap) and of the shell snippets it runs in a pod. No I/O: the unit tests pin every field,
 * and the integration tests have a real API server validate them (PodSecurity "restricted").
 */
import { createHash, randomBytes } from 'node:crypto';
import type { V1ConfigMap, V1NetworkPolicy, V1NetworkPolicyPeer, V1OwnerReference, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import type { LabResources, LabTemplate } from '../driver.ts';
import {
  LAB_GID,
  LAB_HOME,
  LAB_UID,
  SERVICE_SOCKET_DIR,
  TOOLS_DIR,
  checkHomeFileName,
  checkToolName,
  checkWorkspace,
  diskSplit,
  hostnameFor,
  labEnv,
} from '../local/sandbox-args.ts';

/** Label keys. Values are always label-safe (labelValue). */
export const LABEL = {
  /** Every object of Atelier's labs, whatever the deployment. */
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  /** Which Atelier installation owns it: list() and culling never touch another's. */
  deployment: 'atelier.dev/deployment',
  lab: 'atelier.dev/lab',
  /** The pod's own name: the Service's selector. */
  pod: 'atelier.dev/pod',
  /** warm (provisioned, no learner yet) or claimed. */
  pool: 'atelier.dev/pool',
  session: 'atelier.dev/session',
  learner: 'atelier.dev/learner',
  /** Epoch seconds after which the driver's culling deletes the pod. */
  expires: 'atelier.dev/expires',
} as const;

export const COMPONENT = 'lab';
export const MANAGER = 'atelier';
export const CONTAINER = 'lab';

/** Inside the pod: a small memory-backed directory of the lab user's (the service sockets). */
export const RUN_DIR = '/run/atelier';
/**
 * The claim's environment as `export K='v'` lines, sourced by login shells (~/.profile) and by every
 * exec. Relative to the lab's home, the container's working directory, where every exec starts:
 * the claim writes it there, and what execs do not depend on any other absolute path.
 */
export const ENV_FILE = '.config/atelier/env';

/**
 * The TCP port a lab's service is reached at, in its pod: the service itself listens on its Unix
 * socket as with the local driver (the catalogue's argv, unchanged), and a forwarder in the pod
 * exposes that socket on this port to the lab server (a Unix socket cannot be reached across pods).
 */
export const SERVICE_PORTS: Readonly<Record<string, number>> = { jupyterlab: 8888, vscode: 8080 };

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export const shortHash = (text: string, length = 10): string => createHash('sha256').update(text).digest('hex').slice(0, length);

/**
 * A label value for any string: itself when it is one (63 characters, alphanumeric at both ends),
 * else its label-safe part and a hash of the whole, so that two strings never share a value.
 */
export function labelValue(text: string): string {
  if (text.length <= 63 && LABEL_VALUE.test(text)) return text;
  const safe = text.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 40).replace(/[^A-Za-z0-9]+$/, '');
  return `${safe ? `${safe}-` : ''}h${shortHash(text, 16)}`;
}

/** A deployment name becomes a label value and part of object names: it must be a DNS-1123 label already. */
export function checkDeployment(name: string): string {
  if (name.length > 32 || !DNS1123_LABEL.test(name)) {
    throw new Error(`the deployment name must be a DNS-1123 label of at most 32 characters (as ATELIER_DEPLOYMENT) (got ${JSON.stringify(name)})`);
  }
  return name;
}

/**
 * A new lab's pod name: `lab-<lab id>-<random>`, a DNS-1035 label of at most 63 characters (it is
 * the name of its Service too, which must start with a letter).
 */
export function podName(labId: string, random: string = randomBytes(6).readUIntBE(0, 6).toString(36)): string {
  const slug = hostnameFor(labId).slice(0, 40).replace(/-+$/, '');
  return `lab-${slug ? `${slug}-` : ''}${random}`.slice(0, 63);
}

/** Kubernetes quantities from the lab's resources (cores → millicores, bytes as integers). */
export function quantities(r: Pick<LabResources, 'cpu' | 'memory' | 'disk'>): Record<'cpu' | 'memory' | 'ephemeral-storage', string> {
  for (const k of ['cpu', 'memory', 'disk'] as const) {
    if (!(Number.isFinite(r[k]) && r[k] > 0)) throw new Error(`resources.${k} must be a positive number`);
  }
  return {
    cpu: `${Math.max(1, Math.ceil(r.cpu * 1000))}m`,
    memory: String(Math.ceil(r.memory)),
    'ephemeral-storage': String(Math.ceil(r.disk)),
  };
}

const QUANTITY_SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes quantity as a number (`250m` → 0.25, `1Ki` → 1024); NaN when it is none. */
export function parseQuantity(quantity: string): number {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(quantity.trim());
  const factor = m ? QUANTITY_SUFFIX[m[2] as string] : undefined;
  return m && factor !== undefined ? Number(m[1]) * factor : Number.NaN;
}

/** A shell word: single-quoted, so sourcing it never expands anything. */
export const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** The claim's environment file: one `export NAME='value'` per variable (names checked by labEnv). */
export function envFile(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join('');
}

/**
 * What a login shell reads after /etc/profile (which may reset PATH): the claim's environment, then
 * ~/.bashrc as Debian's skeleton .profile does. A pod's home starts empty, so the pod writes this
 * one at start unless the home already has one.
 */
export const PROFILE = [
  '# Written by Atelier when the lab started: the lab\'s environment, then ~/.bashrc.',
  `if [ -r "$HOME/${ENV_FILE}" ]; then . "$HOME/${ENV_FILE}"; fi`,
  'if [ -n "${BASH_VERSION-}" ] && [ -r "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi',
  '',
].join('\n');

/**
 * The container's command: make the workspace, the service socket directory and ~/.profile, then
 * become `sleep infinity`. The pod shares its process namespace, so the pause container is pid 1
 * and reaps what execs leave behind (no tini in the image needed).
 */
export function startScript(workspace: string): string {
  return [
    'set -e',
    `mkdir -p ${shellQuote(workspace)} ${SERVICE_SOCKET_DIR}`,
    `[ -e "$HOME/.profile" ] || printf '%s' ${shellQuote(PROFILE)} > "$HOME/.profile"`,
    'exec sleep infinity',
  ].join('\n');
}

/**
 * Every exec in the lab: the claim's environment (from the home, where execs start), the
 * workspace, then argv as given (no shell parses it). `$0` is the workspace, the rest is argv.
 */
export function execArgv(workspace: string, argv: string[]): string[] {
  return ['/bin/sh', '-c', `if [ -r ${ENV_FILE} ]; then . ./${ENV_FILE}; fi; cd "$0" 2>/dev/null || true; exec "$@"`, workspace, ...argv];
}

/**
 * A terminal: a login shell in the workspace, with the claim's environment (exported before it,
 * and again by ~/.profile after /etc/profile, which may reset PATH).
 */
export function shellArgv(workspace: string): string[] {
  return ['/bin/sh', '-c', `if [ -r ${ENV_FILE} ]; then . ./${ENV_FILE}; fi; cd "$0" 2>/dev/null || true; exec /bin/bash -l`, workspace];
}

/**
 * Writes the claim's environment file and home files from stdin, in the home (where execs start),
 * files only the lab user reads (umask 077, replaced by a rename so that no reader sees half a
 * file). Stdin: per file, a line `<path in the home> <base64 of its bytes>`, then a line `.`: the
 * script ends on it, not on the end of stdin (which an exec cannot send before v5.channel.k8s.io,
 * and KWOK's simulated exec never passes on). The secrets never appear in argv.
 */
export const CLAIM_SCRIPT = [
  'set -e',
  'umask 077',
  'while read -r file data; do',
  '  [ "$file" = . ] && exit 0',
  '  case $file in */*) mkdir -p "${file%/*}";; esac',
  '  printf %s "$data" | base64 -d > "$file.atelier-tmp.$$"',
  '  mv -f "$file.atelier-tmp.$$" "$file"',
  'done',
].join('\n');

/** stdin for CLAIM_SCRIPT. */
export function claimPayload(env: Record<string, string>, homeFiles: Record<string, string> = {}): string {
  const files: Array<[string, string]> = [[ENV_FILE, envFile(env)]];
  for (const [name, content] of Object.entries(homeFiles)) files.push([checkHomeFileName(name), content]);
  return `${files.map(([file, content]) => `${file} ${base64Line(content)}`).join('')}.\n`;
}

/** Text as one line of base64, read by `read -r` in a pod (no end of stdin needed). */
export const base64Line = (text: string): string => `${Buffer.from(text, 'utf8').toString('base64')}\n`;

/** Creates the file $0 from one base64 line on stdin unless it exists (a service's defaults). */
export const WRITE_DEFAULT_SCRIPT = '[ -e "$0" ] || { mkdir -p "${0%/*}" && read -r data; printf %s "$data" | base64 -d > "$0"; }';

export interface PodOptions {
  name: string;
  namespace: string;
  deployment: string;
  image: string;
  /** Epoch seconds: the warm pod's own expiry (claim sets the learner's). */
  expiresAt: number;
  /** The hard cap on the pod's life, from its start: a backstop when no lab server culls it. */
  activeDeadlineSeconds: number;
  /** The tools' ConfigMap, when the template ships tools. */
  toolsConfigMap?: string;
  /** Where the image allows it (default true): the home, /tmp and /run/atelier are the only writable places. */
  readOnlyRootFilesystem?: boolean;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Extra scheduling constraints for the labs' nodes. */
  nodeSelector?: Record<string, string>;
  priorityClassName?: string;
  /** The labs' service account (its image pull secrets); its token is never mounted all the same. */
  serviceAccountName?: string;
}

const restrictedContainer = (readOnlyRootFilesystem: boolean) => ({
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  readOnlyRootFilesystem,
  runAsNonRoot: true,
  runAsUser: LAB_UID,
  runAsGroup: LAB_GID,
  seccompProfile: { type: 'RuntimeDefault' },
});

/** The selector of this deployment's labs (list, culling, the NetworkPolicy). */
export function labSelector(deployment: string): Record<string, string> {
  return { [LABEL.component]: COMPONENT, [LABEL.managedBy]: MANAGER, [LABEL.deployment]: deployment };
}

export const selectorString = (labels: Record<string, string>): string =>
  Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');

/** The lab's pod, warm: from its template only, no learner. */
export function labPod(template: LabTemplate, o: PodOptions): V1Pod {
  const workspace = checkWorkspace(template.workspace);
  const limits = quantities(template.resources);
  const disk = diskSplit(template.resources.disk);
  const env = labEnv(template.env, workspace);
  const tools = Object.keys(template.tools ?? {});
  for (const tool of tools) checkToolName(tool);
  if (!Number.isInteger(o.activeDeadlineSeconds) || o.activeDeadlineSeconds < 1) throw new Error('activeDeadlineSeconds must be a positive integer');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: {
        ...labSelector(o.deployment),
        [LABEL.lab]: labelValue(template.labId),
        [LABEL.pod]: o.name,
        [LABEL.pool]: 'warm',
        [LABEL.expires]: String(Math.ceil(o.expiresAt)),
      },
    },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      shareProcessNamespace: true,
      restartPolicy: 'Never',
      // Nothing in a lab is worth waiting for on deletion: `sleep` and the shells die on SIGTERM.
      terminationGracePeriodSeconds: 2,
      activeDeadlineSeconds: o.activeDeadlineSeconds,
      hostname: hostnameFor(template.labId),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.priorityClassName ? { priorityClassName: o.priorityClassName } : {}),
      ...(o.serviceAccountName ? { serviceAccountName: o.serviceAccountName } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: LAB_UID,
        runAsGroup: LAB_GID,
        fsGroup: LAB_GID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: CONTAINER,
          image: o.image,
          imagePullPolicy: o.imagePullPolicy ?? 'IfNotPresent',
          command: ['/bin/sh', '-c', startScript(workspace)],
          workingDir: LAB_HOME,
          env: Object.entries(env).map(([name, value]) => ({ name, value })),
          resources: { requests: limits, limits },
          securityContext: restrictedContainer(o.readOnlyRootFilesystem ?? true),
          volumeMounts: [
            { name: 'home', mountPath: LAB_HOME },
            { name: 'tmp', mountPath: '/tmp' },
            { name: 'run', mountPath: RUN_DIR },
            ...(o.toolsConfigMap ? [{ name: 'tools', mountPath: TOOLS_DIR, readOnly: true }] : []),
          ],
        },
      ],
      volumes: [
        { name: 'home', emptyDir: { sizeLimit: String(disk.home) } },
        { name: 'tmp', emptyDir: { sizeLimit: String(disk.tmp) } },
        // In memory (counted in the lab's memory limit): a few bytes of environment and sockets.
        { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
        ...(o.toolsConfigMap ? [{ name: 'tools', configMap: { name: o.toolsConfigMap, defaultMode: 0o555 } }] : []),
      ],
    },
  };
}

/** The labels a claim adds to the pod (a merge patch of metadata.labels). */
export function claimLabels(claim: { sessionId: string; learnerId?: string; expiresAt: number }): Record<string, string> {
  return {
    [LABEL.pool]: 'claimed',
    [LABEL.session]: labelValue(claim.sessionId),
    ...(claim.learnerId === undefined ? {} : { [LABEL.learner]: labelValue(claim.learnerId) }),
    [LABEL.expires]: String(Math.ceil(claim.expiresAt / 1000)),
  };
}

export const ownerReference = (pod: { name: string; uid: string }): V1OwnerReference => ({
  apiVersion: 'v1',
  kind: 'Pod',
  name: pod.name,
  uid: pod.uid,
  // The pod is its one owner and goes first; nothing waits for the Secret or Service to go.
  blockOwnerDeletion: false,
});

export interface OwnedOptions {
  pod: { name: string; uid: string };
  namespace: string;
  deployment: string;
}

/** The learner's environment as a Secret, garbage-collected with its pod. */
export function envSecret(env: Record<string, string>, o: OwnedOptions): V1Secret {
  labEnv(env, LAB_HOME); // the same names as a pod's env allows
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: `${o.pod.name}-env`,
      namespace: o.namespace,
      labels: { ...labSelector(o.deployment), [LABEL.pod]: o.pod.name },
      ownerReferences: [ownerReference(o.pod)],
    },
    type: 'Opaque',
    immutable: true,
    stringData: env,
  };
}

/** The Service of a lab's services (its JupyterLab, VS Code), named as its pod, going with it. */
export function labService(o: OwnedOptions): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: o.pod.name,
      namespace: o.namespace,
      labels: { ...labSelector(o.deployment), [LABEL.pod]: o.pod.name },
      ownerReferences: [ownerReference(o.pod)],
    },
    spec: {
      type: 'ClusterIP',
      selector: { [LABEL.pod]: o.pod.name },
      ports: Object.entries(SERVICE_PORTS).map(([name, port]) => ({ name, port, targetPort: port, protocol: 'TCP' })),
    },
  };
}

/** The tools a template ships, as one ConfigMap named by their hash (shared by every pod with them). */
export function toolsConfigMap(tools: Record<string, string>, o: { namespace: string; deployment: string }): V1ConfigMap {
  const names = Object.keys(tools).sort();
  for (const name of names) checkToolName(name);
  const hash = shortHash(JSON.stringify(names.map((n) => [n, tools[n]])), 16);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `atelier-tools-${hash}`, namespace: o.namespace, labels: labSelector(o.deployment) },
    immutable: true,
    data: Object.fromEntries(names.map((n) => [n, tools[n] as string])),
  };
}

/** Cloud metadata endpoints (AWS, GCP, Azure, OpenStack…): never reachable from a lab. */
export const METADATA_ADDRESSES = ['169.254.169.254/32', 'fd00:ec2::254/128'];

function ipv4Bits(address: string): bigint | undefined {
  const parts = address.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => (n << 8n) | BigInt(p), 0n);
}

function ipv6Bits(address: string): bigint | undefined {
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s ? s.split(':') : []);
  const head = groups(halves[0] ?? '');
  const tail = groups(halves[1] ?? '');
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const all = [...head, ...Array<string>(Math.max(0, fill)).fill('0'), ...tail];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return all.reduce((n, g) => (n << 16n) | BigInt(`0x${g}`), 0n);
}

/** A CIDR as family, first address and prefix length; throws on anything else. */
export function parseCidr(cidr: string): { v6: boolean; bits: bigint; prefix: number } {
  const [address = '', prefixText = ''] = cidr.split('/');
  const v6 = address.includes(':');
  const bits = v6 ? ipv6Bits(address) : ipv4Bits(address);
  const prefix = Number(prefixText);
  const width = v6 ? 128 : 32;
  if (bits === undefined || !/^\d+$/.test(prefixText) || prefix > width) throw new Error(`not a CIDR: ${cidr}`);
  return { v6, bits: bits >> BigInt(width - prefix), prefix };
}

/** Whether every address of `inner` is in `outer`. */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (o.v6 !== i.v6 || i.prefix < o.prefix) return false;
  return i.bits >> BigInt(i.prefix - o.prefix) === o.bits;
}

export interface NetworkPolicyOptions {
  namespace: string;
  deployment: string;
  /** Where the lab server runs: its pods' labels and namespace, and the port they listen on. */
  server: { namespace: string; podLabels: Record<string, string>; port: number };
  /** Where the cluster's DNS runs (default: kube-system's kube-dns pods). */
  dns?: { namespace: string; podLabels: Record<string, string> };
  /**
   * Address ranges labs may reach besides the lab server (an external S3), each minus the cloud
   * metadata addresses it contains.
   */
  egressCidrs?: string[];
}

const namespacePeer = (namespace: string, podLabels: Record<string, string>): V1NetworkPolicyPeer => ({
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
  podSelector: { matchLabels: podLabels },
});

/**
 * One policy for all of a deployment's labs: in, only the lab server to the services' ports; out,
 * only the lab server's port (forge and S3), DNS, and the configured ranges without the cloud
 * metadata addresses. Another lab, the API server, the nodes: unreachable.
 */
export function labsNetworkPolicy(o: NetworkPolicyOptions): V1NetworkPolicy {
  const server = namespacePeer(o.server.namespace, o.server.podLabels);
  const dns = o.dns ?? { namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } };
  const cidrs = (o.egressCidrs ?? []).map((cidr) => {
    parseCidr(cidr);
    const except = METADATA_ADDRESSES.filter((m) => cidrContains(cidr, m) && m !== cidr);
    if (METADATA_ADDRESSES.some((m) => cidrContains(m, cidr))) throw new Error(`${cidr} is a cloud metadata address: labs never reach it`);
    return { ipBlock: { cidr, ...(except.length ? { except } : {}) } };
  });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `atelier-labs-${o.deployment}`, namespace: o.namespace, labels: { [LABEL.managedBy]: MANAGER, [LABEL.deployment]: o.deployment } },
    spec: {
      podSelector: { matchLabels: labSelector(o.deployment) },
      policyTypes: ['Ingress', 'Egress'],
      // client-node's models call `from` `_from` (a reserved word of theirs); the API gets `from`.
      ingress: [{ _from: [server], ports: Object.values(SERVICE_PORTS).map((port) => ({ port, protocol: 'TCP' })) }],
      egress: [
        { to: [server], ports: [{ port: o.server.port, protocol: 'TCP' }] },
        { to: [namespacePeer(dns.namespace, dns.podLabels)], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
        ...(cidrs.length ? [{ to: cidrs }] : []),
      ],
    },
  };
}

/** Where a service's pids (its own and its forwarder's) are kept in the pod. */
export const servicePidFile = (name: string): string => `${SERVICE_SOCKET_DIR}/${labelValue(name)}.pid`;

/** Succeeds while every process of the pid file $0 runs. */
export const SERVICE_ALIVE_SCRIPT = 'for p in $(cat "$0" 2>/dev/null); do kill -0 "$p" 2>/dev/null || exit 1; done; [ -s "$0" ]';

/** Kills the process groups of the pid file $0 (each started in its own session), then forgets them (dash's kill takes no `--`). */
export const SERVICE_STOP_SCRIPT = 'for p in $(cat "$0" 2>/dev/null); do kill -KILL "-$p" 2>/dev/null; done; rm -f "$0"';

/** TCP on all the pod's addresses (the NetworkPolicy lets in only the lab server) to the service's Unix socket. */
export const FORWARDER = [
  'import asyncio, sys',
  'async def pipe(r, w):',
  '    while data := await r.read(65536):',
  '        w.write(data)',
  '        await w.drain()',
  '    if w.can_write_eof():',
  '        w.write_eof()',
  'async def client(r, w):',
  '    try:',
  '        ur, uw = await asyncio.open_unix_connection(sys.argv[2])',
  '    except OSError:',
  '        w.close()',
  '        return',
  '    # Each direction ends on its own (a half-closed request still gets its answer), then both close.',
  '    await asyncio.gather(pipe(r, uw), pipe(ur, w), return_exceptions=True)',
  '    w.close()',
  '    uw.close()',
  'async def main():',
  '    server = await asyncio.start_server(client, "0.0.0.0", int(sys.argv[1]))',
  '    await server.serve_forever()',
  'asyncio.run(main())',
].join('\n');

/**
 * Starts a service in the background, in its own session (so stopService ends its whole group):
 * its environment from stdin, its output to its log, and a forwarder from the pod's port to its
 * Unix socket (python3, which the services' image has). $0 socket, $1 log, $2 port, $3 pid file,
 * the rest the service's argv.
 */
export const SERVICE_LAUNCHER = [
  'set -e',
  'socket=$0 log=$1 port=$2 pidfile=$3',
  'shift 3',
  'umask 077',
  'envf=$(mktemp)',
  'read -r data',
  'printf %s "$data" | base64 -d > "$envf"',
  'rm -f "$socket"',
  'mkdir -p "${log%/*}"',
  `setsid sh -c '. "$0"; rm -f "$0"; exec "$@"' "$envf" "$@" >>"$log" 2>&1 </dev/null &`,
  'service=$!',
  `setsid python3 -c ${shellQuote(FORWARDER)} "$port" "$socket" >>"$log" 2>&1 </dev/null &`,
  'echo "$service $!" > "$pidfile"',
].join('\n');
