/**
 * Cross-origin reads of the S3 origin, for the site's "My files" previews: the page fetches the
 * first bytes of a CSV, a Parquet footer or an image from a presigned link there (learner bytes
 * never come from the site's origin). Only GET and HEAD, with a Range header at most, and never
 * with credentials: the endpoint authenticates by signature, never by an ambient cookie, so a
 * page that can read an answer is a page that already holds a valid signed link; `*` gives away
 * nothing a `curl` of that link would not (S3 and MinIO offer the same rule as bucket CORS).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const readMethods = new Set(['GET', 'HEAD']);
/** Request headers a preview sends beyond the safelisted ones. */
const allowedHeaders = new Set(['range']);
const exposed = 'content-length, content-range, content-type, etag, last-modified, accept-ranges';

/**
 * Answers a CORS preflight for a read (204 with what is allowed); true when it did. Any other
 * preflight gets no CORS answer and the browser refuses the request itself.
 */
export function answerPreflight(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'OPTIONS' || req.headers.origin === undefined) return false;
  const method = String(req.headers['access-control-request-method'] ?? '').toUpperCase();
  const headers = String(req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  if (readMethods.has(method) && headers.every((name) => allowedHeaders.has(name))) {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-methods', 'GET, HEAD');
    res.setHeader('access-control-allow-headers', 'range');
    res.setHeader('access-control-max-age', '600');
  }
  res.statusCode = 204;
  res.end();
  return true;
}

/** Lets a page of another origin read the answer to a GET or HEAD (signed, as every request here). */
export function allowCrossOriginRead(req: IncomingMessage, res: ServerResponse): void {
  if (req.headers.origin === undefined || !readMethods.has((req.method ?? '').toUpperCase())) return;
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('access-control-expose-headers', exposed);
}
