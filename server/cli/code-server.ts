/**
 * VS Code for labs: code-server and the Node it needs (code-server pins a Node major, not the
 * project's), installed from the npm registry into LAB_CODE_SERVER_DIR, which every lab binds
 * read-only (see sandbox-args.ts). The versions are pinned in one place, labs/tools/code-server
 * (package.json and its package-lock.json, so the install is `npm ci`, reproducible); a stamp
 * holds their hash with the machine's architecture, and the install runs again only when it
 * changes.
 *
 * Built in a sibling directory renamed into place at the end, not in place: nothing in it names
 * its own path (npm's links are relative), and so the previous install stays whole and usable
 * until the new one is complete; a failed or interrupted build leaves it as it was.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LAB_CODE_SERVER_DIR } from '../drivers/local/sandbox-args.ts';
import { codeServerManifest, codeServerPaths, codeServerStamp, codeServerStampFile, codeServerReady, manifestFiles } from '../services/code-server-install.ts';

/** npm's whole run at most; a hung registry or build ends in a failure, not a setup stuck forever. */
const installTimeoutMs = 45 * 60_000;
const progressEveryMs = 20_000;
const logTailLines = 30;

interface Lockfile {
  packages: Record<string, { version?: string; hasInstallScript?: boolean }>;
}

/**
 * Installs code-server unless the install at target is up to date; true when it installed one.
 * Logs one line before (what, where, how long), one every 20 s while npm runs, one at the end;
 * npm's own output goes to `<target>.install.log`, whose last lines are logged on failure.
 */
export async function ensureCodeServer(target = LAB_CODE_SERVER_DIR, log: (line: string) => void = console.log, manifest = codeServerManifest): Promise<boolean> {
  if (codeServerReady(target, manifest)) return false;
  const started = Date.now();
  const building = `${target}.new`;
  const logFile = `${target}.install.log`;
  const lock = JSON.parse(readFileSync(join(manifest, 'package-lock.json'), 'utf8')) as Lockfile;
  const version = (name: string) => lock.packages[`node_modules/${name}`]?.version ?? '?';
  log(
    `Installing VS Code (code-server ${version('code-server')} with Node ${version('node')}) from the npm registry into ${target}: ` +
      `the first time takes several minutes (about 10 on 2 cores), later starts reuse it. ATELIER_VSCODE=off skips it.`,
  );
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { mode: 0o755 });
  for (const file of manifestFiles) copyFileSync(join(manifest, file), join(building, file));
  const logFd = openSync(logFile, 'w', 0o644);
  // Labs run as other users: what npm writes must be readable by all, whatever root's umask.
  const umask = process.umask(0o022);
  try {
    const npm = (step: string, args: string[], path?: string) =>
      runNpm(args, {
        cwd: building,
        logFd,
        path,
        deadline: started + installTimeoutMs,
        progress: () => log(`  VS Code: ${step}, ${formatDuration(Date.now() - started)} elapsed, ${diskMegabytes(building)} MB on disk so far…`),
      });
    // Every package, no script yet: code-server's scripts need the Node 24 that `node`'s own script fetches.
    await npm('downloading packages', ['ci', '--ignore-scripts']);
    await npm('fetching Node', ['rebuild', 'node']);
    const nodeBin = dirname(codeServerPaths(building).node);
    const headers = join(building, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`);
    // The other install scripts (native modules, code-server's own install), run by that Node and
    // built against its headers: the host's npm would otherwise build against the host's Node.
    // Not `node`'s again: it relinks bin/node, the very Node these scripts run on.
    const others = Object.entries(lock.packages)
      .filter(([key, entry]) => entry.hasInstallScript && key !== 'node_modules/node' && !key.startsWith('node_modules/node/'))
      .map(([key]) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length));
    await npm('building native modules', ['rebuild', `--nodedir=${headers}`, ...new Set(others)], `${nodeBin}:${process.env.PATH ?? '/usr/bin:/bin'}`);
    checkVersion(building, version('code-server'));
    writeFileSync(codeServerStampFile(building), `${codeServerStamp(manifest)}\n`, { mode: 0o644 });
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    log(`Last ${logTailLines} lines of ${logFile}:\n${tail(logFile, logTailLines)}`);
    throw new Error(`Could not install VS Code: ${(error as Error).message}; npm's output is in ${logFile}. Fix it and start again, or set ATELIER_VSCODE=off.`);
  } finally {
    process.umask(umask);
    closeSync(logFd);
  }
  const previous = `${target}.previous`;
  rmSync(previous, { recursive: true, force: true });
  if (existsSync(target)) renameSync(target, previous);
  renameSync(building, target);
  rmSync(previous, { recursive: true, force: true });
  log(`VS Code ready in ${target} (installed in ${formatDuration(Date.now() - started)}).`);
  return true;
}

interface NpmRun {
  cwd: string;
  logFd: number;
  /** PATH for npm and its scripts; the caller's by default. */
  path?: string;
  deadline: number;
  progress: () => void;
}

/** One npm command, its output to the log file, progress every 20 s; rejects with a one-line reason. */
function runNpm(args: string[], run: NpmRun): Promise<void> {
  // A clean npm: an `npm start` running setup exports its whole config as npm_config_* (local_prefix:
  // the project; nodedir: the host's Node), which a child npm would take as its own. npmrc files still apply.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
  if (run.path) env.PATH = run.path;
  const argv = [...args, '--no-audit', '--no-fund', '--no-update-notifier', '--foreground-scripts'];
  writeFileSync(run.logFd, `\n$ npm ${argv.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn('npm', argv, { cwd: run.cwd, env, stdio: ['ignore', run.logFd, run.logFd] });
    const ticker = setInterval(run.progress, progressEveryMs);
    // npm forwards SIGTERM to the scripts it runs (node-gyp, make).
    const timer = setTimeout(() => child.kill('SIGTERM'), Math.max(0, run.deadline - Date.now()));
    child.once('error', (error) => finish(`could not run npm (${error.message})`));
    child.once('exit', (code, signal) => {
      if (code === 0) finish();
      else if (Date.now() >= run.deadline) finish(`npm ${args[0]} did not finish within ${formatDuration(installTimeoutMs)}`);
      else finish(`npm ${args.join(' ')} failed (${signal ?? `exit ${code}`})`);
    });
    function finish(failure?: string): void {
      clearInterval(ticker);
      clearTimeout(timer);
      if (failure) reject(new Error(failure));
      else resolve();
    }
  });
}

/** The built code-server must start with its own Node and say the pinned version. */
function checkVersion(dir: string, expected: string): void {
  const { node, entry } = codeServerPaths(dir);
  // It writes a default config file on any start: into a scratch home, not root's.
  const home = mkdtempSync(join(tmpdir(), 'atelier-code-server-'));
  let output: string;
  try {
    output = execFileSync(node, [entry, '--version'], {
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data') },
    });
  } catch (error) {
    throw new Error(`the built code-server does not start (${(error as Error).message.split('\n')[0]})`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  const said = output.split('\n').find((line) => line.startsWith(`${expected} `));
  if (!said) throw new Error(`the built code-server does not say version ${expected} (it said ${JSON.stringify(output.trim().slice(0, 200))})`);
}

function diskMegabytes(dir: string): number {
  try {
    return Number.parseInt(execFileSync('du', ['-sm', dir], { encoding: 'utf8', timeout: 10_000 }), 10);
  } catch {
    return 0; // a file npm removed while du walked: the next tick counts again
  }
}

export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}
