/**
 * `kind: git.cloned`: the path in the lab is a clone of the learner's forge repository. A folder
 * named like it (`mkdir -p x/.git`), a `git init`, or a clone of another repository must not
 * pass: the path is the top of a git work tree, its `origin` is the repository's URL on the
 * learner's forge, and its HEAD commit exists in that repository (which the forge checks).
 */
import { inLanguage, type GitClonedCheck } from '../labs/schema.ts';
import { execWithin, type CheckContext, type Observation } from './types.ts';
import { nameAndFolder, pathMismatch, resolveLabPath, statInLab } from './file.ts';

/**
 * Reads the work tree inside the lab with git alone: no profile, no global or system git
 * configuration of the learner's (which could rewrite what git reports), one line per fact.
 */
const inspect = [
  'cd -- "$1" || exit 3',
  'printf "real=%s\\n" "$(pwd -P)"',
  'printf "top=%s\\n" "$(git rev-parse --show-toplevel 2>/dev/null)"',
  'printf "origin=%s\\n" "$(git config --local --get remote.origin.url 2>/dev/null)"',
  'printf "head=%s\\n" "$(git rev-parse --verify --quiet "HEAD^{commit}" 2>/dev/null)"',
].join('\n');

/** A git remote URL without credentials, trailing slash or `.git`: what names a repository. */
export function repositoryUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url.trim());
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
    const path = parsed.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
    return `${parsed.protocol}//${parsed.host.toLowerCase()}${path}`;
  } catch {
    return undefined;
  }
}

export function gitClonedExpected(check: GitClonedCheck, { t, language }: Pick<CheckContext, 't' | 'language'>): string {
  return check.expect?.[language] ?? t('checks.expected.gitCloned', { repo: check.repo, path: inLanguage(check.path, language) });
}

export async function runGitClonedCheck(check: GitClonedCheck, context: CheckContext): Promise<Observation> {
  const { t, learner } = context;
  const shown = inLanguage(check.path, context.language);
  const path = resolveLabPath(shown);
  const expected = gitClonedExpected(check, context);
  const values = { ...nameAndFolder(shown), repo: check.repo };
  const fail = (found: string): Observation => ({ ok: false, expected, found });

  const mismatch = pathMismatch(context, shown, await statInLab(context, path), 'dir');
  if (mismatch) return fail(mismatch);
  const result = await execWithin(context, [
    'env', 'GIT_CONFIG_NOSYSTEM=1', 'GIT_CONFIG_GLOBAL=/dev/null', 'LC_ALL=C',
    'bash', '--noprofile', '--norc', '-c', inspect, 'git.cloned', path,
  ]);
  if (result.code !== 0) return fail(t('checks.error', { message: `git exited with ${result.code}` }));
  const facts = Object.fromEntries(result.stdout.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  if (!facts.top) return fail(t('checks.git.notRepo', values));
  if (facts.top !== facts.real) return fail(t('checks.git.nested', values));
  if (!facts.origin) return fail(t('checks.git.noOrigin', values));
  if (!learner || repositoryUrl(facts.origin) !== repositoryUrl(learner.forge.repoUrl(check.repo))) return fail(t('checks.git.otherOrigin', values));
  if (!facts.head) return fail(t('checks.git.noCommit', values));
  if (!(await learner.forge.hasCommit(check.repo, facts.head))) return fail(t('checks.git.unknownCommit', values));
  return { ok: true, expected, found: t('checks.git.cloned', values) };
}
