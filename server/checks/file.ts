/**
 * `kind: file`: a path exists (or not, with `absent`), has the right type, and optionally its
 * content matches a regular expression. Runs `stat` and `head` inside the lab; the regular
 * expression is applied here, on at most the first MiB of the file.
 */
import type { FileCheck } from '../labs/schema.ts';
import { execWithin, labHome, type CheckContext, type Observation } from './types.ts';

/** Bytes of a file read for `contains`. */
export const maxContentBytes = 1024 * 1024;

export type Found = { kind: 'missing' } | { kind: 'file' | 'dir' } | { kind: 'other'; type: string } | { kind: 'error'; message: string };

/** `~` and `~/x` → the lab user's home; other paths are already absolute. */
export function resolveLabPath(path: string): string {
  if (path === '~') return labHome;
  if (path.startsWith('~/')) return `${labHome}/${path.slice(2)}`;
  return path;
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

async function statInLab(context: CheckContext, path: string): Promise<Found> {
  // -L: a symlink to a folder counts as a folder, as it does for `cd`.
  const result = await execWithin(context, ['env', 'LC_ALL=C', 'stat', '-L', '-c', '%f', '--', path]);
  if (result.code === 0) return typeFromMode(result.stdout);
  if (/No such file|Not a directory/.test(result.stderr)) return { kind: 'missing' };
  if (/Permission denied/.test(result.stderr)) return { kind: 'other', type: 'permission denied' };
  return { kind: 'error', message: `stat exited with ${result.code}` };
}

function describe(context: CheckContext, found: Found): string {
  const { t } = context;
  switch (found.kind) {
    case 'missing':
      return t('checks.found.missing');
    case 'file':
    case 'dir':
      return t(`checks.found.${found.kind}`);
    case 'other':
      return t('checks.found.other', { type: found.type });
    case 'error':
      return t('checks.found.error', { message: found.message });
  }
}

/** What the learner should have done, in their language: the lab's `expect`, or a generic wording. */
export function fileExpected(check: FileCheck, context: Pick<CheckContext, 't' | 'language'>): string {
  const { t, language } = context;
  return (
    check.expect?.[language] ??
    (check.absent
      ? t('checks.expected.absent', { path: check.path })
      : check.contains !== undefined
        ? t('checks.expected.contains', { path: check.path, pattern: check.contains })
        : t(`checks.expected.${check.type}`, { path: check.path }))
  );
}

export async function runFileCheck(check: FileCheck, context: CheckContext): Promise<Observation> {
  const { t } = context;
  const path = resolveLabPath(check.path);
  const expected = fileExpected(check, context);

  const found = await statInLab(context, path);
  if (found.kind === 'error') return { ok: false, expected, found: describe(context, found) };
  if (check.absent) return { ok: found.kind === 'missing', expected, found: describe(context, found) };

  const typeOk = check.type === 'any' ? found.kind !== 'missing' : found.kind === check.type;
  if (!typeOk) return { ok: false, expected, found: describe(context, found) };
  if (check.contains === undefined) return { ok: true, expected, found: describe(context, found) };

  if (found.kind !== 'file') return { ok: false, expected, found: describe(context, found) };
  // A content check reads the learner's own file: a link out of their home (to a system file that
  // happens to match) must not pass it. realpath runs inside the lab, so it sees what they see.
  const real = await execWithin(context, ['realpath', '-e', '--', path]);
  const target = real.stdout.trim();
  if (real.code !== 0 || !(target === labHome || target.startsWith(`${labHome}/`))) {
    return { ok: false, expected, found: t('checks.found.outside') };
  }
  const content = await execWithin(context, ['head', '-c', String(maxContentBytes), '--', target]);
  if (content.code !== 0) {
    return { ok: false, expected, found: t('checks.found.error', { message: `head exited with ${content.code}` }) };
  }
  const matches = new RegExp(check.contains, 'm').test(content.stdout);
  return { ok: matches, expected, found: t(matches ? 'checks.found.match' : 'checks.found.noMatch') };
}
