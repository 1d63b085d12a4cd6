/**
 * `kind: git.pushed`: a commit reachable from the default branch of the learner's forge
 * repository contains the path (and, with `contains`, content matching it). It looks at the
 * forge, not the lab: a commit only counts once it was pushed, to that repository and branch.
 */
import { inLanguage, type GitPushedCheck } from '../labs/schema.ts';
import type { CheckContext, Observation } from './types.ts';

export function gitPushedExpected(check: GitPushedCheck, { t, language }: Pick<CheckContext, 't' | 'language'>): string {
  if (check.expect) return check.expect[language];
  const values = { repo: check.repo, path: inLanguage(check.path, language), pattern: check.contains ?? '' };
  return check.contains ? t('checks.expected.gitPushedContains', values) : t('checks.expected.gitPushed', values);
}

export async function runGitPushedCheck(check: GitPushedCheck, context: CheckContext): Promise<Observation> {
  const { t, learner } = context;
  const expected = gitPushedExpected(check, context);
  const values = { repo: check.repo, path: inLanguage(check.path, context.language) };
  if (!learner || !learner.forge.exists(learner.learnerId, check.repo)) return { ok: false, expected, found: t('checks.git.noRepo', values) };
  const pushed = await learner.forge.hasPath(learner.learnerId, check.repo, values.path);
  if (!pushed) return { ok: false, expected, found: t('checks.git.notPushed', values) };
  if (check.contains !== undefined && !(await learner.forge.hasPath(learner.learnerId, check.repo, values.path, { contentRegex: check.contains }))) {
    return { ok: false, expected, found: t('checks.git.noMatch', values) };
  }
  return { ok: true, expected, found: t('checks.git.pushed', values) };
}
