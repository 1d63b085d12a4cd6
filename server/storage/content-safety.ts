/**
 * Learner bytes leave the S3 endpoint inert in a browser: whatever a learner uploaded (or a
 * presigned URL's `response-content-type` claims), the page it makes can run no script, reach
 * nothing and frame nothing, and a type a browser would render as active content is downloaded
 * rather than shown. Applied to every response of the endpoint, its XML errors included (their
 * text echoes learner-chosen keys).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { sendError, type S3Error } from './errors.ts';
import { presignRefusal } from './presign-lifetime.ts';
import { allowCrossOriginRead, answerPreflight } from './cors.ts';

/**
 * An opaque origin without scripts (`sandbox` without `allow-scripts`), nothing fetched but the
 * object itself and its inline styles: enough to look at an image or a text file.
 */
export const contentPolicy = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/** Types browsers show as passive content; anything else (html, svg, xml, pdf, unknown…) is downloaded. */
const inlineTypes = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'text/plain', 'text/csv', 'application/json']);

/** The media type of a Content-Type value, lower-cased, parameters dropped. */
function essence(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

export function rendersInline(contentType: string | undefined): boolean {
  return contentType !== undefined && inlineTypes.has(essence(contentType));
}

/** `attachment`, keeping the file name an `inline; filename=…` value gave. */
function asAttachment(disposition: string | undefined): string {
  if (!disposition) return 'attachment';
  const semicolon = disposition.indexOf(';');
  const type = (semicolon === -1 ? disposition : disposition.slice(0, semicolon)).trim().toLowerCase();
  if (type === 'attachment') return disposition;
  return semicolon === -1 ? 'attachment' : `attachment${disposition.slice(semicolon)}`;
}

/** Sets the headers that keep the response inert, from the headers set so far. */
export function applyContentSafety(res: ServerResponse): void {
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('content-security-policy', contentPolicy);
  res.setHeader('cross-origin-resource-policy', 'same-origin');
  res.setHeader('referrer-policy', 'no-referrer');
  // An error is the endpoint's own document (learner text in it escaped): shown, so that a
  // learner opening a dead link reads why; the sandbox above still holds.
  if (res.statusCode >= 400) return;
  const type = res.getHeader('content-type');
  const disposition = res.getHeader('content-disposition');
  if (!rendersInline(typeof type === 'string' ? type : undefined)) {
    res.setHeader('content-disposition', asAttachment(typeof disposition === 'string' ? disposition : undefined));
  }
}

type WriteHead = ServerResponse['writeHead'];

/**
 * Makes `res` apply the safety headers at the last moment, when its head is written (explicitly,
 * or implicitly by the first write): the endpoint sets an object's headers from stored metadata
 * and from the request's overrides in several places, and this sees their final values. (The
 * same technique as the `on-headers` package, which the project does not depend on.)
 */
export function keepContentInert(res: ServerResponse): void {
  const writeHead = res.writeHead as (this: ServerResponse, status: number, ...rest: unknown[]) => ServerResponse;
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    const reason = typeof rest[0] === 'string' ? rest[0] : undefined;
    const headers = (reason === undefined ? rest[0] : rest[1]) as OutgoingHttpHeaders | undefined;
    if (headers && !Array.isArray(headers)) for (const [name, value] of Object.entries(headers)) if (value !== undefined) this.setHeader(name, value);
    applyContentSafety(this);
    return reason === undefined ? writeHead.call(this, status) : writeHead.call(this, status, reason);
  } as WriteHead;
}

/**
 * The endpoint as the lab server mounts it: every response kept inert, reads open to the site's
 * previews (cors.ts), and presigned URLs ended at the trainer's cap (presign-lifetime.ts) before
 * the endpoint even reads them.
 */
export function guardEndpoint(
  endpoint: (req: IncomingMessage, res: ServerResponse) => void,
  presignMaxMs: number,
  now: () => number = Date.now,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    keepContentInert(res);
    if (answerPreflight(req, res)) return;
    allowCrossOriginRead(req, res);
    const refusal = presignRefusal(req, presignMaxMs, now());
    if (!refusal) return endpoint(req, res);
    sendInertError(req, res, refusal);
  };
}

/** An S3 error answered before (or instead of) the endpoint, as inert as its own answers. */
export function sendInertError(req: IncomingMessage, res: ServerResponse, error: S3Error): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  applyContentSafety(res);
  sendError(res, error, { method: (req.method ?? 'GET').toUpperCase(), resource: (req.url ?? '/').split('?')[0]!, requestId });
}
