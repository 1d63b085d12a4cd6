/**
 * The Helm chart (deploy/chart/atelier) rendered by a real helm (server/cli/helm-tool.ts builds
 * and caches it), as parsed manifests, for the tests that read them back or send them to an API
 * server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ensureHelm } from '../../server/cli/helm-tool.ts';
import { projectRoot } from '../../server/config.ts';

const run = promisify(execFile);
export const chart = join(projectRoot, 'deploy', 'chart', 'atelier');
/** A school's complete values: three replicas, PostgreSQL and S3 from the school's Secrets. */
export const school = join(chart, 'examples', 'school.yaml');
export const release = 'atelier';
export const namespace = 'atelier';
// The chart needs 1.30 (exec v5); helm template alone assumes an old cluster.
const kubeVersion = '1.33.0';

/** A rendered object; its spec is read field by field, as the assertions need. */
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [field: string]: any };

export async function helmRun(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const helm = await ensureHelm();
  try {
    const { stdout, stderr } = await run(helm, args, { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const template = (args: string[]) => helmRun(['template', release, chart, '--namespace', namespace, '--kube-version', kubeVersion, ...args]);

/** `helm lint --strict` with these extra arguments (values files, --set). */
export const lint = (...args: string[]) => helmRun(['lint', chart, '--strict', '--kube-version', kubeVersion, ...args]);

/** `helm template` with these extra arguments, as manifests; fails the test when helm refuses. */
export async function render(...args: string[]): Promise<Manifest[]> {
  const result = await template(args);
  assert.equal(result.code, 0, `helm template ${args.join(' ')} failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((document) => {
      assert.deepEqual(document.errors, [], 'helm printed YAML that does not parse');
      return document.toJS() as Manifest | null;
    })
    .filter((manifest): manifest is Manifest => manifest !== null);
}

/** helm's message when it refuses to render; fails the test when it renders. */
export async function refusal(...args: string[]): Promise<string> {
  const result = await template(args);
  assert.notEqual(result.code, 0, `helm template ${args.join(' ')} rendered, and should have refused`);
  return result.stderr;
}

export function only(manifests: Manifest[], kind: string): Manifest {
  const found = manifests.filter((manifest) => manifest.kind === kind);
  assert.equal(found.length, 1, `${found.length} ${kind} rendered, expected 1`);
  return found[0]!;
}
