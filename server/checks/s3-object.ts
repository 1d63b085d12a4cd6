/** `kind: s3.object`: an object exists in the learner's own bucket (optionally big enough, of a type). */
import type { S3ObjectCheck } from '../labs/schema.ts';
import type { CheckContext, Observation } from './types.ts';

export function s3ObjectExpected(check: S3ObjectCheck, { t, language }: Pick<CheckContext, 't' | 'language'>): string {
  return check.expect?.[language] ?? t('checks.expected.s3Object', { key: check.key });
}

export async function runS3ObjectCheck(check: S3ObjectCheck, context: CheckContext): Promise<Observation> {
  const { t, learner } = context;
  const expected = s3ObjectExpected(check, context);
  const object = learner ? await learner.objects.head(learner.bucket, check.key) : undefined;
  if (!object) return { ok: false, expected, found: t('checks.found.noObject', { key: check.key }) };
  if (check.minSize !== undefined && object.size < check.minSize) return { ok: false, expected, found: t('checks.found.tooSmall', { size: object.size }) };
  const type = object.headers['content-type'] ?? '';
  if (check.contentType !== undefined && !type.startsWith(check.contentType)) return { ok: false, expected, found: t('checks.found.wrongType', { type: type || '∅' }) };
  return { ok: true, expected, found: t('checks.found.object', { key: check.key, size: object.size }) };
}
