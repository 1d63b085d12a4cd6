/**
 * helm, for the chart's tests (test/unit/chart.test.ts) and for an operator who has none: built
 * from its Go module (helm.sh/helm/v3, Apache-2.0) by the Go toolchain, since no prebuilt binary
 * can be downloaded on these machines, once per pinned version, into the cache the Kubernetes test
 * tools share (`$XDG_CACHE_HOME/atelier/kube/`, else `~/.cache/atelier/kube/`). Go's own module and
 * build caches stay where Go keeps them, so a rebuild after a version change is quick.
 * Cold (nothing in Go's caches) the build took 2 min 26 s on 2 cores, and 2 to 4 min while other
 * builds shared the machine; a cached helm costs nothing.
 *
 * Usage: node server/cli/helm-tool.ts   → prints the path of helm, building it first if needed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const helmModule = 'helm.sh/helm/v3';
export const helmVersion = 'v3.22.0';

const progressEveryMs = 20_000;

export function kubeToolsCache(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'atelier', 'kube');
}

/** Where the pinned helm lives once built; the version is in the path, so a new pin builds anew. */
export function helmPath(cache = kubeToolsCache()): string {
  return join(cache, `helm-${helmVersion}`, 'helm');
}

/** The Go toolchain: on the PATH, or where Go's own archive installs it. */
function goCommand(): string | undefined {
  for (const candidate of ['go', '/usr/local/go/bin/go']) {
    if (spawnSync(candidate, ['version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

/**
 * The path of the pinned helm, built first when it is not in the cache. Two processes building at
 * once each build in a directory of their own and rename it into place: the first one wins, and
 * neither ever sees half a binary.
 */
export async function ensureHelm(cache = kubeToolsCache(), log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<string> {
  const target = helmPath(cache);
  if (existsSync(target)) return target;
  const go = goCommand();
  if (!go) throw new Error(`helm ${helmVersion} is built from its Go module, and no Go toolchain was found (go on the PATH or /usr/local/go/bin/go)`);
  mkdirSync(cache, { recursive: true });
  const building = mkdtempSync(join(cache, `helm-${helmVersion}.building-`));
  const started = Date.now();
  log(`Building helm ${helmVersion} from ${helmModule} into ${target} (about 2.5 min the first time on 2 cores)…`);
  const ticker = setInterval(() => log(`  helm: building, ${Math.round((Date.now() - started) / 1000)} s elapsed…`), progressEveryMs);
  try {
    await new Promise<void>((resolve, reject) => {
      // GOTOOLCHAIN=local: build with the Go that is here rather than fetch another one.
      const env = { ...process.env, GOBIN: building, GOTOOLCHAIN: 'local', CGO_ENABLED: '0' };
      const child = spawn(go, ['install', '-trimpath', '-ldflags=-s -w', `${helmModule}/cmd/helm@${helmVersion}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      const keep = (chunk: Buffer) => (text = (text + chunk.toString('utf8')).slice(-8000));
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.once('error', reject);
      child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`go install ${helmModule}/cmd/helm@${helmVersion} failed (${signal ?? `exit ${code}`}):\n${text.trim().split('\n').slice(-30).join('\n')}`))));
    });
    mkdirSync(join(cache, `helm-${helmVersion}`), { recursive: true });
    if (!existsSync(target)) renameSync(join(building, 'helm'), target);
  } finally {
    clearInterval(ticker);
    rmSync(building, { recursive: true, force: true });
  }
  log(`helm ${helmVersion} ready in ${target} (built in ${Math.round((Date.now() - started) / 1000)} s).`);
  return target;
}

if (import.meta.main) {
  try {
    process.stdout.write(`${await ensureHelm()}\n`);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
}
