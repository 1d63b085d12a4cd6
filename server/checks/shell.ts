/**
 * `kind: shell`: a command run with bash inside the lab as the learner passes on exit status 0
 * (and, with `stdout`, when its output matches a regular expression). Bash reads no profile and
 * no rc file: those are the learner's files, and `export X=…` in ~/.profile must not pass a check.
 */
import type { ShellCheck } from '../labs/schema.ts';
import { execWithin, type CheckContext, type Observation } from './types.ts';

/** Characters of the command's output shown back to the learner on a mismatch. */
const shownOutput = 200;

/** What the learner should have done, in their language: the lab's `expect`, or a generic wording. */
export function shellExpected(check: ShellCheck, context: Pick<CheckContext, 't' | 'language'>): string {
  const { t, language } = context;
  return check.expect?.[language] ?? (check.stdout !== undefined ? t('checks.expected.shellStdout', { pattern: check.stdout }) : t('checks.expected.shell'));
}

export async function runShellCheck(check: ShellCheck, context: CheckContext): Promise<Observation> {
  const { t, language } = context;
  const expected = shellExpected(check, context);

  const result = await execWithin(context, ['env', '-u', 'BASH_ENV', '-u', 'ENV', 'bash', '--noprofile', '--norc', '-c', check.run]);
  // 124 is timeout(1)'s status, which drivers use for an exec that ran out of time.
  if (result.code === 124 && /timed out/i.test(result.stderr)) return { ok: false, expected, found: t('checks.timeout') };
  if (result.code !== 0) return { ok: false, expected, found: check.failure?.[language] ?? t('checks.shell.failed', { code: result.code }) };
  if (check.stdout !== undefined && !new RegExp(check.stdout, 'm').test(result.stdout)) {
    const output = result.stdout.trim().replace(/\s+/g, ' ');
    const shown = output.length > shownOutput ? `${output.slice(0, shownOutput)}…` : output;
    return { ok: false, expected, found: check.failure?.[language] ?? t('checks.shell.output', { output: shown || '∅' }) };
  }
  return { ok: true, expected, found: t('checks.shell.ok') };
}
