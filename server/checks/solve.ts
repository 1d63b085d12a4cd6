/**
 * A check's `solve` script (lab.yaml), run in the lab as the learner: what "Skip this step" and
 * "Rebuild my lab up to this step" do before running the check itself. The check, not the
 * script's exit status, says whether the step is done.
 */
import { inLanguage, type CheckDefinition } from '../labs/schema.ts';
import { CheckTimeout, execWithin, type CheckContext } from './types.ts';

/** Upper bound for one solve script (ms): a clone, a notebook run by a kernel take seconds, not minutes. */
export const defaultSolveTimeout = 120_000;

/** Characters of the script's own error output shown to the learner when it fails. */
const shownError = 300;

/** Why a check cannot be solved by a script, or undefined when it can. */
export function unsolvable(check: CheckDefinition): 'needs_new_instance' | 'no_solve' | undefined {
  // The schema refuses solve on such checks; this names the reason for the learner.
  if (check.requires?.instance === 'new') return 'needs_new_instance';
  return check.solve === undefined ? 'no_solve' : undefined;
}

export type SolveOutcome = { ok: true } | { ok: false; message: string };

/**
 * Runs the script in the lab's workspace with bash -e -o pipefail, without profile or rc files
 * (the learner's own files must not change what the script does); the lab's environment (forge,
 * S3 credentials) is the exec's own.
 */
export async function runSolve(check: CheckDefinition, context: CheckContext): Promise<SolveOutcome> {
  const script = inLanguage(check.solve!, context.language);
  const argv = ['env', '-u', 'BASH_ENV', '-u', 'ENV', 'bash', '--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', 'cd -- "$1"; eval "$2"', 'atelier-solve', context.lab.workspace, script];
  const timeout: SolveOutcome = { ok: false, message: context.t('stepHelp.solveTimeout', { seconds: Math.round(context.timeoutMs / 1000) }) };
  const result = await execWithin(context, argv).catch((error: unknown) => {
    if (error instanceof CheckTimeout) return undefined;
    throw error;
  });
  if (!result || result.timedOut) return timeout;
  if (result.code === 0) return { ok: true };
  // The last lines of stderr say what went wrong (git's or mc's own words), not the first.
  const error = result.stderr.replace(/\[atelier\][^\n]*\n?/g, '').trim();
  const tail = error.length > shownError ? `…${error.slice(-shownError)}` : error;
  return { ok: false, message: context.t('stepHelp.solveFailed', { code: result.code, error: tail || '∅' }) };
}
