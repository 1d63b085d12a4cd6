/**
 * Anonymous learner identity: a signed, HttpOnly cookie naming the learner, created on first
 * need, no sign-up. Everything durable (repositories, bucket, secrets, progress) hangs off it.
 */
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LearnerStore } from '../learners/store.ts';
import { ApiError } from './errors.ts';
import { RateLimiter } from '../labs/quotas.ts';

export const learnerCookie = 'atelier_learner';
const oneYear = 365 * 24 * 3600;

/**
 * New identities per address and minute: a whole class behind one school NAT arrives at once,
 * a script minting learners in a loop must not grow the database without end.
 */
export const newLearnersPerMinute = 1000;
const creations = new RateLimiter(newLearnersPerMinute, 60_000);

export async function registerIdentity(app: FastifyInstance, cookieSecret: Buffer): Promise<void> {
  await app.register(cookie, { secret: cookieSecret.toString('base64') });
}

/** The learner the request's cookie names, if the signature holds and the learner exists. */
export function currentLearner(request: FastifyRequest, store: LearnerStore): string | undefined {
  const raw = request.cookies[learnerCookie];
  if (!raw) return undefined;
  const { valid, value } = request.unsignCookie(raw);
  return valid && value && store.get(value) ? value : undefined;
}

/** The caller's learner id, creating the learner (and setting the cookie) on first visit. */
export function ensureLearner(request: FastifyRequest, reply: FastifyReply, store: LearnerStore): string {
  const existing = currentLearner(request, store);
  if (existing) return existing;
  const wait = creations.retryAfterMs(request.ip);
  if (wait > 0) {
    const refusal = new ApiError('too_many_visitors', { max: newLearnersPerMinute, seconds: Math.ceil(wait / 1000) });
    refusal.retryAfterSeconds = Math.ceil(wait / 1000);
    throw refusal;
  }
  creations.hit(request.ip);
  const { id } = store.create();
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
export function requireLearner(request: FastifyRequest, store: LearnerStore): string {
  const id = currentLearner(request, store);
  if (!id) throw new ApiError('unauthorized');
  return id;
}
