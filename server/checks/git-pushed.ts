/**
 * `kind: git.pushed`: a commit reachable from the default branch of the learner's forge
 * repository contains the path (and, with `contains`, content matching it). It looks at the
 * forge, not the lab: a commit only counts once it was pushed.
 */
import type { GitPushedCheck } from '../labs/schema.ts';
import type { CheckContext, Observation } from './types.ts';

export function gitPushedExpected(check: GitPushedCheck, { t, language }: Pick<CheckContext, 't' | 'language'>): string {
  if (check.expect) return check.expect[language];
  const values = { repo: check.repo, path: check.path, pattern: check.contains ?? '' };
  return check.contains ? t('checks.expected.gitPushedContains', values) : t('checks.expected.gitPushed', values);
}

export async function runGitPushedCheck(check: GitPushedCheck, context: CheckContext): Promise<Observation> {
  const { t, learner } = context;
  const expected = gitPushedExpected(check, context);
  if (!learner || !learner.forge.exists(learner.learnerId, check.repo)) {
    return { ok: false, expected, found: t('checks.found.noRepo', { repo: check.repo }) };
  }
  const ok = await learner.forge.hasPath(learner.learnerId, check.repo, check.path, check.contains ? { contentRegex: check.contains } : {});
  return { ok, expected, found: ok ? t('checks.found.ok') : t('checks.found.notPushed', { repo: check.repo, path: check.path }) };
}
