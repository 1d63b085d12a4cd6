/**
 * Names that become paths on disk: learner ids and repository names. Everything the forge puts on
 * disk goes through these checks, so nothing can escape the repository root.
 */

const repoNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const learnerIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A repository name as typed in a URL or lab.yaml (`tp-datalab` or `tp-datalab.git`), or undefined. */
export function parseRepoName(raw: string): string | undefined {
  const name = raw.endsWith('.git') ? raw.slice(0, -4) : raw;
  if (!repoNamePattern.test(name) || name.includes('..') || name.endsWith('.lock') || name.endsWith('.')) return undefined;
  return name;
}

export function isValidRepoName(name: string): boolean {
  return parseRepoName(name) === name && !name.endsWith('.git');
}

export function isValidLearnerId(id: string): boolean {
  return learnerIdPattern.test(id) && !id.includes('..');
}

/**
 * A path inside a repository's tree (`src/ex0.py`), normalised: no leading or trailing slash, no
 * empty, `.` or `..` segment, no control character. '' is the root. Undefined when unsafe.
 */
export function normalizeTreePath(raw: string): string | undefined {
  if (raw.length > 4096 || /[\u0000-\u001f]/.test(raw)) return undefined;
  const trimmed = raw.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  const segments = trimmed.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) return undefined;
  return segments.join('/');
}

/**
 * A revision a learner may ask for: a branch, tag or commit id, optionally with `~n`/`^n`. Never
 * an option (leading '-'), never a range or a revision expression that runs anything.
 */
export function isSafeRef(ref: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9._/@~^-]{0,199}$/.test(ref) && !ref.includes('..') && !ref.includes('@{') && !ref.endsWith('.lock');
}
