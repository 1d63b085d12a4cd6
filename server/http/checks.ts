/**
 * POST /api/labs/:id/checks/:check → 200 { check, ok, expected, found, hint?, message }.
 * A failing check is a result (ok: false), not an HTTP error. A passing one ticks its steps in the
 * lab owner's progress.
 */
import type { FastifyInstance } from 'fastify';
import type { Sessions } from '../labs/sessions.ts';
import type { Driver } from '../drivers/driver.ts';
import { translator } from '../../i18n/index.ts';
import { runCheck, defaultCheckTimeout, labInstance, type CheckResult } from '../checks/index.ts';
import { ApiError } from './errors.ts';
import { authorizeLab } from './auth.ts';
import { languageOf } from './language.ts';
import type { LearnerContext } from '../learners/context.ts';
import { currentLearner } from './identity.ts';
import type { ActivityHub } from '../activity/hub.ts';
import { checkActivity } from '../activity/checks.ts';

export function registerCheckRoutes(
  app: FastifyInstance,
  sessions: Sessions,
  options: { timeoutMs?: number; learners?: LearnerContext; activity?: Pick<ActivityHub, 'emit'> } = {},
): void {
  const { learners, activity } = options;
  const driver: Driver = sessions.driver;
  // A learner hammering "Check" shares one run per lab, check and language instead of piling up execs.
  const running = new Map<string, Promise<CheckResult>>();

  app.post<{ Params: { id: string; check: string } }>('/api/labs/:id/checks/:check', async (request) => {
    const learnerId = learners ? await currentLearner(request, learners.store) : undefined;
    const session = authorizeLab(sessions, request, request.params.id, learnerId);
    const checkId = request.params.check;
    const definition = Object.hasOwn(session.lab.checks, checkId) ? session.lab.checks[checkId] : undefined;
    if (!definition) throw new ApiError('unknown_check', { check: checkId.slice(0, 64) });
    sessions.touch(session.id);
    // A queued lab may wait minutes: say so rather than hold the request.
    if (session.status === 'queued') throw new ApiError('lab_not_started');
    const handle = session.handle ?? (await session.ready.catch(() => undefined));
    if (!handle || session.status !== 'running') throw new ApiError('lab_gone');

    const language = languageOf(request.headers);
    const key = `${session.id}\0${checkId}\0${language}`;
    let result = running.get(key);
    if (!result) {
      result = runCheck(checkId, session.lab.checks, {
        driver,
        handle,
        lab: labInstance(session),
        ...(learners && session.learnerId ? { learner: learners.evidence(session.learnerId) } : {}),
        language,
        t: translator(language),
        timeoutMs: options.timeoutMs ?? defaultCheckTimeout,
      })
        // Told once per run: presses sharing it are one check.
        .then((outcome) => {
          if (activity && session.learnerId) activity.emit(checkActivity(session, session.learnerId, checkId, outcome));
          return outcome;
        })
        .finally(() => running.delete(key));
      running.set(key, result);
    }
    const outcome = await result;
    // The server itself records the step done: a browser is never trusted to say so.
    if (outcome.ok && learners && session.learnerId) await learners.progress.checkPassed(session.learnerId, session.labId, checkId);
    return outcome;
  });
}
