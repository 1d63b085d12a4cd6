/**
 * A trainer's cap on presigned URLs (ATELIER_S3_PRESIGN_MAX_EXPIRY): a URL signed for a week
 * works for the cap at most. SigV4 URLs die at min(X-Amz-Date + X-Amz-Expires, X-Amz-Date + cap);
 * SigV2 URLs carry no signing time, only their end (`Expires`), so one whose end lies further
 * than the cap is refused until it comes within it. The signature is checked by the endpoint
 * afterwards: this only ends URLs early, it never accepts one.
 */
import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors.ts';
import { parseAmzDate } from './sigv4.ts';

/** The refusal for a presigned URL living past the cap at `now`, or undefined. */
export function presignRefusal(req: IncomingMessage, maxMs: number, now: number): S3Error | undefined {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  const query = new URLSearchParams(url.slice(q + 1));
  const amzDate = query.get('X-Amz-Date');
  const expires = query.get('X-Amz-Expires');
  if (amzDate !== null && expires !== null) {
    const signedAt = parseAmzDate(amzDate);
    const seconds = Number(expires);
    // Malformed values are the signature check's to refuse, with S3's own messages.
    if (Number.isNaN(signedAt) || !Number.isFinite(seconds)) return undefined;
    return now > signedAt + Math.min(seconds * 1000, maxMs) ? new S3Error('AccessDenied', 'Request has expired') : undefined;
  }
  const v2Expires = query.get('Expires');
  if (v2Expires !== null && query.has('AWSAccessKeyId') && /^\d{1,12}$/.test(v2Expires) && Number(v2Expires) * 1000 - now > maxMs) {
    return new S3Error('AccessDenied', `Presigned URLs may not live longer than ${Math.floor(maxMs / 1000)} seconds here`);
  }
  return undefined;
}
