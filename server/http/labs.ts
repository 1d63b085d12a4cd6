/**
 * Lab sessions over HTTP:
 *   POST   /api/labs        { lab, secrets?, repository?, resources? }
 *                           → 201 { id, token, lab, status, createdAt, expiresAt, limits, configured, progress }
 *                             (200 with a fresh token when the learner already runs that lab)
 *   GET    /api/labs/:id              → 200 the same without the token
 *   DELETE /api/labs/:id              → 204
 * A lab belongs to the learner: every page of theirs that names it gets the same lab.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Sessions, SessionError, type LaunchOptions } from '../labs/sessions.ts';
import { byteSize } from '../labs/schema.ts';
import type { LearnerContext } from '../learners/context.ts';
import { launchOptions, LaunchError } from '../learners/launch.ts';
import { ApiError, parseWith } from './errors.ts';
import { authorizeLab } from './auth.ts';
import { currentLearner, ensureLearner } from './identity.ts';
import { languageOf } from './language.ts';

export const createLabBody = z.object({
  lab: z.string().min(1).max(64),
  secrets: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/).optional(),
  repository: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).optional(),
  resources: z.object({ cpu: z.number().positive().max(64).optional(), memory: byteSize.optional() }).strict().optional(),
});

export function registerLabRoutes(app: FastifyInstance, sessions: Sessions, learners?: LearnerContext): void {
  app.post('/api/labs', async (request, reply) => {
    const body = parseWith(createLabBody, request.body, languageOf(request.headers));
    const lab = sessions.labs.get(body.lab);
    if (!lab) throw new ApiError('unknown_lab', { lab: body.lab });
    let options: LaunchOptions = {};
    if (learners) {
      const learnerId = ensureLearner(request, reply, learners.store);
      const running = sessions.findForLearner(learnerId, lab.id);
      if (running) {
        await running.ready.catch(() => undefined);
        const token = sessions.issueToken(running.id);
        if (token && running.status === 'running') return reply.code(200).send({ ...Sessions.view(running), token });
      }
      try {
        const { secrets, repository, resources } = body;
        options = await launchOptions(learners.launch, {
          learnerId,
          lab,
          ...(secrets ? { secrets } : {}),
          ...(repository ? { repository } : {}),
          ...(resources ? { resources } : {}),
        });
      } catch (error) {
        if (!(error instanceof LaunchError)) throw error;
        throw new ApiError('bad_request', { field: error.field, problem: error.message }, error.field);
      }
    }
    try {
      const { session, token } = await sessions.create(lab.id, request.ip, options);
      return reply.code(201).send({ ...Sessions.view(session), token });
    } catch (error) {
      if (!(error instanceof SessionError)) throw error;
      if (error.code === 'lab_failed') request.log.warn({ lab: lab.id, reason: error.message }, 'lab failed to start');
      throw new ApiError(error.code, error.details);
    }
  });

  const owner = (request: Parameters<typeof currentLearner>[0]) => (learners ? currentLearner(request, learners.store) : undefined);

  app.get<{ Params: { id: string } }>('/api/labs/:id', async (request) => {
    const session = authorizeLab(sessions, request, request.params.id, owner(request));
    sessions.touch(session.id);
    return Sessions.view(session);
  });

  app.delete<{ Params: { id: string } }>('/api/labs/:id', async (request, reply) => {
    const session = authorizeLab(sessions, request, request.params.id, owner(request));
    await sessions.stop(session.id, 'deleted');
    return reply.code(204).send();
  });
}
