/**
 * A real Kubernetes control plane on loopback for tests, with no container engine: etcd,
 * kube-apiserver (RBAC and Node authorization, the default admission plugins with PodSecurity,
 * plus NodeRestriction), kube-controller-manager (service accounts, namespace deletion, garbage
 * collection…), kube-scheduler, and KWOK playing one node: pods scheduled there go Running with an
 * IP, and an exec through the API server reaches KWOK's kubelet-like server, which runs the
 * command on this machine (its ClusterExec: as nobody, in a scratch directory). Containers do not
 * run: a pod's image is never pulled, and what an exec runs is the host's program.
 *
 * Binaries from server/cli/kube-tools.ts (built by `setup.ts --test`). Everything lives in a
 * temporary directory: certificates made with openssl, etcd's data, one log per component.
 * `stop()` ends the processes and removes the directory; the processes also die with the test
 * process, however it ends (each runs under `setpriv --pdeathsig KILL`), and the directory of a
 * test process killed outright is removed by the next start.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, Health, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { kubeTools } from '../../server/cli/kube-tools.ts';

export interface KubeUser {
  name: string;
  token: string;
  /** A kubeconfig (JSON, which is YAML) for this user, for `KubeConfig.loadFromString`. */
  kubeconfig: string;
}

export interface KubeCluster {
  /** The temporary directory: certificates, etcd's data, `logs/<component>.log`. */
  dir: string;
  /** The components' process ids, by name. */
  pids: Record<string, number>;
  /** https://127.0.0.1:<port> */
  server: string;
  /** The cluster's CA, PEM: the API server's and KWOK's serving certificates are signed by it. */
  caCert: string;
  /** The admin user (group system:masters). */
  admin: KubeUser;
  adminToken: string;
  kubeconfig: string;
  kubeconfigPath: string;
  /** A user with no permission but what RBAC bindings give it (none at start). */
  limited: KubeUser;
  /** The node KWOK plays, Ready, on which pods are scheduled. */
  nodeName: string;
  /** A user for another bearer token (a service account's, from TokenRequest). */
  tokenUser(name: string, token: string): KubeUser;
  /** A client configuration for a user, the admin by default. */
  kubeConfig(user?: KubeUser): KubeConfig;
  /** Creates a namespace and waits for its default service account, without which pods are refused. */
  createNamespace(name: string, labels?: Record<string, string>): Promise<void>;
  /** The tail of a component's log (`etcd`, `kube-apiserver`, `kube-controller-manager`, `kube-scheduler`, `kwok`). */
  logTail(component: string, lines?: number): string;
  stop(): Promise<void>;
}

export interface KubeClusterOptions {
  /** Longest wait for the whole cluster to be ready. */
  timeoutMs?: number;
}

const nodeName = 'kwok-node-0';
/** Where the simulated exec runs commands: nobody, so a test's exec cannot touch what root owns. */
const execUid = 65534;

export async function startKubeCluster(options: KubeClusterOptions = {}): Promise<KubeCluster> {
  const tools = kubeTools();
  if (!tools) throw new Error('The Kubernetes test tools are not built: run `node server/cli/kube-tools.ts` (setup.ts --test does).');
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  removeOrphans();
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  writeFileSync(join(dir, 'owner'), `${process.pid}\n`);
  const processes = new Map<string, ChildProcess>();
  const logPath = (component: string) => join(dir, 'logs', `${component}.log`);
  const logTail = (component: string, lines = 40) => {
    try {
      return readFileSync(logPath(component), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  };
  let stopped = false;
  const killAll = () => {
    for (const child of processes.values()) {
      // Each runs in a process group of its own: KWOK's exec'd commands go with it.
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  };
  process.once('exit', killAll);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killAll);
    const exits = [...processes.values()].filter((child) => child.exitCode === null && child.signalCode === null).map((child) => new Promise((resolve) => child.once('exit', resolve)));
    killAll();
    await Promise.all(exits);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // Traversable, for the exec scratch directory inside, where KWOK runs commands as nobody.
    chmodSync(dir, 0o711);
    mkdirSync(join(dir, 'logs'), { mode: 0o700 });
    const pki = makePki(join(dir, 'pki'));
    const [etcdClientPort, etcdPeerPort, apiPort, kwokPort] = await freePorts(4);
    const server = `https://127.0.0.1:${apiPort}`;

    const users = {
      admin: { name: 'atelier-admin', groups: ['system:masters'] },
      limited: { name: 'atelier-limited', groups: [] },
      // Its bootstrap role is meant for controllers running as their service accounts (see its flags).
      controllerManager: { name: 'system:kube-controller-manager', groups: ['system:masters'] },
      // Started with the API server, before its RBAC bootstrap policy exists: its first lists would be refused and backed off.
      scheduler: { name: 'system:kube-scheduler', groups: ['system:masters'] },
      // KWOK writes nodes' and pods' status and leases, as kubelets do for their own node only.
      kwok: { name: 'kwok-controller', groups: ['system:masters'] },
    };
    const tokens = Object.fromEntries(Object.keys(users).map((key) => [key, randomBytes(24).toString('hex')])) as Record<keyof typeof users, string>;
    writeFileSync(
      join(dir, 'tokens.csv'),
      Object.entries(users)
        .map(([key, user]) => `${tokens[key as keyof typeof users]},${user.name},${user.name},"${user.groups.join(',')}"`)
        .join('\n') + '\n',
      { mode: 0o600 },
    );
    const user = (key: keyof typeof users): KubeUser => {
      const kubeconfig = kubeconfigFor(server, pki.caCert, users[key].name, tokens[key]);
      writeFileSync(join(dir, `${key}.kubeconfig`), kubeconfig, { mode: 0o600 });
      return { name: users[key].name, token: tokens[key], kubeconfig };
    };
    const admin = user('admin');
    const limited = user('limited');
    for (const key of ['controllerManager', 'scheduler', 'kwok'] as const) user(key);

    const start = (component: string, binary: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
      const log = openSync(logPath(component), 'a');
      const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', binary, ...args], { cwd: dir, env, detached: true, stdio: ['ignore', log, log] });
      closeSync(log);
      processes.set(component, child);
      child.once('exit', (code, signal) => {
        if (!stopped) writeFileSync(logPath(component), `\n[exited: ${signal ?? code}]\n`, { flag: 'a' });
      });
    };
    const running = (component: string) => {
      const child = processes.get(component)!;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${component} exited (${child.signalCode ?? child.exitCode})`);
    };

    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    start('etcd', tools.etcd, [
      '--name=node0',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=node0=${peerUrl}`,
      // A test's data need not survive a crash of the machine.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);

    start('kube-apiserver', tools.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // The reconciler refuses a loopback address for the `kubernetes` service's endpoints; no pod reaches it here.
      '--endpoint-reconciler-type=none',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCertFile}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      // The defaults (PodSecurity, ServiceAccount, LimitRanger, ResourceQuota…) and, as kubeadm sets it, NodeRestriction.
      '--enable-admission-plugins=NodeRestriction',
      // Privileged pods are PodSecurity's to refuse, per namespace, as on a school's cluster.
      '--allow-privileged=true',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      // Exec, attach, logs and port-forward go to KWOK's server, whose certificate names 127.0.0.1.
      `--kubelet-certificate-authority=${pki.caCertFile}`,
      `--kubelet-client-certificate=${pki.kubeletClientCert}`,
      `--kubelet-client-key=${pki.kubeletClientKey}`,
      '--kubelet-preferred-address-types=InternalIP',
      '--profiling=false',
    ]);

    start('kube-controller-manager', tools.kubeControllerManager, [
      `--kubeconfig=${join(dir, 'controllerManager.kubeconfig')}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--leader-elect=false',
      // One identity for all controllers: a service account each (kubeadm's way) costs ~5 s of start, one token request after another.
      '--use-service-account-credentials=false',
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCertFile}`,
      '--profiling=false',
    ]);
    start('kube-scheduler', tools.kubeScheduler, [
      `--kubeconfig=${join(dir, 'scheduler.kubeconfig')}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--leader-elect=false',
      '--profiling=false',
    ]);

    const execDir = join(dir, 'exec');
    mkdirSync(execDir);
    chmodSync(execDir, 0o777);
    const kwokConfig = join(dir, 'kwok-exec.yaml');
    writeFileSync(
      kwokConfig,
      JSON.stringify({
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'ClusterExec',
        metadata: { name: 'local' },
        spec: { execs: [{ local: { workDir: execDir, securityContext: { runAsUser: execUid, runAsGroup: execUid } } }] },
      }),
    );
    start(
      'kwok',
      tools.kwok,
      [
        `--kubeconfig=${join(dir, 'kwok.kubeconfig')}`,
        ...[...tools.stages, kwokConfig].map((file) => `--config=${file}`),
        '--manage-all-nodes=true',
        '--node-ip=127.0.0.1',
        `--node-port=${kwokPort}`,
        `--server-address=127.0.0.1:${kwokPort}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        // Pod IPs are labels here: nothing listens on them and no test sends traffic there.
        '--cidr=10.244.0.1/24',
        '--node-lease-duration-seconds=40',
      ],
      // What an exec runs inherits KWOK's environment: a bare one, none of the test's variables;
      // HOME keeps KWOK from reading a ~/.kwok of the machine.
      { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8' },
    );

    // The others wait for the API server themselves: starting them all at once overlaps their starts.
    const kc = new KubeConfig();
    kc.loadFromString(admin.kubeconfig);
    const health = new Health(kc);
    await until(deadline, 'the API server to be ready', async () => {
      for (const component of processes.keys()) running(component);
      return health.readyz({ timeout: 2000 }).catch(() => false);
    });


    const core = kc.makeApiClient(CoreV1Api);
    await core.createNode({
      body: {
        metadata: {
          name: nodeName,
          labels: { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
          annotations: { 'kwok.x-k8s.io/node': 'fake' },
        },
      },
    });
    await until(deadline, `node ${nodeName} to be Ready`, async () => {
      for (const component of processes.keys()) running(component);
      const node = await core.readNode({ name: nodeName });
      return node.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') ?? false;
    });
    // KWOK's node offers CPU, memory and pods; a pod asking for ephemeral storage (a lab's disk) needs it too.
    const storage = { 'ephemeral-storage': '1Ti' };
    await core.patchNodeStatus({ name: nodeName, body: { status: { capacity: storage, allocatable: storage } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));

    const createNamespace = async (name: string, labels?: Record<string, string>) => {
      await core.createNamespace({ body: { metadata: { name, labels } } });
      await until(Date.now() + 30_000, `the default service account of namespace ${name}`, () =>
        core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(
          () => true,
          () => false,
        ),
      );
    };
    await until(deadline, 'the default service account of namespace default', () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }).then(
        () => true,
        () => false,
      ),
    );

    return {
      dir,
      pids: Object.fromEntries([...processes].map(([component, child]) => [component, child.pid!])),
      server,
      caCert: pki.caCert,
      admin,
      adminToken: admin.token,
      kubeconfig: admin.kubeconfig,
      kubeconfigPath: join(dir, 'admin.kubeconfig'),
      limited,
      nodeName,
      tokenUser: (name: string, token: string) => ({ name, token, kubeconfig: kubeconfigFor(server, pki.caCert, name, token) }),
      kubeConfig(who: KubeUser = admin) {
        const config = new KubeConfig();
        config.loadFromString(who.kubeconfig);
        return config;
      },
      createNamespace,
      logTail,
      stop,
    };
  } catch (error) {
    const logs = [...processes.keys()].map((component) => `--- ${component} (${logPath(component)})\n${logTail(component, 15)}`).join('\n');
    await stop();
    throw new Error(`${(error as Error).message}\n${logs}`);
  }
}

const dirPrefix = 'atelier-kube-';

/**
 * The directories of clusters whose test process was killed outright: their processes died with
 * it (pdeathsig), but nothing removed the directory. Another live test's cluster is left alone.
 */
function removeOrphans(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(dirPrefix)) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number.parseInt(readFileSync(join(dir, 'owner'), 'utf8'), 10);
    } catch {
      continue; // being made, or not ours
    }
    try {
      process.kill(owner, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') rmSync(dir, { recursive: true, force: true });
    }
  }
}

interface Pki {
  caCert: string;
  caCertFile: string;
  servingCert: string;
  servingKey: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

/** A CA, a serving certificate for 127.0.0.1 (API server and KWOK), the API server's kubelet client certificate, a service-account key pair. */
function makePki(dir: string): Pki {
  mkdirSync(dir, { mode: 0o700 });
  const file = (name: string) => join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=atelier-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const signed = (name: string, subject: string, extensions: string[]) =>
    openssl(['req', '-x509', ...ecKey, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', subject, ...extensions.flatMap((extension) => ['-addext', extension])]);
  signed('serving', '/CN=127.0.0.1', ['subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc', 'extendedKeyUsage=serverAuth', 'keyUsage=critical,digitalSignature']);
  signed('kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', ['extendedKeyUsage=clientAuth', 'keyUsage=critical,digitalSignature']);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'sa.key']);
  openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  return {
    caCert: readFileSync(file('ca.crt'), 'utf8'),
    caCertFile: file('ca.crt'),
    servingCert: file('serving.crt'),
    servingKey: file('serving.key'),
    kubeletClientCert: file('kubelet-client.crt'),
    kubeletClientKey: file('kubelet-client.key'),
    serviceAccountKey: file('sa.key'),
    serviceAccountPub: file('sa.pub'),
  };
}

function kubeconfigFor(server: string, caCert: string, user: string, token: string): string {
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'atelier-test', cluster: { server, 'certificate-authority-data': Buffer.from(caCert).toString('base64') } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: user, context: { cluster: 'atelier-test', user } }],
      'current-context': user,
    },
    null,
    2,
  );
}

/** Free loopback ports, all held open at once so that no two are the same. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function until(deadline: number, what: string, ready: () => Promise<boolean>): Promise<void> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await ready()) return;
    } catch (error) {
      if ((error as Error).message.includes(' exited (')) throw error;
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out waiting for ${what}${last ? ` (last: ${(last as Error).message})` : ''}`);
}
