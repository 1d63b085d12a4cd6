/**
 * helm, for the chart's tests (test/unit/chart.test.ts, test/integration/chart-cluster.test.ts)
 * and for an operator who has none: built from its Go module (helm.sh/helm/v3, Apache-2.0) once
 * per pinned version into the cache the Kubernetes test tools share
 * (`$XDG_CACHE_HOME/atelier/kube/`, else `~/.cache/atelier/kube/`). Cold (nothing in Go's caches)
 * the build took 2 min 26 s on 2 cores, and up to 5 min while other builds shared the machine; a
 * cached helm costs nothing.
 *
 * Usage: node server/cli/helm-tool.ts   → prints the path of helm, building it first if needed.
 */
import { join } from 'node:path';
import { atelierCache, ensureGoTool } from './go-tool.ts';

export const helmModule = 'helm.sh/helm/v3';
export const helmVersion = 'v3.22.0';

export function kubeToolsCache(env: NodeJS.ProcessEnv = process.env): string {
  return join(atelierCache(env), 'kube');
}

/** Where the pinned helm lives once built; the version is in the path, so a new pin builds anew. */
export function helmPath(cache = kubeToolsCache()): string {
  return join(cache, `helm-${helmVersion}`, 'helm');
}

export function ensureHelm(cache = kubeToolsCache(), log?: (line: string) => void): Promise<string> {
  return ensureGoTool({ package: `${helmModule}/cmd/helm@${helmVersion}`, target: helmPath(cache), note: 'about 2.5 min the first time on 2 cores' }, log);
}

if (import.meta.main) {
  try {
    process.stdout.write(`${await ensureHelm()}\n`);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
}
