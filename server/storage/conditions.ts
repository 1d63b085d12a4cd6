/**
 * S3's conditional writes, deletes and copies. Writes (PutObject, CompleteMultipartUpload, CopyObject's
 * destination): `If-None-Match: *` (only if no object has the key) and `If-Match: <etag>` (only
 * over that version), checked when the request arrives and again at the commit point, so that of
 * two racing conditional writes only the first to finish succeeds, as on AWS. Copies:
 * `x-amz-copy-source-if-*`, evaluated against the source with AWS's precedence rules.
 */
import { S3Error } from './errors.ts';
import type { ObjectMeta, WriteCondition } from './object-store.ts';
import { headerValue } from './sigv4.ts';

function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '').replace(/"/g, '') === etag;
  });
}

/** An HTTP date as epoch ms; NaN when it is not one (the condition is then ignored, as HTTP says). */
function httpTime(value: string): number {
  return value.length <= 64 ? Date.parse(value) : NaN;
}

/** S3 compares at the second. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/**
 * The condition a write asks for, checked at once against `current` (the object now under the
 * key); `undefined` when the write is unconditional. The returned condition is to be checked again
 * at the commit point: an object created meanwhile fails `If-None-Match` (412), one deleted
 * meanwhile is a conflict to retry (409), as AWS answers.
 */
export async function writeCondition(headers: Map<string, string[]>, current: () => Promise<ObjectMeta | undefined>): Promise<WriteCondition | undefined> {
  const ifMatch = headerValue(headers, 'if-match');
  const ifNoneMatch = headerValue(headers, 'if-none-match');
  // Most writes carry no condition: they must not pay for reading the current object.
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error('NotImplemented', 'If-None-Match on a write only supports the value *');
  }
  const check = (object: ObjectMeta | undefined, atCommit: boolean): void => {
    if (ifNoneMatch !== undefined && object) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
    if (ifMatch !== undefined) {
      if (!object) {
        if (atCommit) throw new S3Error('ConditionalRequestConflict');
        throw new S3Error('NoSuchKey');
      }
      if (!etagListMatches(ifMatch, object.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    }
  };
  check(await current(), false);
  return (object) => check(object, true);
}

/**
 * A conditional delete (`If-Match` on DeleteObject, `<ETag>` of an object in DeleteObjects): only
 * that version (or, with `*`, whatever exists) is deleted; 412 otherwise, 404 when there is none.
 */
export function deleteCondition(ifMatch: string | undefined): WriteCondition | undefined {
  if (ifMatch === undefined) return undefined;
  return (object) => {
    if (!object) throw new S3Error('NoSuchKey');
    if (!etagListMatches(ifMatch, object.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  };
}

/**
 * `x-amz-copy-source-if-match / -if-none-match / -if-unmodified-since / -if-modified-since`
 * against the copy's source; 412 when they say not to copy. A matching If-Match makes
 * If-Unmodified-Since irrelevant, a non-matching If-None-Match makes If-Modified-Since irrelevant.
 */
export function checkCopySourceConditions(headers: Map<string, string[]>, source: ObjectMeta): void {
  const ifMatch = headerValue(headers, 'x-amz-copy-source-if-match');
  const ifNoneMatch = headerValue(headers, 'x-amz-copy-source-if-none-match');
  const ifUnmodifiedSince = headerValue(headers, 'x-amz-copy-source-if-unmodified-since');
  const ifModifiedSince = headerValue(headers, 'x-amz-copy-source-if-modified-since');
  const modified = seconds(source.lastModified);
  const fail = (condition: string): never => {
    throw new S3Error('PreconditionFailed', undefined, { Condition: condition });
  };
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, source.etag)) fail('x-amz-copy-source-If-Match');
  } else if (ifUnmodifiedSince !== undefined && modified > httpTime(ifUnmodifiedSince)) {
    fail('x-amz-copy-source-If-Unmodified-Since');
  }
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, source.etag)) fail('x-amz-copy-source-If-None-Match');
  } else if (ifModifiedSince !== undefined && modified <= httpTime(ifModifiedSince)) {
    fail('x-amz-copy-source-If-Modified-Since');
  }
}
