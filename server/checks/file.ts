/**
 * `kind: file`: a path exists (or not, with `absent`), has the right type, and optionally its
 * content matches a regular expression or is byte for byte an object of the shared bucket. Runs
 * `stat`, `head` and `sha256sum` inside the lab; the regular expression is applied here, on at
 * most the first MiB of the file, and the shared object is hashed here.
 */
import { inLanguage, type FileCheck } from '../labs/schema.ts';
import { execWithin, labHome, type CheckContext, type Observation } from './types.ts';
import { sha256OfObject } from './object-bytes.ts';

/** Bytes of a file read for `contains`. */
export const maxContentBytes = 1024 * 1024;

export type Found = { kind: 'missing' } | { kind: 'file' | 'dir' } | { kind: 'other'; type: string } | { kind: 'error'; message: string };

/** `~` and `~/x` → the lab user's home; other paths are already absolute. */
export function resolveLabPath(path: string): string {
  if (path === '~') return labHome;
  if (path.startsWith('~/')) return `${labHome}/${path.slice(2)}`;
  return path;
}

/** A path as sentences name it: its last part, and the folder it is in (`~/work/a` → a, ~/work). */
export function nameAndFolder(path: string): { path: string; name: string; dir: string } {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const slash = trimmed.lastIndexOf('/');
  if (slash < 0) return { path: trimmed, name: trimmed, dir: '~' };
  return { path: trimmed, name: trimmed.slice(slash + 1), dir: slash === 0 ? '/' : trimmed.slice(0, slash) };
}

/** The file type from `stat -c %f` (raw mode, hex): locale-independent, unlike %F. */
export function typeFromMode(hexMode: string): Found {
  const mode = Number.parseInt(hexMode.trim(), 16);
  if (!Number.isFinite(mode)) return { kind: 'error', message: hexMode.trim().slice(0, 80) };
  switch (mode & 0o170000) {
    case 0o040000:
      return { kind: 'dir' };
    case 0o100000:
      return { kind: 'file' };
    case 0o120000:
      return { kind: 'other', type: 'symlink' };
    case 0o010000:
      return { kind: 'other', type: 'fifo' };
    case 0o140000:
      return { kind: 'other', type: 'socket' };
    case 0o020000:
    case 0o060000:
      return { kind: 'other', type: 'device' };
    default:
      return { kind: 'other', type: 'unknown' };
  }
}

export async function statInLab(context: CheckContext, path: string): Promise<Found> {
  // -L: a symlink to a folder counts as a folder, as it does for `cd`.
  const result = await execWithin(context, ['env', 'LC_ALL=C', 'stat', '-L', '-c', '%f', '--', path]);
  if (result.code === 0) return typeFromMode(result.stdout);
  if (/No such file|Not a directory/.test(result.stderr)) return { kind: 'missing' };
  if (/Permission denied/.test(result.stderr)) return { kind: 'other', type: 'permission denied' };
  return { kind: 'error', message: `stat exited with ${result.code}` };
}

/**
 * The sentence for a path that is not what was wanted (`wanted`: file, dir or any), or undefined
 * when it is. Shared with the kinds that look at a folder first (git.cloned).
 */
export function pathMismatch(context: Pick<CheckContext, 't'>, shown: string, found: Found, wanted: FileCheck['type']): string | undefined {
  const { t } = context;
  const values = nameAndFolder(shown);
  switch (found.kind) {
    case 'missing':
      return t(wanted === 'any' ? 'checks.file.missingAny' : wanted === 'dir' ? 'checks.file.missingDir' : 'checks.file.missingFile', values);
    case 'error':
      return t('checks.error', { message: found.message });
    case 'other':
      return t('checks.file.other', { ...values, type: found.type });
    default:
      if (wanted === 'any' || found.kind === wanted) return undefined;
      return t(wanted === 'dir' ? 'checks.file.notDir' : 'checks.file.notFile', values);
  }
}

/** What the learner should have done, in their language: the lab's `expect`, or a generic wording. */
export function fileExpected(check: FileCheck, context: Pick<CheckContext, 't' | 'language'>): string {
  const { t, language } = context;
  const path = inLanguage(check.path, language);
  return (
    check.expect?.[language] ??
    (check.absent
      ? t('checks.expected.absent', { path })
      : check.contains !== undefined
        ? t('checks.expected.contains', { path, pattern: check.contains })
        : t(`checks.expected.${check.type}`, { path }))
  );
}

/** The file's real path when it lies in the learner's home (a link out of it must not pass a content check). */
async function ownFile(context: CheckContext, path: string): Promise<string | undefined> {
  // realpath runs inside the lab, so it sees what the learner sees.
  const real = await execWithin(context, ['realpath', '-e', '--', path]);
  const target = real.stdout.trim();
  return real.code === 0 && (target === labHome || target.startsWith(`${labHome}/`)) ? target : undefined;
}

export async function runFileCheck(check: FileCheck, context: CheckContext): Promise<Observation> {
  const { t } = context;
  const shown = inLanguage(check.path, context.language);
  const path = resolveLabPath(shown);
  const values = nameAndFolder(shown);
  const expected = fileExpected(check, context);
  const fail = (found: string): Observation => ({ ok: false, expected, found });

  const found = await statInLab(context, path);
  if (found.kind === 'error') return fail(t('checks.error', { message: found.message }));
  if (check.absent) {
    return found.kind === 'missing' ? { ok: true, expected, found: t('checks.file.gone', values) } : fail(t('checks.file.stillThere', values));
  }
  const mismatch = pathMismatch(context, shown, found, check.type);
  if (mismatch) return fail(mismatch);
  if (check.contains === undefined && check.sameAsShared === undefined) return { ok: true, expected, found: t('checks.file.found', values) };

  if (found.kind !== 'file') return fail(t('checks.file.notFile', values));
  const target = await ownFile(context, path);
  if (!target) return fail(t('checks.file.outside', values));

  if (check.sameAsShared !== undefined) {
    const shared = await sameAsShared(context, target, check.sameAsShared);
    if (shared !== 'same') return fail(shared === 'differs' ? t('checks.file.differs', { ...values, key: check.sameAsShared }) : shared);
  }
  if (check.contains !== undefined) {
    const content = await execWithin(context, ['head', '-c', String(maxContentBytes), '--', target]);
    if (content.code !== 0) return fail(t('checks.error', { message: `head exited with ${content.code}` }));
    if (!new RegExp(check.contains, 'm').test(content.stdout)) return fail(t('checks.file.noMatch', values));
  }
  return { ok: true, expected, found: t('checks.file.found', values) };
}

/** 'same', 'differs', or the sentence saying why the comparison could not be made. */
async function sameAsShared(context: CheckContext, target: string, key: string): Promise<'same' | 'differs' | string> {
  const { t, learner } = context;
  const wanted = learner ? await sha256OfObject(learner.objects, learner.sharedBucket, key) : undefined;
  if (!wanted) return t('checks.s3.sharedMissing', { key });
  if (wanted === 'too-large') return t('checks.s3.tooLarge', { key });
  const hashed = await execWithin(context, ['sha256sum', '--', target]);
  if (hashed.code !== 0) return t('checks.error', { message: `sha256sum exited with ${hashed.code}` });
  return hashed.stdout.trim().split(/\s+/)[0] === wanted ? 'same' : 'differs';
}
