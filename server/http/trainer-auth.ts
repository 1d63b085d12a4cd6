/**
 * Who is a trainer. Token mode (no OpenID Connect): one token, configured
 * (ATELIER_TRAINER_TOKEN_FILE / ATELIER_TRAINER_TOKEN) or made in the data directory on first
 * start, proves it once on the trainer page; the server then sets a signed HttpOnly cookie
 * naming the trainer until it expires. The trainer's id derives from the token, so a new token
 * signs every trainer out and their classes stay with the token that made them.
 *   GET    /api/trainer/session          → { trainer: { id, name } | null }
 *   POST   /api/trainer/session { token } → { trainer } (rate limited per client address)
 *   DELETE /api/trainer/session          → 204
 * With OpenID Connect, a signed-in person holding ATELIER_OIDC_TRAINER_CLAIM is a trainer too.
 * `currentTrainer` / `requireTrainer` are what every trainer route asks.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RateLimiter } from '../labs/quotas.ts';
import { clientKey } from './client-address.ts';
import { ApiError, parseWith } from './errors.ts';
import { languageOf } from './language.ts';
import { signedIn } from '../auth/session.ts';

export interface Trainer {
  id: string;
  name: string;
}

export const trainerCookie = 'atelier_trainer';
/** A school day and then some: a trainer signs in once per session they teach. */
const cookieMaxAgeSeconds = 12 * 3600;
/** Sign-in attempts per client address and 10 minutes: a class's trainers fit, a guesser does not. */
const attemptsPer10Minutes = 10;

const sha256 = (value: string) => createHash('sha256').update(value).digest();

interface TrainerAuth {
  digest: Buffer;
  trainer: Trainer;
  attempts: RateLimiter;
}

declare module 'fastify' {
  interface FastifyInstance {
    trainerAuth: TrainerAuth;
  }
}

/**
 * The trainers' token: the configured one, or the one kept in `keysDir/trainer-token` (0600),
 * made there on first start; `made` says where, so the server can tell its operator.
 */
export function loadTrainerToken(setting: { file: string } | { value: string } | undefined, keysDir: string): { token: string; file?: string } {
  if (setting && 'value' in setting) return { token: setting.value };
  const file = setting?.file ?? join(keysDir, 'trainer-token');
  if (!setting && !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const token = readFileSync(file, 'utf8').trim();
  if (token.length < 16) throw new Error(`the trainer token in ${file} is shorter than 16 characters`);
  return { token, file };
}

const signIn = z.object({ token: z.string().min(1).max(512) }).strict();

/** Needs @fastify/cookie (registerIdentity) registered before. */
export function registerTrainerAuth(app: FastifyInstance, token: string): void {
  const digest = sha256(token);
  app.decorate('trainerAuth', {
    digest,
    trainer: { id: `token-${digest.toString('hex').slice(0, 16)}`, name: 'token' },
    attempts: new RateLimiter(attemptsPer10Minutes, 600_000),
  });

  app.get('/api/trainer/session', async (request) => ({ trainer: currentTrainer(request) ?? null }));

  app.post('/api/trainer/session', async (request, reply) => {
    const { attempts, trainer } = app.trainerAuth;
    const client = clientKey(request.ip);
    const wait = attempts.retryAfterMs(client);
    if (wait > 0) {
      const refusal = new ApiError('too_many_attempts', { seconds: Math.ceil(wait / 1000) });
      refusal.retryAfterSeconds = Math.ceil(wait / 1000);
      throw refusal;
    }
    const body = parseWith(signIn, request.body, languageOf(request.headers));
    // Digests of equal length compared in constant time: nothing of the token leaks by timing.
    if (!timingSafeEqual(sha256(body.token), digest)) {
      attempts.hit(client);
      throw new ApiError('trainer_token_invalid');
    }
    void reply.setCookie(trainerCookie, `${trainer.id}.${Date.now() + cookieMaxAgeSeconds * 1000}`, {
      signed: true,
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
      path: '/',
      maxAge: cookieMaxAgeSeconds,
    });
    return { trainer };
  });

  app.delete('/api/trainer/session', async (_request, reply) => {
    void reply.clearCookie(trainerCookie, { path: '/' });
    return reply.code(204).send();
  });
}

/**
 * The trainer the request's cookie names, if its signature holds, it has not expired and names
 * this server's trainer; else a person signed in with the school's provider whose sign-in found
 * the trainer claim (server/auth/session.ts), as the learner they are.
 */
export function currentTrainer(request: FastifyRequest): Trainer | undefined {
  return tokenTrainer(request) ?? accountTrainer(request);
}

function accountTrainer(request: FastifyRequest): Trainer | undefined {
  const session = signedIn(request);
  return session?.trainer ? { id: `account-${session.learnerId}`, name: session.name } : undefined;
}

function tokenTrainer(request: FastifyRequest): Trainer | undefined {
  const auth = request.server.trainerAuth as TrainerAuth | undefined;
  const raw = request.cookies[trainerCookie];
  if (!auth || !raw) return undefined;
  const { valid, value } = request.unsignCookie(raw);
  if (!valid || !value) return undefined;
  const dot = value.lastIndexOf('.');
  const [id, expires] = [value.slice(0, dot), Number(value.slice(dot + 1))];
  if (id !== auth.trainer.id || !(expires > Date.now())) return undefined;
  return auth.trainer;
}

export function requireTrainer(request: FastifyRequest): Trainer {
  const trainer = currentTrainer(request);
  if (!trainer) throw new ApiError('trainer_required');
  return trainer;
}
