/**
 * Lab sessions over HTTP:
 *   POST   /api/labs        { lab }  → 201 { id, token, lab, status, createdAt, expiresAt, limits, progress }
 *   GET    /api/labs/:id              → 200 the same without the token
 *   DELETE /api/labs/:id              → 204
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Sessions, SessionError } from '../labs/sessions.ts';
import { ApiError, parseWith } from './errors.ts';
import { authorizeLab } from './auth.ts';
import { languageOf } from './language.ts';

export const createLabBody = z.object({
  lab: z.string().min(1).max(64),
});

export function registerLabRoutes(app: FastifyInstance, sessions: Sessions): void {
  app.post('/api/labs', async (request, reply) => {
    const { lab } = parseWith(createLabBody, request.body, languageOf(request.headers));
    try {
      const { session, token } = await sessions.create(lab, request.ip);
      return reply.code(201).send({ ...Sessions.view(session), token });
    } catch (error) {
      if (!(error instanceof SessionError)) throw error;
      if (error.code === 'lab_failed') request.log.warn({ lab, reason: error.message }, 'lab failed to start');
      throw new ApiError(error.code, error.details);
    }
  });

  app.get<{ Params: { id: string } }>('/api/labs/:id', async (request) => {
    const session = authorizeLab(sessions, request, request.params.id);
    sessions.touch(session.id);
    return Sessions.view(session);
  });

  app.delete<{ Params: { id: string } }>('/api/labs/:id', async (request, reply) => {
    const session = authorizeLab(sessions, request, request.params.id);
    await sessions.stop(session.id, 'deleted');
    return reply.code(204).send();
  });
}
