/**
 * Installs the system tools the platform runs on, from Debian's packages, when they are missing:
 * bubblewrap and util-linux for the sandboxes, git for the forge, the tools labs offer their
 * learners (python3 with boto3, which the labs' mc uses; awscli; s3cmd; curl), and (with --test)
 * Chromium for the end-to-end tests and PostgreSQL for the learner store's; then the labs' Python environment (lab-python.ts) and, unless
 * ATELIER_VSCODE=off, VS Code for labs with what its native modules build with (code-server.ts);
 * with --test, the tests' Kubernetes control plane (kube-tools.ts) and helm (helm-tool.ts), built with Go.
 * Prints what it does; changes nothing when all is there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../config.ts';
import { ensureCodeServer } from './code-server.ts';
import { vscodeWanted } from '../services/code-server-install.ts';
import { ensureLabPython } from './lab-python.ts';
import { ensureKubeTools } from './kube-tools.ts';
import { ensureHelm } from './helm-tool.ts';

interface Tool {
  /** A command whose presence tells the package is installed. */
  command: string;
  /** Or a shell probe, for what is not a command (a Python module). */
  probe?: string;
  debianPackage: string;
  why: string;
}

const runtimeTools: Tool[] = [
  { command: 'bwrap', debianPackage: 'bubblewrap', why: 'lab sandboxes' },
  { command: 'setpriv', debianPackage: 'util-linux', why: 'dropping lab privileges' },
  { command: 'nsenter', debianPackage: 'util-linux', why: 'entering lab sandboxes' },
  { command: 'prlimit', debianPackage: 'util-linux', why: 'per-lab resource limits' },
  { command: 'git', debianPackage: 'git', why: 'the lab forge' },
  { command: 'perl', debianPackage: 'perl-base', why: 'entering lab sandboxes' },
  { command: 'python3', probe: "/usr/bin/python3 -c 'import seccomp'", debianPackage: 'python3-seccomp', why: "compiling the labs' seccomp filter (libseccomp)" },
  { command: 'python3', probe: "/usr/bin/python3 -c 'import boto3'", debianPackage: 'python3-boto3', why: 'mc and Python in labs' },
  { command: 'aws', probe: 'test -x /usr/bin/aws', debianPackage: 'awscli', why: 'the AWS CLI in labs' },
  { command: 's3cmd', probe: 'test -x /usr/bin/s3cmd', debianPackage: 's3cmd', why: 's3cmd in labs' },
  { command: 'curl', probe: 'test -x /usr/bin/curl', debianPackage: 'curl', why: 'curl in labs' },
  { command: 'openssl', debianPackage: 'openssl', why: "the lab gateway's TLS certificate" },
  { command: 'python3', probe: "/usr/bin/python3 -c 'import ensurepip, venv'", debianPackage: 'python3-venv', why: "the labs' Python environment" },
];

const testTools: Tool[] = [
  { command: 'chromium', debianPackage: 'chromium', why: 'end-to-end tests' },
  // Debian keeps the server's programs off PATH, one directory per major version.
  { command: 'initdb', probe: 'ls /usr/lib/postgresql/*/bin/initdb', debianPackage: 'postgresql', why: 'the learner store tests on PostgreSQL' },
];

/** A Debian package that brings no command (headers for a native build): installed, not just known. */
const debianInstalled = (name: string) => `dpkg-query -W -f='\${Status}' ${name} 2>/dev/null | grep -q 'ok installed'`;

/** What code-server's native modules (node-gyp) build with; the labs then use the libraries they bring. */
const codeServerBuildTools: Tool[] = [
  { command: 'g++', probe: 'command -v g++ && command -v make', debianPackage: 'build-essential', why: "building VS Code's native modules" },
  ...['libkrb5-dev', 'libx11-dev', 'libxkbfile-dev', 'libsecret-1-dev'].map((name) => ({
    command: name,
    probe: debianInstalled(name),
    debianPackage: name,
    why: "building VS Code's native modules",
  })),
];

let withVscode: boolean;
try {
  withVscode = vscodeWanted();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

/** Labs see the host's /usr only: what they use must be there, not in a user's PATH. */
function present(tool: Tool): boolean {
  return spawnSync('sh', ['-c', tool.probe ?? `command -v ${tool.command}`], { stdio: 'ignore' }).status === 0;
}

const wanted = [...runtimeTools, ...(withVscode ? codeServerBuildTools : []), ...(process.argv.includes('--test') ? testTools : [])];
const missing = wanted.filter((tool) => !present(tool));

/** The labs' Python environment (aws v1…), from pinned requirements, rebuilt when they change. */
function labPython(): void {
  try {
    ensureLabPython(join(projectRoot, 'labs', 'tools', 'python', 'requirements.txt'));
  } catch {
    console.error("Could not build the labs' Python environment (pip output above); fix it and start again.");
    process.exit(1);
  }
}

/** VS Code for labs, from the versions pinned in labs/tools/code-server, reinstalled when they change. */
async function codeServer(): Promise<void> {
  if (!withVscode) {
    console.log('VS Code for labs skipped (ATELIER_VSCODE=off): labs will not offer it.');
    return;
  }
  try {
    await ensureCodeServer();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

/** The tests' Kubernetes control plane (kube-apiserver, etcd, KWOK…) and helm for the chart's tests, built with Go once and cached. */
async function kubeTools(): Promise<void> {
  if (!process.argv.includes('--test')) return;
  try {
    await ensureKubeTools();
    await ensureHelm(undefined, console.log);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

if (missing.length === 0) {
  labPython();
  await codeServer();
  await kubeTools();
  process.exit(0);
}

const packages = [...new Set(missing.map((tool) => tool.debianPackage))];
const reasons = missing.map((tool) => `${tool.command} (${tool.why})`).join(', ');
if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
  console.error(`Atelier needs ${reasons}. Install the Debian packages: sudo apt-get install -y ${packages.join(' ')}`);
  process.exit(1);
}
console.log(`Installing ${packages.join(', ')} for ${reasons}…`);
try {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
} catch {
  console.error(`Could not install ${packages.join(' ')} with apt-get; install them and start again.`);
  process.exit(1);
}
const stillMissing = wanted.filter((tool) => !present(tool));
if (stillMissing.length > 0) {
  console.error(`Still missing after installation: ${stillMissing.map((tool) => tool.command).join(', ')}`);
  process.exit(1);
}
console.log('System tools ready.');
labPython();
await codeServer();
await kubeTools();
