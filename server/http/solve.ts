/**
 * Step help that changes the learner's lab, for its owner only:
 *   POST /api/labs/:id/checks/:check/solve → 200 { check, ok, message, skipped, … }
 *     "Skip this step": runs the check's `solve` script, then the check (its result's fields when
 *     the script ran); a pass ticks the step. A script that fails is { ok: false, message }.
 *   POST /api/labs/:id/rebuild { checks: [id, …] } → 200 application/x-ndjson
 *     "Rebuild my lab up to this step": the page's check steps before it, in the page's order,
 *     each checked, and when it fails and has a script, solved and checked again; one line per
 *     move, stopping at the first failure. A check that requires a new instance is passed over:
 *     the rebuilt lab is one.
 * One run at a time per lab: two scripts at once in one workspace would race.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Session, Sessions } from '../labs/sessions.ts';
import type { Language } from '../../i18n/index.ts';
import { translator } from '../../i18n/index.ts';
import { runCheck, labInstance, defaultCheckTimeout, type CheckContext, type CheckResult } from '../checks/index.ts';
import { defaultSolveTimeout, runSolve, unsolvable } from '../checks/solve.ts';
import { ApiError, parseWith } from './errors.ts';
import { authorizeLab } from './auth.ts';
import { languageOf } from './language.ts';
import type { LearnerContext } from '../learners/context.ts';
import { currentLearner } from './identity.ts';
import type { ActivityHub } from '../activity/hub.ts';
import { checkActivity } from '../activity/checks.ts';

/** Steps one rebuild may take: more than any page has, few enough that one request stays bounded. */
export const maxRebuildSteps = 50;

const rebuildBody = z
  .object({
    checks: z
      .array(z.string().min(1).max(64))
      .min(1)
      .max(maxRebuildSteps)
      .refine((ids) => new Set(ids).size === ids.length, 'expected each check once'),
  })
  .strict();

/** One line of a rebuild's answer. */
export type RebuildLine =
  | { type: 'step'; index: number; total: number; check: string; state: 'solving' | 'checking' }
  | { type: 'step'; index: number; total: number; check: string; state: 'passed' | 'failed' | 'passed-over'; message: string }
  | { type: 'end'; ok: boolean; check?: string; message?: string };

export interface SolveRouteOptions {
  learners?: LearnerContext | undefined;
  /** Upper bound for one check's commands (ms). */
  checkTimeoutMs?: number | undefined;
  /** Upper bound for one solve script (ms). */
  solveTimeoutMs?: number;
  /** Where the checks' results are told (the class view, the webhook), as a Check press's are. */
  activity?: Pick<ActivityHub, 'emit'>;
}

export function registerSolveRoutes(app: FastifyInstance, sessions: Sessions, options: SolveRouteOptions): void {
  const { learners } = options;
  const busy = new Set<string>();

  /** The running lab of the request's owner, and the context a check or script runs in there. */
  async function ownLab(request: FastifyRequest<{ Params: { id: string } }>): Promise<{ session: Session; context: (timeoutMs: number) => CheckContext; language: Language }> {
    const learnerId = learners ? await currentLearner(request, learners.store) : undefined;
    const session = authorizeLab(sessions, request, request.params.id, learnerId);
    // It changes the lab: the lab's token alone, carried off to another learner's browser, is not enough.
    if (session.learnerId !== undefined && learners && session.learnerId !== learnerId) throw new ApiError('forbidden');
    if (session.status === 'queued') throw new ApiError('lab_not_started');
    const handle = session.handle ?? (await session.ready.catch(() => undefined));
    if (!handle || session.status !== 'running') throw new ApiError('lab_gone');
    const language = languageOf(request.headers);
    const context = (timeoutMs: number): CheckContext => ({
      driver: sessions.driver,
      handle,
      lab: labInstance(session),
      ...(learners && session.learnerId ? { learner: learners.evidence(session.learnerId) } : {}),
      language,
      t: translator(language),
      timeoutMs,
    });
    return { session, context, language };
  }

  function definitionOf(session: Session, checkId: string) {
    const definition = Object.hasOwn(session.lab.checks, checkId) ? session.lab.checks[checkId] : undefined;
    if (!definition) throw new ApiError('unknown_check', { check: checkId.slice(0, 64) });
    return definition;
  }

  /**
   * The check, run as a Check press would, its pass recorded in the owner's progress; `skipped`:
   * the step's script did it, which the progress remembers; `probe`: a look before a script runs,
   * whose failure is nobody's news (the class view would show a learner failing a step they did).
   */
  async function check(session: Session, checkId: string, context: CheckContext, { skipped = false, probe = false } = {}): Promise<CheckResult> {
    const result = await runCheck(checkId, session.lab.checks, context);
    if (options.activity && session.learnerId && (result.ok || !probe)) options.activity.emit(checkActivity(session, session.learnerId, checkId, result));
    if (result.ok && learners && session.learnerId) {
      if (skipped) await learners.progress.checkSkipped(session.learnerId, session.labId, checkId);
      else await learners.progress.checkPassed(session.learnerId, session.labId, checkId);
    }
    return result;
  }

  /** Runs `work` as the lab's one run, refusing a second one while it lasts. */
  function exclusive<T>(session: Session, work: () => Promise<T>): Promise<T> {
    if (busy.has(session.id)) throw new ApiError('solve_busy');
    busy.add(session.id);
    return work().finally(() => busy.delete(session.id));
  }

  const solveTimeoutMs = options.solveTimeoutMs ?? defaultSolveTimeout;
  const checkTimeoutMs = options.checkTimeoutMs ?? defaultCheckTimeout;

  app.post<{ Params: { id: string; check: string } }>('/api/labs/:id/checks/:check/solve', async (request) => {
    const { session, context, language } = await ownLab(request);
    const checkId = request.params.check;
    const definition = definitionOf(session, checkId);
    const reason = unsolvable(definition);
    if (reason) throw new ApiError('not_solvable', { reason: translator(language)(`stepHelp.${reason}`) });
    sessions.touch(session.id);
    return exclusive(session, async () => {
      const solved = await runSolve(definition, context(solveTimeoutMs));
      if (!solved.ok) return { check: checkId, ok: false, skipped: false, message: solved.message };
      const checking = context(checkTimeoutMs);
      const result = await check(session, checkId, checking, { skipped: true });
      return { ...result, skipped: result.ok, ...(result.ok ? { message: checking.t('stepHelp.skipped') } : {}) };
    });
  });

  app.post<{ Params: { id: string } }>('/api/labs/:id/rebuild', async (request, reply: FastifyReply) => {
    const { session, context, language } = await ownLab(request);
    const { checks } = parseWith(rebuildBody, request.body, language);
    const definitions = checks.map((id) => definitionOf(session, id));
    const t = translator(language);
    await exclusive(session, async () => {
      // Written line by line, straight to the socket: compression would hold the progress back.
      reply.hijack();
      const response = reply.raw;
      response.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      let gone = false;
      response.once('close', () => (gone = true));
      const send = (line: RebuildLine) => {
        if (!gone) response.write(`${JSON.stringify(line)}\n`);
      };
      const total = checks.length;
      try {
        for (const [position, checkId] of checks.entries()) {
          // A learner who left the page stops the rebuild between steps, never in one.
          if (gone) return;
          const definition = definitions[position]!;
          const index = position + 1;
          sessions.touch(session.id);
          if (unsolvable(definition) === 'needs_new_instance') {
            send({ type: 'step', index, total, check: checkId, state: 'passed-over', message: t('stepHelp.passedOver') });
            continue;
          }
          if (definition.solve !== undefined) {
            // A step the lab already has is left as it is: no second commit, no notebook run again
            // (the S3 page's three notebook steps share one script).
            send({ type: 'step', index, total, check: checkId, state: 'checking' });
            const already = await check(session, checkId, context(checkTimeoutMs), { probe: true });
            if (already.ok) {
              send({ type: 'step', index, total, check: checkId, state: 'passed', message: already.message });
              continue;
            }
            send({ type: 'step', index, total, check: checkId, state: 'solving' });
            const solved = await runSolve(definition, context(solveTimeoutMs));
            if (!solved.ok) {
              send({ type: 'step', index, total, check: checkId, state: 'failed', message: solved.message });
              return send({ type: 'end', ok: false, check: checkId, message: solved.message });
            }
          }
          send({ type: 'step', index, total, check: checkId, state: 'checking' });
          const result = await check(session, checkId, context(checkTimeoutMs));
          send({ type: 'step', index, total, check: checkId, state: result.ok ? 'passed' : 'failed', message: result.message });
          if (!result.ok) return send({ type: 'end', ok: false, check: checkId, message: result.message });
        }
        send({ type: 'end', ok: true });
      } catch (error) {
        request.log.error({ err: error }, 'rebuild failed');
        send({ type: 'end', ok: false, message: t('errors.internal') });
      } finally {
        response.end();
      }
    });
  });
}
