/**
 * Lab sessions over HTTP (the browser's contract; README "HTTP API" has the prose):
 *   POST   /api/labs        { lab, secrets?, repository?, resources? }
 *            → 201 { id, token, …view } the lab runs (there was room: it started at once)
 *            → 202 { id, token, …view, status: 'queued', position, estimatedWaitSeconds }
 *                  the server is full: the lab starts when a slot frees (Location: /api/labs/:id)
 *            → 202 { id, token, …view, status: 'starting' } room, but not ready within 1.5 s
 *            → 200 { id, token, …view } the learner already has that lab (a fresh token for it)
 *            → 429 too_many_labs (per learner / per client address) | rate_limited (Retry-After)
 *            → 503 queue_full (Retry-After) | lab_failed
 *   GET    /api/labs/:id              → 200 view (no token)
 *   GET    /api/labs/:id?wait=<n>     → long-poll: answers once the lab has more than n progress
 *            events, changes status, moves in the queue or turns slow, or after 25 s; at once
 *            when it is neither queued nor starting. A lab that failed to start → 503 lab_failed.
 *   POST   /api/labs/:id/extend       → 200 view (expiresAt pushed by one step, within
 *            maxExpiresAt) | 409 extend_limit | 409 lab_not_started (queued)
 *   DELETE /api/labs/:id              → 204 (queued labs too: they leave the queue)
 *   GET    /api/labs/:id/usage        → 200 { cpu: { used, limit }, memory: { used, limit }, at }
 *            (cores; bytes; epoch ms), read at most once a second per lab | 409 lab_not_started
 *            | 404 lab_gone (another learner's lab too) | 501 usage_unavailable
 * view = { id, lab, title: { fr, en }, status: queued|starting|running, createdAt, expiresAt, maxExpiresAt,
 *          idleExpiresAt, position?, estimatedWaitSeconds?, slow, startDurationMs, limits,
 *          configured, progress: [{ step, percent }] }
 * A lab belongs to the learner: every page of theirs that names it gets the same lab.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Sessions, SessionError, type LaunchOptions, type Session } from '../labs/sessions.ts';
import { byteSize, serviceKinds } from '../labs/schema.ts';
import type { LearnerContext } from '../learners/context.ts';
import { launchOptions, LaunchError } from '../learners/launch.ts';
import { ApiError, parseWith } from './errors.ts';
import { authorizeLab } from './auth.ts';
import { currentLearner, ensureLearner } from './identity.ts';
import { languageOf } from './language.ts';
import { secretGroupName } from './me.ts';
import { UsageReadings } from '../labs/usage-readings.ts';

export const createLabBody = z.object({
  lab: z.string().min(1).max(64),
  secrets: secretGroupName.optional(),
  repository: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).optional(),
  resources: z.object({ cpu: z.number().positive().max(64).optional(), memory: byteSize.optional() }).strict().optional(),
  service: z.enum(serviceKinds).optional(),
});

export const labQuery = z.object({
  /** Progress events the page has already seen: long-poll until there are more (or a change). */
  wait: z.coerce.number().int().min(0).max(10_000).optional(),
});

/**
 * How long POST /api/labs waits for a lab that has room to be ready (201) before answering 202
 * with status 'starting' for the page to follow: under the 2 s after which a start is `slow`.
 */
export const fastPathMs = 1_500;

async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** How long a long-poll holds before answering the unchanged view. */
export const longPollMs = 25_000;

function sessionRefusal(error: SessionError): ApiError {
  const refusal = new ApiError(error.code, error.details);
  refusal.retryAfterSeconds = error.retryAfterSeconds;
  return refusal;
}

export function registerLabRoutes(app: FastifyInstance, sessions: Sessions, learners?: LearnerContext): void {
  const withToken = (session: Session, token: string) => ({ ...sessions.describe(session), token });

  app.post('/api/labs', async (request, reply) => {
    const body = parseWith(createLabBody, request.body, languageOf(request.headers));
    const lab = sessions.labs.get(body.lab);
    if (!lab) throw new ApiError('unknown_lab', { lab: body.lab });
    let options: LaunchOptions = {};
    try {
      if (learners) {
        const learnerId = await ensureLearner(request, reply, learners.store);
        const running = sessions.findForLearner(learnerId, lab.id);
        if (running) {
          if (running.status === 'starting') await waitAtMost(running.ready, fastPathMs);
          const token = sessions.issueToken(running.id);
          if (token && running.status === 'running') return reply.code(200).send(withToken(running, token));
          // Still queued or starting: a token for this page too, which follows it as the first does.
          if (token && (running.status === 'queued' || running.status === 'starting')) {
            return reply.code(202).header('location', `/api/labs/${running.id}`).send(withToken(running, token));
          }
        }
        // Refuse before the launch's preparations (S3 credentials, seeded repositories).
        sessions.admit(lab.id, request.ip, learnerId);
        try {
          const { secrets, repository, resources, service } = body;
          options = await launchOptions(learners.launch, {
            learnerId,
            lab,
            ...(secrets ? { secrets } : {}),
            ...(repository ? { repository } : {}),
            ...(resources ? { resources } : {}),
            ...(service ? { service } : {}),
          });
        } catch (error) {
          if (!(error instanceof LaunchError)) throw error;
          throw new ApiError('bad_request', { field: error.field, problem: error.message }, error.field);
        }
      }
      const { session, token, queued } = await sessions.create(lab.id, request.ip, options, { waitMs: fastPathMs });
      if (queued) return reply.code(202).header('location', `/api/labs/${session.id}`).send(withToken(session, token));
      return reply.code(201).send(withToken(session, token));
    } catch (error) {
      if (!(error instanceof SessionError)) throw error;
      throw sessionRefusal(error);
    }
  });

  const owner = (request: Parameters<typeof currentLearner>[0]) => (learners ? currentLearner(request, learners.store) : undefined);

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/api/labs/:id', async (request, reply) => {
    const { wait } = parseWith(labQuery, request.query ?? {}, languageOf(request.headers), 'query');
    const session = authorizeLab(sessions, request, request.params.id, await owner(request));
    sessions.touch(session.id);
    if (wait !== undefined) {
      // The response closing before it was sent: the page went away; stop holding for it.
      const abort = new AbortController();
      const onClose = (): void => abort.abort();
      reply.raw.once('close', onClose);
      try {
        await sessions.waitForChange(session, wait, longPollMs, abort.signal);
      } finally {
        reply.raw.off('close', onClose);
      }
      if (session.status === 'failed') throw new ApiError('lab_failed');
      if (session.status === 'stopped') throw new ApiError('lab_gone');
    }
    return sessions.describe(session);
  });

  app.post<{ Params: { id: string } }>('/api/labs/:id/extend', async (request, reply) => {
    const session = authorizeLab(sessions, request, request.params.id, await owner(request));
    const result = sessions.extend(session.id);
    if (!result) throw new ApiError('lab_gone');
    if (!result.ok) {
      throw new ApiError(result.code, { max: new Date(session.maxExpiresAt).toISOString() });
    }
    return sessions.describe(result.session);
  });

  const readings = new UsageReadings(sessions.driver);
  app.get<{ Params: { id: string } }>('/api/labs/:id/usage', async (request) => {
    let session: Session;
    try {
      session = authorizeLab(sessions, request, request.params.id, await owner(request));
    } catch (error) {
      // Another learner's lab is not theirs to know of, as in "My services".
      if (error instanceof ApiError && error.code === 'forbidden') throw new ApiError('lab_gone');
      throw error;
    }
    // No sessions.touch: a Monitoring tab left open is not activity, the lab may still go idle.
    if (session.status === 'queued' || session.status === 'starting') throw new ApiError('lab_not_started');
    if (!session.handle || session.status !== 'running') throw new ApiError('lab_gone');
    const usage = await readings.read(session.id, session.handle);
    if (!usage) throw new ApiError('usage_unavailable');
    return usage;
  });

  app.delete<{ Params: { id: string } }>('/api/labs/:id', async (request, reply) => {
    const session = authorizeLab(sessions, request, request.params.id, await owner(request));
    await sessions.stop(session.id, 'deleted');
    return reply.code(204).send();
  });
}
