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

function observe(check: CheckDefinition, context: CheckContext): Promise<Observation> {
  switch (check.kind) {
    case 'file':
      return runFileCheck(check, context);
    case 'shell':
      return runShellCheck(check, context);
    case 'git.pushed':
      return runGitPushedCheck(check, context);
    case 's3.object':
      return runS3ObjectCheck(check, context);
  }
}

function expectedOf(check: CheckDefinition, context: CheckContext): string {
  switch (check.kind) {
    case 'file':
      return fileExpected(check, context);
    case 'shell':
      return shellExpected(check, context);
    case 'git.pushed':
      return gitPushedExpected(check, context);
    case 's3.object':
      return s3ObjectExpected(check, context);
  }
}

export async function runCheck(id: string, check: CheckDefinition, context: CheckContext): Promise<CheckResult> {
  let observation: Observation;
  try {
    observation = await observe(check, context);
  } catch (error) {
    if (!(error instanceof CheckTimeout)) throw error;
    observation = { ok: false, expected: expectedOf(check, context), found: context.t('checks.found.timeout') };
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
