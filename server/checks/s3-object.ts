/**
 * `kind: s3.object`: an object exists in the learner's own bucket, optionally big enough, of a
 * type, with content matching a regular expression, or byte for byte another object of theirs
 * (a file shared under diffusion/ must be the result, not any file of that name).
 */
import { inLanguage, type S3ObjectCheck } from '../labs/schema.ts';
import type { CheckContext, Observation } from './types.ts';
import { objectPrefix, sha256OfObject } from './object-bytes.ts';

export function s3ObjectExpected(check: S3ObjectCheck, { t, language }: Pick<CheckContext, 't' | 'language'>): string {
  return check.expect?.[language] ?? t('checks.expected.s3Object', { key: inLanguage(check.key, language) });
}

export async function runS3ObjectCheck(check: S3ObjectCheck, context: CheckContext): Promise<Observation> {
  const { t, learner, language } = context;
  const key = inLanguage(check.key, language);
  const expected = s3ObjectExpected(check, context);
  const fail = (found: string): Observation => ({ ok: false, expected, found });

  const object = learner ? await learner.objects.head(learner.bucket, key) : undefined;
  if (!learner || !object) return fail(t('checks.s3.missing', { key }));
  if (check.minSize !== undefined && object.size < check.minSize) {
    return fail(object.size === 0 ? t('checks.s3.empty', { key }) : t('checks.s3.tooSmall', { key, size: object.size }));
  }
  const type = object.headers['content-type'] ?? '';
  if (check.contentType !== undefined && !type.startsWith(check.contentType)) {
    return fail(t('checks.s3.wrongType', { key, type: type || '?', expected: check.contentType }));
  }
  if (check.contains !== undefined) {
    const text = await objectPrefix(learner.objects, learner.bucket, key);
    if (text === undefined) return fail(t('checks.s3.missing', { key }));
    if (!new RegExp(check.contains, 'm').test(text)) return fail(t('checks.s3.noMatch', { key }));
  }
  if (check.sameAs !== undefined) {
    const other = inLanguage(check.sameAs, language);
    const [mine, theirs] = await Promise.all([sha256OfObject(learner.objects, learner.bucket, key), sha256OfObject(learner.objects, learner.bucket, other)]);
    if (theirs === undefined) return fail(t('checks.s3.missing', { key: other }));
    if (mine === 'too-large' || theirs === 'too-large') return fail(t('checks.s3.tooLarge', { key }));
    if (mine !== theirs) return fail(t('checks.s3.differs', { key, other }));
  }
  return { ok: true, expected, found: t('checks.s3.found', { key, size: object.size }) };
}
