/**
 * "My services": the learner's own labs, as the datalab's "Mes services" lists them, and the
 * learner-level check a course's cleanup page runs (nothing left running). Cookie auth only: a
 * lab of another learner and a missing one look the same (404).
 *   GET    /api/me/labs                          → { labs: [{ id, lab, title, status, createdAt, expiresAt, course?, service? }] }
 *   DELETE /api/me/labs/:id                      → 204
 *   POST   /api/me/checks/nothing-running        → { ok, message }
 */
import type { FastifyInstance } from 'fastify';
import { translator, type Language } from '../../i18n/index.ts';
import type { Session, Sessions } from '../labs/sessions.ts';
import type { LearnerStore } from '../learners/store.ts';
import { ApiError } from './errors.ts';
import { currentLearner, requireLearner } from './identity.ts';
import { languageOf } from './language.ts';

/** The learner's labs that hold resources or a place in the queue. */
function liveLabs(sessions: Sessions, learnerId: string): Session[] {
  return sessions
    .all()
    .filter((session) => session.learnerId === learnerId && session.status !== 'stopped' && session.status !== 'failed')
    .sort((a, b) => a.createdAt - b.createdAt);
}

function labView(session: Session, language: Language) {
  return {
    id: session.id,
    lab: session.labId,
    title: session.lab.title[language],
    status: session.status,
    createdAt: new Date(session.createdAt).toISOString(),
    expiresAt: new Date(session.expiresAt).toISOString(),
    ...(session.lab.course === undefined ? {} : { course: session.lab.course }),
    ...(session.configured.service === undefined ? {} : { service: session.configured.service }),
  };
}

/** "1 h 12 min", "4 min", "moins d'une minute": what a person says of the time a lab has left. */
export function timeLeft(ms: number, language: Language): string {
  const t = translator(language);
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 1) return t('services.lessThanAMinute');
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return t('services.minutes', { minutes: rest });
  return rest === 0 ? t('services.hours', { hours }) : t('services.hoursMinutes', { hours, minutes: rest });
}

/** The check's verdict in the learner's language: which services still run, and where to delete them. */
export function nothingRunningVerdict(labs: Session[], language: Language, now: number): { ok: boolean; message: string } {
  const t = translator(language);
  if (labs.length === 0) return { ok: true, message: t('services.nothingRunning') };
  const list = labs.map((session) => t('services.runningItem', { title: session.lab.title[language], left: timeLeft(session.expiresAt - now, language) }));
  const joined = new Intl.ListFormat(language, { type: 'conjunction' }).format(list);
  return { ok: false, message: t('services.stillRunning', { count: labs.length, list: joined }) };
}

/** Session ids are url-safe base64 (sessions.ts); anything else names no lab. */
const sessionId = /^[A-Za-z0-9_-]{1,64}$/;

export function registerMyLabRoutes(app: FastifyInstance, store: LearnerStore, sessions: Sessions): void {
  app.get('/api/me/labs', async (request) => {
    const learnerId = await currentLearner(request, store);
    if (!learnerId) return { labs: [] };
    const language = languageOf(request.headers);
    return { labs: liveLabs(sessions, learnerId).map((session) => labView(session, language)) };
  });

  app.delete<{ Params: { id: string } }>('/api/me/labs/:id', async (request, reply) => {
    const learnerId = await requireLearner(request, store);
    const id = request.params.id;
    const session = sessionId.test(id) ? sessions.get(id) : undefined;
    if (!session || session.learnerId !== learnerId) throw new ApiError('not_found');
    await sessions.stop(session.id, 'deleted');
    return reply.code(204).send();
  });

  app.post('/api/me/checks/nothing-running', async (request) => {
    const learnerId = await currentLearner(request, store);
    const labs = learnerId ? liveLabs(sessions, learnerId) : [];
    return nothingRunningVerdict(labs, languageOf(request.headers), Date.now());
  });
}
