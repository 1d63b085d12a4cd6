import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { LabTemplate } from '../../server/drivers/driver.ts';
import {
  CLAIM_SCRIPT,
  ENV_FILE,
  SERVICE_ALIVE_SCRIPT,
  SERVICE_LAUNCHER,
  SERVICE_STOP_SCRIPT,
  WRITE_DEFAULT_SCRIPT,
  base64Line,
  LABEL,
  METADATA_ADDRESSES,
  SERVICE_PORTS,
  checkDeployment,
  cidrContains,
  claimLabels,
  claimPayload,
  envFile,
  envSecret,
  execArgv,
  labPod,
  labService,
  labelValue,
  labsNetworkPolicy,
  parseQuantity,
  podName,
  quantities,
  toolsConfigMap,
} from '../../server/drivers/kubernetes/manifests.ts';
import { exitCode } from '../../server/drivers/kubernetes/kubernetes-driver.ts';

const MiB = 1024 * 1024;
const template: LabTemplate = {
  labId: 'datalab-discovery',
  workspace: '/home/onyxia/work',
  resources: { cpu: 0.5, memory: 512 * MiB, disk: 256 * MiB, pids: 256 },
  env: { LAB_SETTING: 'on' },
  image: 'registry.example/atelier-lab:1',
  tools: { mc: '#!/bin/sh\necho mc\n' },
};
const podOptions = {
  name: 'lab-datalab-discovery-abc',
  namespace: 'labs',
  deployment: 'school',
  image: 'registry.example/atelier-lab:1',
  expiresAt: 1_900_000_000,
  activeDeadlineSeconds: 3600,
  toolsConfigMap: 'atelier-tools-0123',
};
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

describe('the lab pod', () => {
  const pod = labPod(template, podOptions);
  const spec = pod.spec!;
  const container = spec.containers[0]!;

  it('runs as a Kubernetes "restricted" pod: uid 1000, no capability, no escalation, RuntimeDefault seccomp, no token', () => {
    assert.deepEqual(spec.securityContext, {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.equal(spec.automountServiceAccountToken, false);
    assert.equal(spec.serviceAccountName, undefined);
    const withAccount = labPod(template, { ...podOptions, serviceAccountName: 'labs' }).spec!;
    assert.equal(withAccount.serviceAccountName, 'labs');
    assert.equal(withAccount.automountServiceAccountToken, false, 'its token is never mounted');
    assert.equal(spec.enableServiceLinks, false);
    assert.equal(spec.hostNetwork, undefined);
    assert.equal(spec.restartPolicy, 'Never');
    assert.equal(labPod(template, { ...podOptions, readOnlyRootFilesystem: false }).spec!.containers[0]!.securityContext!.readOnlyRootFilesystem, false);
  });

  it('asks for and is limited to the lab.yaml resources (cpu, memory, ephemeral storage)', () => {
    const expected = { cpu: '500m', memory: String(512 * MiB), 'ephemeral-storage': String(256 * MiB) };
    assert.deepEqual(container.resources, { requests: expected, limits: expected });
    assert.deepEqual(quantities({ cpu: 0.0001, memory: 1.5, disk: 10 }), { cpu: '1m', memory: '2', 'ephemeral-storage': '10' });
    assert.throws(() => quantities({ cpu: 0, memory: 1, disk: 1 }), /resources.cpu/);
    // And back, as the metrics API and pod specs write them.
    assert.equal(parseQuantity('500m'), 0.5);
    assert.ok(Math.abs(parseQuantity('123456789n') - 0.123456789) < 1e-15);
    assert.equal(parseQuantity('2'), 2);
    assert.equal(parseQuantity('1536Ki'), 1536 * 1024);
    assert.equal(parseQuantity('1.5Gi'), 1.5 * 2 ** 30);
    assert.equal(parseQuantity('5e3'), 5000);
    assert.equal(parseQuantity('256M'), 256e6);
    assert.ok(Number.isNaN(parseQuantity('12Q')) && Number.isNaN(parseQuantity('')) && Number.isNaN(parseQuantity('Mi')));
    assert.throws(() => quantities({ cpu: 1, memory: Number.NaN, disk: 1 }), /resources.memory/);
  });

  it('writes only to size-limited emptyDirs: home and /tmp from the disk, /run/atelier in memory; tools read-only', () => {
    const mounts = Object.fromEntries(container.volumeMounts!.map((m) => [m.name, m]));
    assert.equal(mounts.home!.mountPath, '/home/onyxia');
    assert.equal(mounts.tmp!.mountPath, '/tmp');
    assert.equal(mounts.run!.mountPath, '/run/atelier');
    assert.deepEqual(mounts.tools, { name: 'tools', mountPath: '/opt/atelier/bin', readOnly: true });
    const volumes = Object.fromEntries(spec.volumes!.map((v) => [v.name, v]));
    const home = Number(volumes.home!.emptyDir!.sizeLimit);
    const tmp = Number(volumes.tmp!.emptyDir!.sizeLimit);
    assert.equal(home + tmp, 256 * MiB);
    assert.ok(tmp > 0 && home > tmp);
    assert.deepEqual(volumes.run!.emptyDir, { medium: 'Memory', sizeLimit: '1Mi' });
    assert.deepEqual(volumes.tools!.configMap, { name: 'atelier-tools-0123', defaultMode: 0o555 });
    const bare = labPod({ ...template, tools: {} }, { ...podOptions, toolsConfigMap: undefined } as never).spec!;
    assert.ok(!bare.volumes!.some((v) => v.name === 'tools'));
  });

  it('ends by its deadline, is labelled for its lab, deployment, pool and expiry, and keeps itself alive without tini', () => {
    assert.equal(spec.activeDeadlineSeconds, 3600);
    assert.deepEqual(pod.metadata!.labels, {
      'app.kubernetes.io/component': 'lab',
      'app.kubernetes.io/managed-by': 'atelier',
      [LABEL.deployment]: 'school',
      [LABEL.lab]: 'datalab-discovery',
      [LABEL.pod]: 'lab-datalab-discovery-abc',
      [LABEL.pool]: 'warm',
      [LABEL.expires]: '1900000000',
    });
    assert.equal(spec.shareProcessNamespace, true, 'the pause container is pid 1 and reaps');
    assert.deepEqual(container.command!.slice(0, 2), ['/bin/sh', '-c']);
    assert.match(container.command![2]!, /exec sleep infinity$/);
    const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value]));
    assert.equal(env.LAB_SETTING, 'on');
    assert.equal(env.HOME, '/home/onyxia');
    assert.match(env.PATH!, /^\/opt\/atelier\/python\/bin:\/opt\/atelier\/bin:/);
    assert.throws(() => labPod({ ...template, env: { 'BAD NAME': 'x' } }, podOptions), /invalid environment variable name/);
    assert.throws(() => labPod({ ...template, workspace: '/etc' }, podOptions), /workspace must be under/);
    assert.throws(() => labPod(template, { ...podOptions, activeDeadlineSeconds: 0 }), /activeDeadlineSeconds/);
  });

  it('takes the claim as labels: pool, session, learner, expiry in epoch seconds', () => {
    assert.deepEqual(claimLabels({ sessionId: 'abc', learnerId: 'l1', expiresAt: 1_900_000_000_500 }), {
      [LABEL.pool]: 'claimed',
      [LABEL.session]: 'abc',
      [LABEL.learner]: 'l1',
      [LABEL.expires]: '1900000001',
    });
    assert.equal(claimLabels({ sessionId: '-x_', expiresAt: 0 })[LABEL.learner], undefined);
    assert.match(claimLabels({ sessionId: '-x_', expiresAt: 0 })[LABEL.session]!, LABEL_VALUE);
  });
});

describe('names and label values', () => {
  it('pod names are DNS-1035 labels of 63 characters at most, whatever the lab id', () => {
    for (const labId of ['datalab-discovery', 'Ünïcode lab!', '---', 'x'.repeat(200), '9lives']) {
      const name = podName(labId);
      assert.match(name, /^[a-z]([-a-z0-9]*[a-z0-9])?$/, name);
      assert.ok(name.length <= 63, name);
    }
    assert.equal(podName('datalab-discovery', 'r4nd0m'), 'lab-datalab-discovery-r4nd0m');
    assert.notEqual(podName('a'), podName('a'));
  });

  it('label values are kept when valid, else made valid and told apart by a hash', () => {
    assert.equal(labelValue('abc-DEF_1.2'), 'abc-DEF_1.2');
    const seen = new Set<string>();
    for (const text of ['-abc', '_abc', 'abc-', 'a b', 'é', 'x'.repeat(64), 'x'.repeat(65), '', '--']) {
      const value = labelValue(text);
      assert.match(value, LABEL_VALUE, text);
      assert.ok(value.length <= 63, text);
      assert.ok(!seen.has(value), text);
      seen.add(value);
    }
    assert.equal(labelValue('-abc'), labelValue('-abc'));
  });

  it('a deployment name must already be a short DNS label', () => {
    assert.equal(checkDeployment('school-1'), 'school-1');
    for (const bad of ['School', '-a', 'a_b', 'x'.repeat(33), '']) assert.throws(() => checkDeployment(bad), /DNS-1123/);
  });
});

describe('the learner environment and home files', () => {
  const tricky = { A: "it's", B: 'a\nb', C: '$(touch /tmp/pwned) `id` $HOME "q"', D: '', E: '\\x' };

  it('the env file sets every value as it is when sourced, expanding nothing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-env-'));
    try {
      const file = path.join(dir, 'env');
      fs.writeFileSync(file, envFile(tricky));
      const out = spawnSync('/bin/sh', ['-c', '. "$0"; printf "%s\\0" "$A" "$B" "$C" "$D" "$E"', file], { encoding: 'utf8', env: {} });
      assert.equal(out.status, 0, out.stderr);
      assert.deepEqual(out.stdout.split('\0').slice(0, 5), Object.values(tricky));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the claim script writes each file from stdin, mode 0600, the secrets never in argv', async () => {
    const payload = claimPayload(tricky, { '.gitconfig': '[user]\n\tname = Ada\n', '.git-credentials': 'https://x:tok@forge\n' });
    assert.ok(!payload.includes('tok@forge') && !payload.includes("it's"), 'base64 only');
    assert.ok(!CLAIM_SCRIPT.includes('tok'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-claim-'));
    try {
      // Run in the home, as an exec in the pod starts there.
      const out = spawnSync('/bin/sh', ['-c', CLAIM_SCRIPT], { cwd: dir, input: payload, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
      assert.equal(out.status, 0, out.stderr);
      const env = path.join(dir, ENV_FILE);
      assert.equal(fs.readFileSync(env, 'utf8'), envFile(tricky));
      assert.equal(fs.statSync(env).mode & 0o777, 0o600);
      const credentials = path.join(dir, '.git-credentials');
      assert.equal(fs.readFileSync(credentials, 'utf8'), 'https://x:tok@forge\n');
      assert.equal(fs.statSync(credentials).mode & 0o777, 0o600);
      assert.equal(fs.readFileSync(path.join(dir, '.gitconfig'), 'utf8'), '[user]\n\tname = Ada\n');
      assert.deepEqual(fs.readdirSync(dir).sort(), ['.config', '.git-credentials', '.gitconfig'], 'no temporary file left');
      // The script ends on the payload's last line, stdin still open (KWOK never closes it).
      fs.rmSync(env);
      const open = spawn('/bin/sh', ['-c', CLAIM_SCRIPT], { cwd: dir, env: { PATH: '/usr/bin:/bin' }, stdio: ['pipe', 'ignore', 'ignore'] });
      open.stdin.write(payload);
      const code = await new Promise((resolve) => open.on('exit', resolve));
      open.stdin.destroy();
      assert.equal(code, 0);
      assert.equal(fs.readFileSync(env, 'utf8'), envFile(tricky));
      // Every exec then has that environment, whatever the workspace.
      const [cmd, ...args] = execArgv('/nonexistent', ['/bin/sh', '-c', 'printf "%s\\0" "$A" "$C"']);
      const exec = spawnSync(cmd!, args, { cwd: dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: dir } });
      assert.equal(exec.stdout, `${tricky.A}\0${tricky.C}\0`, exec.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => claimPayload({}, { '../escape': 'x' }), /invalid home file name/);
    assert.throws(() => claimPayload({}, { 'a/b': 'x' }), /invalid home file name/);
  });

  it('a service default is written from one line of stdin unless the learner has the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-default-'));
    try {
      const file = path.join(dir, 'a/b/settings.json');
      const write = (content: string) => spawnSync('/bin/sh', ['-c', WRITE_DEFAULT_SCRIPT, file], { input: base64Line(content), encoding: 'utf8' });
      assert.equal(write('{"x": "\'$y\'"}\n').status, 0);
      assert.equal(fs.readFileSync(file, 'utf8'), '{"x": "\'$y\'"}\n');
      write('replaced?');
      assert.equal(fs.readFileSync(file, 'utf8'), '{"x": "\'$y\'"}\n', 'kept');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an exec runs argv as given, in the workspace, through no shell parsing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-exec-'));
    try {
      const [cmd, ...args] = execArgv(dir, ['/bin/sh', '-c', 'pwd; printf "%s|" "$@"', 'x', 'a b', "c'd", '$(id)']);
      const out = spawnSync(cmd!, args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
      assert.equal(out.status, 0, out.stderr);
      assert.equal(out.stdout, `${fs.realpathSync(dir)}\na b|c'd|$(id)|`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the Secret goes with its pod and holds the environment as given', () => {
    const secret = envSecret({ AWS_SECRET_ACCESS_KEY: 's3cr3t' }, { pod: { name: 'lab-x-1', uid: 'u-1' }, namespace: 'labs', deployment: 'school' });
    assert.equal(secret.metadata!.name, 'lab-x-1-env');
    assert.deepEqual(secret.metadata!.ownerReferences, [{ apiVersion: 'v1', kind: 'Pod', name: 'lab-x-1', uid: 'u-1', blockOwnerDeletion: false }]);
    assert.deepEqual(secret.stringData, { AWS_SECRET_ACCESS_KEY: 's3cr3t' });
    assert.equal(secret.immutable, true);
    assert.throws(() => envSecret({ 'A=B': 'x' }, { pod: { name: 'p', uid: 'u' }, namespace: 'n', deployment: 'd' }), /invalid environment/);
  });
});

describe('the labs network policy', () => {
  const base = { namespace: 'labs', deployment: 'school', server: { namespace: 'atelier', podLabels: { app: 'atelier' }, port: 4321 } };

  it('lets labs reach only the lab server and DNS, and only the lab server reach them, at the services ports', () => {
    const policy = labsNetworkPolicy(base);
    const spec = policy.spec!;
    assert.deepEqual(spec.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(spec.podSelector?.matchLabels, { 'app.kubernetes.io/component': 'lab', 'app.kubernetes.io/managed-by': 'atelier', [LABEL.deployment]: 'school' });
    const server = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'atelier' } }, podSelector: { matchLabels: { app: 'atelier' } } };
    assert.deepEqual(spec.ingress, [{ _from: [server], ports: Object.values(SERVICE_PORTS).map((port) => ({ port, protocol: 'TCP' })) }]);
    assert.deepEqual(spec.egress![0], { to: [server], ports: [{ port: 4321, protocol: 'TCP' }] });
    assert.deepEqual(spec.egress![1]!.to, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }]);
    assert.equal(spec.egress!.length, 2, 'no address block unless asked');
  });

  it('extra ranges (an external S3) never include the cloud metadata addresses', () => {
    const spec = labsNetworkPolicy({ ...base, egressCidrs: ['0.0.0.0/0', '::/0', '10.0.0.0/8', '2001:db8::/32', '169.254.0.0/16'] }).spec!;
    assert.deepEqual(spec.egress![2]!.to, [
      { ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } },
      { ipBlock: { cidr: '::/0', except: ['fd00:ec2::254/128'] } },
      { ipBlock: { cidr: '10.0.0.0/8' } },
      { ipBlock: { cidr: '2001:db8::/32' } },
      { ipBlock: { cidr: '169.254.0.0/16', except: ['169.254.169.254/32'] } },
    ]);
    for (const m of METADATA_ADDRESSES) assert.throws(() => labsNetworkPolicy({ ...base, egressCidrs: [m] }), /metadata/);
    assert.throws(() => labsNetworkPolicy({ ...base, egressCidrs: ['10.0.0.0/33'] }), /not a CIDR/);
    assert.throws(() => labsNetworkPolicy({ ...base, egressCidrs: ['fd00::ec2::1/64'] }), /not a CIDR/);
  });

  it('tells which ranges hold which', () => {
    assert.ok(cidrContains('fd00::/8', 'fd00:ec2::254/128'));
    assert.ok(!cidrContains('fd01::/16', 'fd00:ec2::254/128'));
    assert.ok(cidrContains('169.254.169.254/32', '169.254.169.254/32'));
    assert.ok(!cidrContains('169.254.169.0/25', '169.254.169.254/32'));
    assert.ok(!cidrContains('0.0.0.0/0', '::/0'));
  });
});

describe('the service and the tools', () => {
  it('a lab\'s Service selects its pod alone, at the services ports, and goes with it', () => {
    const service = labService({ pod: { name: 'lab-x-1', uid: 'u-1' }, namespace: 'labs', deployment: 'school' });
    assert.equal(service.metadata!.name, 'lab-x-1');
    assert.deepEqual(service.spec!.selector, { [LABEL.pod]: 'lab-x-1' });
    assert.deepEqual(service.spec!.ports, [
      { name: 'jupyterlab', port: 8888, targetPort: 8888, protocol: 'TCP' },
      { name: 'vscode', port: 8080, targetPort: 8080, protocol: 'TCP' },
    ]);
    assert.equal(service.metadata!.ownerReferences![0]!.uid, 'u-1');
  });

  it('the tools ConfigMap is named by its content', () => {
    const o = { namespace: 'labs', deployment: 'school' };
    const a = toolsConfigMap({ mc: '1', b: '2' }, o);
    assert.equal(a.metadata!.name, toolsConfigMap({ b: '2', mc: '1' }, o).metadata!.name);
    assert.notEqual(a.metadata!.name, toolsConfigMap({ mc: '1', b: '3' }, o).metadata!.name);
    assert.match(a.metadata!.name!, /^atelier-tools-[0-9a-f]{16}$/);
    assert.deepEqual(a.data, { b: '2', mc: '1' });
    assert.throws(() => toolsConfigMap({ '../x': '1' }, o), /invalid tool name/);
  });
});

describe('exec status frames', () => {
  const frame = (status: object) => Buffer.from(JSON.stringify(status));
  it('read the exit code as the kubelet and as KWOK report it', () => {
    assert.equal(exitCode(frame({ status: 'Success' })), 0);
    assert.equal(exitCode(frame({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } })), 3);
    assert.equal(exitCode(frame({ status: 'Failure', reason: 'InternalError', message: 'error executing command in container: cmd wait: sh -c exit 3: exit status 42' })), 42);
    assert.equal(exitCode(frame({ status: 'Failure', message: 'container not found' })), 1);
    assert.equal(exitCode(Buffer.from('not json')), 1);
  });
});

describe('a lab service in its pod (the launcher, run here)', () => {
  /** A Unix-socket service answering `<its SECRET_WORD>:<what it got>` once the client half-closes. */
  const echo = [
    'import os, socket, sys',
    's = socket.socket(socket.AF_UNIX)',
    's.bind(sys.argv[1])',
    's.listen()',
    'while True:',
    '    c, _ = s.accept()',
    '    got = b""',
    '    while chunk := c.recv(65536):',
    '        got += chunk',
    '    c.sendall(os.environ["SECRET_WORD"].encode() + b":" + got)',
    '    c.close()',
  ].join('\n');
  const freePort = () =>
    new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
  const run = (script: string, args: string[], input = '') => spawnSync('/bin/sh', ['-c', script, ...args], { input, encoding: 'utf8', timeout: 10_000 });

  it('starts the service with its environment from stdin, exposes its socket on a TCP port, tells it runs, and stops it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-service-'));
    const socket = path.join(dir, 'echo.sock');
    const pidfile = path.join(dir, 'echo.pid');
    const port = await freePort();
    try {
      const started = run(SERVICE_LAUNCHER, [socket, path.join(dir, 'logs/echo.log'), String(port), pidfile, 'python3', '-c', echo, socket], base64Line(envFile({ SECRET_WORD: "it's me" })));
      assert.equal(started.status, 0, started.stderr);
      const answer = await (async () => {
        for (let n = 0; n < 100; n++) {
          const got = await new Promise<string | undefined>((resolve) => {
            const c = net.connect(port, '127.0.0.1', () => c.end('ping'));
            let data = '';
            c.on('data', (d) => (data += d));
            c.on('end', () => resolve(data));
            c.on('error', () => resolve(undefined));
          });
          if (got) return got;
          await new Promise((r) => setTimeout(r, 100));
        }
        return undefined;
      })();
      assert.equal(answer, "it's me:ping", 'through the forwarder, half-close included');
      assert.equal(run(SERVICE_ALIVE_SCRIPT, [pidfile]).status, 0);
      const pids = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
      assert.equal(pids.length, 2);
      assert.equal(run(SERVICE_STOP_SCRIPT, [pidfile]).status, 0);
      for (const pid of pids) {
        for (let n = 0; n < 50 && fs.existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')); n++) await new Promise((r) => setTimeout(r, 20));
        assert.ok(!fs.existsSync(`/proc/${pid}`) || /State:\s+Z/.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')), `pid ${pid} ended`);
      }
      assert.notEqual(run(SERVICE_ALIVE_SCRIPT, [pidfile]).status, 0, 'stopped');
    } finally {
      if (fs.existsSync(pidfile)) run(SERVICE_STOP_SCRIPT, [pidfile]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
