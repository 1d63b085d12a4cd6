/**
 * Runs a lab's check by its kind (one file per kind) and words the result in the learner's
 * language. A failing check is a normal result (ok: false), not an error.
 */
import type { CheckDefinition } from '../labs/schema.ts';
import { fileExpected, runFileCheck } from './file.ts';
import { runShellCheck, shellExpected } from './shell.ts';
import { gitPushedExpected, runGitPushedCheck } from './git-pushed.ts';
import { runS3ObjectCheck, s3ObjectExpected } from './s3-object.ts';
import { CheckTimeout, type CheckContext, type CheckResult, type Observation } from './types.ts';
import { checkResults } from '../metrics.ts';

export { type CheckContext, type CheckResult } from './types.ts';
export { resolveLabPath, typeFromMode, fileExpected } from './file.ts';
export { shellExpected } from './shell.ts';

/** Default upper bound for one check's commands (ms). */
export const defaultCheckTimeout = 10_000;

/** One entry per check kind: how it looks at the lab, and what it expects, in words. */
type Kinds = {
  [K in CheckDefinition['kind']]: {
    run(check: Extract<CheckDefinition, { kind: K }>, context: CheckContext): Promise<Observation>;
    expected(check: Extract<CheckDefinition, { kind: K }>, context: CheckContext): string;
  };
};

const kinds: Kinds = {
  file: { run: runFileCheck, expected: fileExpected },
  shell: { run: runShellCheck, expected: shellExpected },
  'git.pushed': { run: runGitPushedCheck, expected: gitPushedExpected },
  's3.object': { run: runS3ObjectCheck, expected: s3ObjectExpected },
};

/** The entry of the check's own kind (TypeScript cannot pair the union with the mapped type by itself). */
function kindOf(check: CheckDefinition): { run(check: CheckDefinition, context: CheckContext): Promise<Observation>; expected(check: CheckDefinition, context: CheckContext): string } {
  return kinds[check.kind] as never;
}

export async function runCheck(id: string, check: CheckDefinition, context: CheckContext): Promise<CheckResult> {
  let observation: Observation;
  try {
    observation = await kindOf(check).run(check, context);
  } catch (error) {
    if (!(error instanceof CheckTimeout)) throw error;
    observation = { ok: false, expected: kindOf(check).expected(check, context), found: context.t('checks.found.timeout') };
  }
  checkResults.inc({ kind: check.kind, result: observation.ok ? 'passed' : 'failed' });
  return describeResult(id, check, observation, context);
}

/** The API's result: the observation plus the check's hint (on failure) and a sentence. */
export function describeResult(id: string, check: CheckDefinition, observation: Observation, context: Pick<CheckContext, 't' | 'language'>): CheckResult {
  const { t, language } = context;
  const hint = observation.ok ? undefined : check.hint?.[language];
  const message = observation.ok
    ? t('steps.passed')
    : t('steps.failed', { expected: observation.expected, found: observation.found }) + (hint ? ` ${t('steps.hint', { hint })}` : '');
  return { check: id, ok: observation.ok, expected: observation.expected, found: observation.found, ...(hint ? { hint } : {}), message };
}
