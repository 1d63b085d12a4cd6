/**
 * Opening a lab's service from the dock:
 *   POST /api/labs/:id/services/:service/open { next? }
 *     → 200 { url, origin, framed } once the service answers (started now if it was not running):
 *       `url` is a one-minute, one-use hand-off to the service's own origin (http/apps.ts);
 *       `framed`: the page may show it in a frame (services/app-origins.ts), else in a tab
 *     → 404 unknown_service (the lab was not launched with it) | 409 lab_not_started
 *     → 503 service_failed (what its log said, credentials masked)
 *   GET  /api/labs/:id/services/:service → 200 { state: stopped|starting|running, framed }, starting nothing
 *   POST /api/labs/:id/services/:service/start → 200 { state: 'running' }: the same start without a
 *     hand-off, sent when the learner is about to open it (pointer over the button).
 * The lab's owner only (its token or the learner cookie), from the platform's own pages.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { scrub, type Sessions, type Session } from '../labs/sessions.ts';
import type { LearnerContext } from '../learners/context.ts';
import type { AppOrigins } from '../services/app-origins.ts';
import type { Handoff } from '../services/handoff.ts';
import { ServiceError, type LabServices } from '../services/lab-services.ts';
import type { OpenableKind } from '../services/catalog.ts';
import { ApiError, parseWith } from './errors.ts';
import { authorizeLab } from './auth.ts';
import { currentLearner } from './identity.ts';
import { languageOf } from './language.ts';
import { openPath } from './apps.ts';

const openBody = z.object({ next: z.string().max(2048).regex(/^\/(?![/\\])/, 'expected a path of the service').optional() }).strict().optional();

export interface LabServiceRoutes {
  sessions: Sessions;
  services: LabServices;
  /** Known once the server listens (the default names its port). */
  origins: () => AppOrigins;
  handoff: Handoff;
  learners?: LearnerContext;
}

export function registerLabServiceRoutes(app: FastifyInstance, { sessions, services, origins, handoff, learners }: LabServiceRoutes): void {
  type Params = { Params: { id: string; service: string } };
  const owned = async (request: Parameters<typeof currentLearner>[0] & { params: { id: string; service: string } }): Promise<{ session: Session; kind: OpenableKind }> => {
    const learnerId = learners ? await currentLearner(request, learners.store) : undefined;
    const session = authorizeLab(sessions, request, request.params.id, learnerId);
    const kind = services.serviceOf(session, request.params.service);
    if (!kind) throw new ApiError('unknown_service', { service: request.params.service.slice(0, 32) });
    return { session, kind };
  };

  app.get<Params>('/api/labs/:id/services/:service', async (request) => {
    const { session, kind } = await owned(request);
    return { state: await services.state(session, kind), framed: origins().framedFor(request.host) };
  });

  const opened = async (request: Parameters<typeof currentLearner>[0] & { params: { id: string; service: string } }): Promise<{ session: Session; kind: OpenableKind }> => {
    const { session, kind } = await owned(request);
    if (session.status !== 'running') throw new ApiError('lab_not_started');
    sessions.touch(session.id);
    try {
      await services.ensure(session, kind);
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      if (error.code === 'lab_not_running') throw new ApiError('lab_gone');
      request.log.warn({ session: session.id, service: kind, err: { message: scrub(error.message, { password: session.servicePassword ?? '' }) } }, 'service failed to start');
      throw new ApiError('service_failed', { service: kind });
    }
    return { session, kind };
  };

  app.post<Params>('/api/labs/:id/services/:service/open', async (request) => {
    const body = parseWith(openBody, request.body, languageOf(request.headers));
    const { session, kind } = await opened(request);
    const ticket = handoff.ticket({ session: session.id, service: kind, learner: session.learnerId ?? '' });
    const origin = origins().origin(session.appId, kind);
    const query = new URLSearchParams({ ticket, ...(body?.next ? { next: body.next } : {}) });
    return { url: `${origin}${openPath}?${query}`, origin, framed: origins().framedFor(request.host) };
  });

  app.post<Params>('/api/labs/:id/services/:service/start', async (request) => {
    await opened(request);
    return { state: 'running' };
  });
}
