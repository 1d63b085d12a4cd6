/**
 * The Kubernetes control plane of the tests (test/helpers/kube-cluster.ts), with no container
 * engine: kube-apiserver, kube-controller-manager and kube-scheduler built from the
 * k8s.io/kubernetes Go module, etcd from go.etcd.io/etcd/server/v3, and KWOK (sigs.k8s.io/kwok),
 * which plays the nodes and the pods' lifecycle. The versions are pinned in test/kube/versions.json.
 *
 * k8s.io/kubernetes is not meant to be required: its go.mod names its k8s.io/* staging modules
 * v0.0.0 and points them at its own tree, and a dependency's replace directives do not apply. So a
 * small wrapper module, written under the cache, requires it and replaces each staging module by
 * its published release (v0.N.M for vN.M); KWOK gets a wrapper of its own, since it pins other
 * releases of the same modules. The Go module and build caches stay Go's own, so a rebuild after a
 * version change recompiles only what changed. The binaries land in
 * `$XDG_CACHE_HOME/atelier/kube/<versions>/` (`~/.cache` without it) with a stamp; a run that finds
 * the stamp does nothing and says so.
 *
 * Run by `node server/cli/setup.ts --test`, or alone: `node server/cli/kube-tools.ts`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../config.ts';
import { formatDuration, tail } from './code-server.ts';

export interface KubeVersions {
  kubernetes: string;
  etcd: string;
  kwok: string;
}

export interface KubeTools {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kwok: string;
  /** KWOK's own Stage manifests for nodes and pods (its "fast" set), one YAML file each. */
  stages: string[];
}

const buildTimeoutMs = 45 * 60_000;
const progressEveryMs = 20_000;
const logTailLines = 30;

/** The Kubernetes commands built from k8s.io/kubernetes, named as their binaries. */
const kubernetesCommands = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;

/**
 * KWOK's stages as kwokctl uses them by default: nodes become Ready and renew their lease, pods go
 * Running with an IP, complete and are deleted. Paths in the KWOK module.
 */
const kwokStages = [
  'kustomize/stage/node/fast/node-initialize.yaml',
  'kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'kustomize/stage/pod/fast/pod-ready.yaml',
  'kustomize/stage/pod/fast/pod-complete.yaml',
  'kustomize/stage/pod/fast/pod-delete.yaml',
];

export function readKubeVersions(file = join(projectRoot, 'test', 'kube', 'versions.json')): KubeVersions {
  return JSON.parse(readFileSync(file, 'utf8')) as KubeVersions;
}

export function kubeToolsDir(versions: KubeVersions = readKubeVersions()): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'atelier', 'kube', `kubernetes-${versions.kubernetes}_etcd-${versions.etcd}_kwok-${versions.kwok}`);
}

function toolPaths(dir: string): KubeTools {
  const bin = (name: string) => join(dir, 'bin', name);
  return {
    etcd: bin('etcd'),
    kubeApiserver: bin('kube-apiserver'),
    kubeControllerManager: bin('kube-controller-manager'),
    kubeScheduler: bin('kube-scheduler'),
    kwok: bin('kwok'),
    stages: kwokStages.map((path) => join(dir, 'stages', path.split('/').at(-1)!)),
  };
}

const stampFile = (dir: string) => join(dir, 'stamp.json');

/** The tools built for these versions, or undefined when they are not (or not completely) there. */
export function kubeTools(versions: KubeVersions = readKubeVersions()): KubeTools | undefined {
  const dir = kubeToolsDir(versions);
  try {
    const stamp = JSON.parse(readFileSync(stampFile(dir), 'utf8')) as { versions: KubeVersions };
    if (JSON.stringify(stamp.versions) !== JSON.stringify(versions)) return undefined;
  } catch {
    return undefined;
  }
  const tools = toolPaths(dir);
  const files = [tools.etcd, tools.kubeApiserver, tools.kubeControllerManager, tools.kubeScheduler, tools.kwok, ...tools.stages];
  return files.every((file) => existsSync(file)) ? tools : undefined;
}

/**
 * Builds the tools unless they are there; logs what it does, a line every 20 s while Go works, and
 * the tail of Go's output on failure (all of it in `<dir>.build.log`).
 */
export async function ensureKubeTools(versions: KubeVersions = readKubeVersions(), log: (line: string) => void = console.log): Promise<KubeTools> {
  const started = Date.now();
  const ready = kubeTools(versions);
  const target = kubeToolsDir(versions);
  if (ready) {
    log(`Kubernetes test tools up to date in ${target} (checked in ${Date.now() - started} ms).`);
    return ready;
  }
  log(
    `Building the Kubernetes test control plane (kube-apiserver, kube-controller-manager, kube-scheduler ${versions.kubernetes}, ` +
      `etcd ${versions.etcd}, KWOK ${versions.kwok}) with Go into ${target}: the first time takes 10 to 20 min on 2 cores (14 min of CPU), later runs reuse it.`,
  );
  const building = `${target}.new`;
  const logFile = `${target}.build.log`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(join(building, 'bin'), { recursive: true });
  const logFd = openSync(logFile, 'w');
  const deadline = started + buildTimeoutMs;
  const go = (step: string, args: string[], cwd: string) =>
    runGo(args, { cwd, logFd, deadline, progress: () => log(`  Kubernetes test tools: ${step}, ${formatDuration(Date.now() - started)} elapsed…`) });
  try {
    const kubernetesDir = join(building, 'src', 'kubernetes');
    const kwokDir = join(building, 'src', 'kwok');
    mkdirSync(kubernetesDir, { recursive: true });
    mkdirSync(kwokDir, { recursive: true });
    const kubernetesModule = await downloadModule('k8s.io/kubernetes', versions.kubernetes, go);
    writeFileSync(join(kubernetesDir, 'go.mod'), kubernetesWrapper(versions, readFileSync(kubernetesModule.GoMod, 'utf8')));
    const kubeVersion = versions.kubernetes.slice(1).split('.');
    // Unstamped, the binaries say v0.0.0-master, and clients that look at /version see no release.
    const stamped = [
      `-X k8s.io/component-base/version.gitVersion=${versions.kubernetes}`,
      `-X k8s.io/component-base/version.gitMajor=${kubeVersion[0]}`,
      `-X k8s.io/component-base/version.gitMinor=${kubeVersion[1]}`,
      '-X k8s.io/component-base/version.gitTreeState=clean',
    ].join(' ');
    await go(
      `compiling Kubernetes ${versions.kubernetes} and etcd ${versions.etcd}`,
      ['build', ...buildFlags(stamped), '-o', join(building, 'bin') + '/', ...kubernetesCommands.map((name) => `k8s.io/kubernetes/cmd/${name}`), 'go.etcd.io/etcd/server/v3'],
      kubernetesDir,
    );
    // Go names the binary of a module path ending in a major version after the element before it.
    renameSync(join(building, 'bin', 'server'), join(building, 'bin', 'etcd'));
    const etcdChosen = execFileSync('go', ['list', '-m', '-f', '{{.Version}}', 'go.etcd.io/etcd/server/v3'], { cwd: kubernetesDir, encoding: 'utf8', env: goEnv() }).trim();
    if (etcdChosen !== versions.etcd) throw new Error(`Kubernetes ${versions.kubernetes} requires etcd ${etcdChosen}: pin that in test/kube/versions.json`);

    const kwokModule = await downloadModule('sigs.k8s.io/kwok', versions.kwok, go);
    writeFileSync(join(kwokDir, 'go.mod'), `module atelier.local/kwok\n\ngo 1.26.0\n\nrequire sigs.k8s.io/kwok ${versions.kwok}\n`);
    await go(`compiling KWOK ${versions.kwok}`, ['build', ...buildFlags(''), '-o', join(building, 'bin', 'kwok'), 'sigs.k8s.io/kwok/cmd/kwok'], kwokDir);
    mkdirSync(join(building, 'stages'));
    for (const path of kwokStages) cpSync(join(kwokModule.Dir, path), join(building, 'stages', path.split('/').at(-1)!));

    checkVersions(toolPaths(building), versions);
    writeFileSync(stampFile(building), `${JSON.stringify({ versions, builtIn: Date.now() - started }, null, 2)}\n`);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    log(`Last ${logTailLines} lines of ${logFile}:\n${tail(logFile, logTailLines)}`);
    throw new Error(`Could not build the Kubernetes test tools: ${(error as Error).message}; Go's output is in ${logFile}.`);
  } finally {
    closeSync(logFd);
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(building, target);
  log(`Kubernetes test tools ready in ${target} (built in ${formatDuration(Date.now() - started)}).`);
  return toolPaths(target);
}

/**
 * The wrapper's go.mod: k8s.io/kubernetes and the pinned etcd, each staging module that
 * Kubernetes requires replaced by the release matching the Kubernetes version.
 */
export function kubernetesWrapper(versions: KubeVersions, kubernetesGoMod: string): string {
  const [, minor, patch] = versions.kubernetes.slice(1).split('.');
  const staging = [...kubernetesGoMod.matchAll(/^\s*(?:replace\s+)?(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)].map((match) => match[1]);
  const required = new Set([...kubernetesGoMod.matchAll(/^\s*(?:require\s+)?(k8s\.io\/[\w.-]+)\s+v0\.0\.0\b/gm)].map((match) => match[1]));
  const replaced = staging.filter((module) => required.has(module));
  if (replaced.length === 0) throw new Error(`k8s.io/kubernetes ${versions.kubernetes}'s go.mod names no staging module`);
  // Kubernetes vN.M's staging modules are published as v0.N.M.
  const release = `v0.${minor}.${patch}`;
  return [
    'module atelier.local/kubernetes',
    '',
    'go 1.26.0',
    '',
    'require (',
    `\tgo.etcd.io/etcd/server/v3 ${versions.etcd}`,
    `\tk8s.io/kubernetes ${versions.kubernetes}`,
    ')',
    '',
    'replace (',
    ...replaced.map((module) => `\t${module} => ${module} ${release}`),
    ')',
    '',
  ].join('\n');
}

function buildFlags(ldflags: string): string[] {
  return ['-trimpath', `-ldflags=-s -w ${ldflags}`.trim()];
}

/** Go's environment: resolving the wrappers' requirements is part of the build. */
function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=mod`.trim() };
}

type Go = (step: string, args: string[], cwd: string) => Promise<string>;

async function downloadModule(module: string, version: string, go: Go): Promise<{ Dir: string; GoMod: string }> {
  const output = await go(`downloading ${module} ${version}`, ['mod', 'download', '-json', `${module}@${version}`], projectRoot);
  const info = JSON.parse(output) as { Dir?: string; GoMod?: string; Error?: string };
  if (!info.Dir || !info.GoMod) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? 'no module directory'}`);
  return { Dir: info.Dir, GoMod: info.GoMod };
}

interface GoRun {
  cwd: string;
  logFd: number;
  deadline: number;
  progress: () => void;
}

/** One go command, stderr to the log file, progress every 20 s; resolves with its stdout. */
function runGo(args: string[], run: GoRun): Promise<string> {
  writeFileSync(run.logFd, `\n$ go ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, { cwd: run.cwd, env: goEnv(), stdio: ['ignore', 'pipe', run.logFd] });
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      writeFileSync(run.logFd, chunk);
    });
    const ticker = setInterval(run.progress, progressEveryMs);
    const timer = setTimeout(() => child.kill('SIGTERM'), Math.max(0, run.deadline - Date.now()));
    child.once('error', (error) => finish(`could not run go (${error.message}): Go 1.26 or later must be on PATH`));
    child.once('close', (code, signal) => {
      if (code === 0) finish();
      else if (Date.now() >= run.deadline) finish(`go ${args[0]} did not finish within ${formatDuration(buildTimeoutMs)}`);
      else finish(`go ${args.join(' ')} failed (${signal ?? `exit ${code}`})`);
    });
    function finish(failure?: string): void {
      clearInterval(ticker);
      clearTimeout(timer);
      if (failure) reject(new Error(failure));
      else resolve(stdout);
    }
  });
}

/** Each binary runs and says the pinned version. */
function checkVersions(tools: KubeTools, versions: KubeVersions): void {
  const says = (binary: string, expected: string) => {
    let output: string;
    try {
      output = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      throw new Error(`the built ${binary} does not start (${(error as Error).message.split('\n')[0]})`);
    }
    if (!output.includes(expected)) throw new Error(`the built ${binary} does not say ${expected} (it said ${JSON.stringify(output.trim().slice(0, 200))})`);
  };
  for (const binary of [tools.kubeApiserver, tools.kubeControllerManager, tools.kubeScheduler]) says(binary, `Kubernetes ${versions.kubernetes}`);
  says(tools.etcd, `etcd Version: ${versions.etcd.slice(1)}`);
  says(tools.kwok, versions.kwok.slice(1));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await ensureKubeTools();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
