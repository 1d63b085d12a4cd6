/**
 * Two origins on one port, told apart by the Host header: the S3 origin (ATELIER_S3_ORIGIN,
 * `http://s3.localhost:<port>` by default), which serves learner-controlled bytes and nothing
 * else, and the platform's (site, API, sockets, forge), which never serves them. A page a
 * learner uploads therefore never runs where the learner cookie, the API and the labs live.
 * Labs are not concerned: they reach S3 and the forge through the gateway socket, whatever Host
 * they send (gateway.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { S3Error } from '../storage/errors.ts';
import { isS3Request } from '../storage/index.ts';
import { sendInertError } from '../storage/content-safety.ts';

/** `host[:port]` of an origin, as a Host header names it (default ports omitted), lower-case. */
export function hostOf(origin: string): string {
  return new URL(origin).host.toLowerCase();
}

/** The Host a request was sent to (X-Forwarded-Host behind a trusted proxy), lower-case. */
export function requestHost(req: IncomingMessage, trustProxy: boolean): string | undefined {
  const forwarded = trustProxy ? req.headers['x-forwarded-host'] : undefined;
  const host = (typeof forwarded === 'string' ? forwarded.split(',')[0]!.trim() : undefined) || req.headers.host;
  return host?.toLowerCase();
}

export interface OriginRouting {
  /** The S3 origin (http(s)://host[:port]); read per request, the port is known only once listening. */
  contentOrigin: () => string;
  trustProxy: boolean;
  /** The embedded S3 endpoint; undefined with an external S3 (S3 is then served elsewhere). */
  s3?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Other learner bytes of the S3 origin (raw repository files); false: not theirs. */
  raw?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** The forge (and anything else served beside the API on the platform's origin); false: not its. */
  platform: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/**
 * Serves what belongs to the request's origin outside fastify; false: an API or site request for
 * fastify. Everything sent to the S3 origin is S3's (anonymous requests get S3's AccessDenied);
 * an S3 request sent to the platform's origin is refused with the address to use.
 */
export function routeByOrigin(routing: OriginRouting): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const origin = routing.contentOrigin();
    if (requestHost(req, routing.trustProxy) === hostOf(origin)) {
      if (routing.raw?.(req, res)) return true;
      if (routing.s3) routing.s3(req, res);
      else sendInertError(req, res, new S3Error('AccessDenied', 'This lab server stores no objects itself'));
      return true;
    }
    if (isS3Request(req)) {
      sendInertError(req, res, new S3Error('AccessDenied', routing.s3 ? `S3 is served at ${origin}, not at the site's address` : 'This lab server serves no S3 itself'));
      return true;
    }
    return routing.platform(req, res);
  };
}
