/**
 * Anonymous learner identity: a signed, HttpOnly cookie naming the learner, created on first
 * need, no sign-up. Everything durable (repositories, bucket, secrets, progress) hangs off it.
 */
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LearnerStore } from '../learners/store.ts';
import { ApiError } from './errors.ts';
import { RateLimiter } from '../labs/quotas.ts';
import { clientKey } from './client-address.ts';
import { signedInAs } from '../auth/session.ts';

export const learnerCookie = 'atelier_learner';
const oneYear = 365 * 24 * 3600;
/** A learner's last sighting is written at most this often (a purge counts in days). */
const lastSeenResolutionMs = 60_000;

export interface IdentityOptions {
  cookieSecret: Buffer;
  /**
   * New identities per client address (per /64 for IPv6) and hour: a whole class behind one
   * school NAT arrives at once, a script minting learners in a loop must not grow the database
   * without end.
   */
  newLearnersPerHour: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    learnerCreations: RateLimiter;
  }
}

export async function registerIdentity(app: FastifyInstance, options: IdentityOptions): Promise<void> {
  await app.register(cookie, { secret: options.cookieSecret.toString('base64') });
  // One limiter per server (not per module): in-process test servers do not share a budget.
  app.decorate('learnerCreations', new RateLimiter(options.newLearnersPerHour, 3600_000));
}

/**
 * The learner the request's cookie names, if the signature holds and the learner exists; a
 * signed-in person's learner only while their sign-in holds (server/auth/session.ts).
 */
export async function currentLearner(request: FastifyRequest, store: LearnerStore): Promise<string | undefined> {
  const raw = request.cookies[learnerCookie];
  if (!raw) return undefined;
  const { valid, value } = request.unsignCookie(raw);
  if (!valid || !value) return undefined;
  const learner = await store.get(value);
  if (!learner) return undefined;
  if (learner.account && !signedInAs(request, learner.id)) return undefined;
  if (Date.now() - learner.lastSeenAt >= lastSeenResolutionMs) await store.touch(learner.id);
  return learner.id;
}

/** The caller's learner id, creating the learner (and setting the cookie) on first visit. */
export async function ensureLearner(request: FastifyRequest, reply: FastifyReply, store: LearnerStore): Promise<string> {
  const existing = await currentLearner(request, store);
  if (existing) return existing;
  const creations = request.server.learnerCreations;
  const client = clientKey(request.ip);
  const wait = creations.retryAfterMs(client);
  if (wait > 0) {
    const refusal = new ApiError('too_many_visitors', { max: creations.limit, seconds: Math.ceil(wait / 1000) });
    refusal.retryAfterSeconds = Math.ceil(wait / 1000);
    throw refusal;
  }
  creations.hit(client);
  const { id } = await store.create();
  void reply.setCookie(learnerCookie, id, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure: request.protocol === 'https',
    path: '/',
    maxAge: oneYear,
  });
  return id;
}

/** For calls that only make sense for a known learner. */
export async function requireLearner(request: FastifyRequest, store: LearnerStore): Promise<string> {
  const id = await currentLearner(request, store);
  if (!id) throw new ApiError('unauthorized');
  return id;
}
