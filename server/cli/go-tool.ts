/**
 * Programs built from Go source with the Go toolchain, since no prebuilt binary can be fetched on
 * these machines: `go install` of a package (a module at a pinned version, or a module of this
 * repository) into a cache directory named after what it was built from, once. Go's own module
 * and build caches stay where Go keeps them, so a rebuild after a version change is quick.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

const progressEveryMs = 20_000;

/** `$XDG_CACHE_HOME/atelier`, else `~/.cache/atelier`: what the project builds for itself. */
export function atelierCache(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'atelier');
}

/** The Go toolchain: on the PATH, or where Go's own archive installs it. */
function goCommand(): string | undefined {
  for (const candidate of ['go', '/usr/local/go/bin/go']) {
    if (spawnSync(candidate, ['version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

export interface GoTool {
  /** What `go install` takes: `module/cmd/x@version`, or `.` in `cwd`. */
  package: string;
  /** The binary's path once built; its directory names what it was built from. */
  target: string;
  /** A module of this repository to build in. */
  cwd?: string;
  /** For the first line of the log, e.g. how long a cold build takes. */
  note?: string;
}

/**
 * The tool's path, built first when it is not there. Two processes building at once each build
 * in a directory of their own and rename the binary into place: neither ever sees half a binary.
 */
export async function ensureGoTool(tool: GoTool, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<string> {
  if (existsSync(tool.target)) return tool.target;
  const go = goCommand();
  const name = tool.target.slice(dirname(tool.target).length + 1);
  if (!go) throw new Error(`${name} is built from Go source (${tool.package}), and no Go toolchain was found (go on the PATH or /usr/local/go/bin/go)`);
  mkdirSync(dirname(tool.target), { recursive: true });
  const building = mkdtempSync(`${dirname(tool.target)}.building-`);
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 1000);
  log(`Building ${name} (${tool.package}) into ${tool.target}${tool.note ? ` (${tool.note})` : ''}…`);
  const ticker = setInterval(() => log(`  ${name}: building, ${seconds()} s elapsed…`), progressEveryMs);
  try {
    await new Promise<void>((resolve, reject) => {
      // GOTOOLCHAIN=local: build with the Go that is here rather than fetch another one.
      const env = { ...process.env, GOBIN: building, GOTOOLCHAIN: 'local', CGO_ENABLED: '0' };
      const child = spawn(go, ['install', '-trimpath', '-ldflags=-s -w', tool.package], { env, cwd: tool.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      const keep = (chunk: Buffer) => (text = (text + chunk.toString('utf8')).slice(-8000));
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        code === 0 ? resolve() : reject(new Error(`go install ${tool.package} failed (${signal ?? `exit ${code}`}):\n${text.trim().split('\n').slice(-30).join('\n')}`)),
      );
    });
    if (!existsSync(tool.target)) renameSync(join(building, name), tool.target);
  } finally {
    clearInterval(ticker);
    rmSync(building, { recursive: true, force: true });
  }
  log(`${name} ready in ${tool.target} (built in ${seconds()} s).`);
  return tool.target;
}
