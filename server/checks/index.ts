/**
 * Runs a lab's check by its kind (one file per kind) and words the result in the learner's
 * language: one sentence saying what the check found, then the lab's hint. A failing check is a
 * normal result (ok: false), not an error. A pass is remembered with the lab instance it ran in
 * (see requires.ts).
 */
import type { CheckDefinition } from '../labs/schema.ts';
import { fileExpected, runFileCheck } from './file.ts';
import { runShellCheck, shellExpected } from './shell.ts';
import { gitPushedExpected, runGitPushedCheck } from './git-pushed.ts';
import { gitClonedExpected, runGitClonedCheck } from './git-cloned.ts';
import { runS3ObjectCheck, s3ObjectExpected } from './s3-object.ts';
import { envExpected, runEnvCheck } from './env.ts';
import { notebookExpected, runNotebookCheck } from './notebook.ts';
import { unmetRequirement } from './requires.ts';
import { CheckTimeout, type CheckContext, type CheckResult, type Observation } from './types.ts';
import { checkResults } from '../metrics.ts';

export { labInstance, type CheckContext, type CheckResult, type LearnerEvidence } from './types.ts';
export { resolveLabPath, typeFromMode, fileExpected, nameAndFolder } from './file.ts';
export { shellExpected } from './shell.ts';
export { repositoryUrl } from './git-cloned.ts';
export { describeScan, parseScan, notebookExpected } from './notebook.ts';

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
  'git.cloned': { run: runGitClonedCheck, expected: gitClonedExpected },
  's3.object': { run: runS3ObjectCheck, expected: s3ObjectExpected },
  env: { run: runEnvCheck, expected: envExpected },
  notebook: { run: runNotebookCheck, expected: notebookExpected },
};

/** The entry of the check's own kind (TypeScript cannot pair the union with the mapped type by itself). */
function kindOf(check: CheckDefinition): { run(check: CheckDefinition, context: CheckContext): Promise<Observation>; expected(check: CheckDefinition, context: CheckContext): string } {
  return kinds[check.kind] as never;
}

/**
 * Runs check `id` of the lab (`checks` is the lab's whole set: a precondition names another one)
 * and, when it passes, records the lab instance it passed in.
 */
export async function runCheck(id: string, checks: Record<string, CheckDefinition>, context: CheckContext): Promise<CheckResult> {
  const check = checks[id]!;
  const expected = () => kindOf(check).expected(check, context);
  let observation: Observation;
  const required = check.requires && checks[check.requires.check];
  const unmet = required && (await unmetRequirement(check, context, () => kindOf(required).expected(required, context)));
  if (unmet) {
    observation = { ok: false, expected: expected(), found: unmet };
  } else {
    try {
      observation = await kindOf(check).run(check, context);
    } catch (error) {
      if (!(error instanceof CheckTimeout)) throw error;
      observation = { ok: false, expected: expected(), found: context.t('checks.timeout') };
    }
  }
  if (observation.ok) await context.learner?.passes.record(context.lab.id, id, context.lab.instance);
  checkResults.inc({ kind: check.kind, result: observation.ok ? 'passed' : 'failed' });
  return describeResult(id, check, observation, context);
}

/** The API's result: the observation plus the check's hint (on failure) and the sentence the page shows. */
export function describeResult(id: string, check: CheckDefinition, observation: Observation, context: Pick<CheckContext, 't' | 'language'>): CheckResult {
  const { t, language } = context;
  const hint = observation.ok ? undefined : check.hint?.[language];
  const message = observation.ok ? t('steps.passed') : hint ? `${observation.found} ${t('checks.hint', { hint })}` : observation.found;
  return { check: id, ok: observation.ok, expected: observation.expected, found: observation.found, ...(hint ? { hint } : {}), message };
}
