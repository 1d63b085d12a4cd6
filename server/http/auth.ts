/**
 * Who may act on a lab: the holder of its token (`Authorization: Bearer <token>`), and only from
 * the lab server's own pages: a state-changing request whose Origin names another origin is
 * refused, so neither a token nor the learner cookie can be used from a page elsewhere — the S3
 * origin's learner-uploaded pages included (another host, hence another origin, even on the same
 * site), and sandboxed ones (Origin: null).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Session, Sessions } from '../labs/sessions.ts';
import { ApiError } from './errors.ts';

const bearer = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i;

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  return bearer.exec(header)?.[1];
}

/** Session ids are url-safe base64; anything else cannot name a lab. */
const sessionId = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The lab `id` names, if the request carries its token or comes from the learner who owns it;
 * throws 401/403/404 otherwise.
 */
export function authorizeLab(sessions: Sessions, request: FastifyRequest, id: string, learnerId?: string): Session {
  const token = bearerToken(request);
  if (!sessionId.test(id)) throw new ApiError(token || learnerId ? 'lab_gone' : 'unauthorized');
  if (!token && learnerId) {
    const session = sessions.get(id);
    if (!session) throw new ApiError('lab_gone');
    if (session.learnerId !== learnerId) throw new ApiError('forbidden');
    return session;
  }
  if (!token) throw new ApiError('unauthorized');
  const result = sessions.authorize(id, token);
  if (!result.ok) throw new ApiError(result.code);
  return result.session;
}

/** True when `origin` (an Origin header) is the host the request was sent to. */
export function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

const stateChanging = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Refuses state-changing requests from another origin (403 cross_site) before any body is read. */
export function registerOriginGuard(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    if (!stateChanging.has(request.method)) return;
    const origin = request.headers.origin;
    if (origin !== undefined) {
      if (!isSameOrigin(origin, request.host)) throw new ApiError('cross_site');
      return;
    }
    // Browsers send Origin with every such request; without one, their Fetch Metadata still says
    // where it comes from ('none': typed by the user). Clients that send neither are not browsers
    // and carry no ambient cookie of a victim.
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new ApiError('cross_site');
  });
}
