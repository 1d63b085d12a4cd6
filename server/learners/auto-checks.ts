/**
 * Steps whose evidence the server sees happen tick by themselves: when a learner's forge
 * receives a push or their bucket changes, the matching checks (git.pushed, s3.object) of
 * their running labs run again, and every open page of that learner hears the ones that pass,
 * over socket.io's `/learner` namespace (authenticated by the learner cookie).
 * With several replicas the change, the pass and the tick travel on the bus (platform.bus): the
 * push may land on one replica, the lab run on another (which re-runs the checks of the labs it
 * holds), and the learner's page listen on a third. After a gap in the bus, every learner with
 * a lab here has those checks run again, as a change may have been missed.
 */
import type { Server } from 'socket.io';
import { languages, translator } from '../../i18n/index.ts';
import { runCheck, defaultCheckTimeout, labInstance } from '../checks/index.ts';
import type { Session, Sessions } from '../labs/sessions.ts';
import type { LearnerPlatform } from './platform.ts';
import { learnerCookie } from '../http/identity.ts';
import { accountCookie, readAccountCookie } from '../auth/session.ts';
import type { ActivityHub } from '../activity/hub.ts';
import { checkActivity } from '../activity/checks.ts';

export interface PassedCheck {
  lab: string;
  check: string;
}

const kindFor = { git: 'git.pushed', s3: 's3.object' } as const;
/** Bursts (a multipart upload, a push of many refs) collapse into one run per learner and kind. */
const settleMs = 150;

export function attachAutoChecks(
  io: Server,
  sessions: Sessions,
  platform: LearnerPlatform,
  cookies: { parse(header: string): Record<string, string>; unsign(value: string): { valid: boolean; value: string | null } },
  onError: (error: unknown, context: string) => void,
  activity?: Pick<ActivityHub, 'emit'>,
): void {
  const namespace = io.of('/learner');
  const unauthorized = () => Object.assign(new Error('unauthorized'), { data: { code: 'unauthorized' } });
  namespace.use((socket, next) => {
    // The same cookie parser as the HTTP side: signatures are base64 and may hold a '+'.
    const jar = cookies.parse(socket.request.headers.cookie ?? '');
    const raw = jar[learnerCookie];
    const unsigned = raw ? cookies.unsign(raw) : undefined;
    const learnerId = unsigned?.valid ? unsigned.value : null;
    if (!learnerId) return next(unauthorized());
    platform.context.store.get(learnerId).then(
      (learner) => {
        if (!learner) return next(unauthorized());
        // A signed-in person's learner only while their sign-in holds, as over HTTP.
        if (learner.account && readAccountCookie(jar[`__Host-${accountCookie}`] ?? jar[accountCookie], cookies.unsign)?.learnerId !== learnerId) return next(unauthorized());
        void socket.join(learnerId);
        next();
      },
      (error: unknown) => {
        onError(error, 'learner socket');
        next(new Error('unavailable'));
      },
    );
  });

  // Progress changes (a tick on another device, a check passing) reach the learner's pages here
  // too while a lab is open; pages before a launch hear them on the lighter SSE stream.
  platform.events.on('progress', (learnerId, change) => namespace.to(learnerId).emit('progress', change));

  platform.events.on('passed', (learnerId, passed) => namespace.to(learnerId).emit('passed', passed));

  // A check that passed on its own is told once per lab: every later push passes it again.
  const told = new WeakMap<Session, Set<string>>();

  const pending = new Map<string, NodeJS.Timeout>();
  platform.events.on('changed', (learnerId, kind) => schedule(learnerId, kind));
  platform.events.on('resync', () => {
    for (const session of sessions.all()) {
      if (!session.learnerId) continue;
      for (const kind of ['git', 's3'] as const) schedule(session.learnerId, kind);
    }
  });

  function schedule(learnerId: string, kind: 'git' | 's3'): void {
    const key = `${learnerId}\0${kind}`;
    if (pending.has(key)) return;
    pending.set(
      key,
      setTimeout(() => {
        pending.delete(key);
        void recheck(learnerId, kind).catch((error: unknown) => onError(error, `auto-check ${learnerId}`));
      }, settleMs),
    );
  }

  async function recheck(learnerId: string, kind: 'git' | 's3'): Promise<void> {
    for (const session of sessions.forLearner(learnerId)) {
      if (!session.handle) continue;
      for (const [id, check] of Object.entries(session.lab.checks)) {
        if (check.kind !== kindFor[kind]) continue;
        // No page asked: a path or key given per language passes in the learner's either language.
        for (const language of languages) {
          const result = await runCheck(id, session.lab.checks, {
            driver: sessions.driver,
            handle: session.handle,
            lab: labInstance(session),
            learner: platform.context.evidence(learnerId),
            language,
            t: translator(language),
            timeoutMs: defaultCheckTimeout,
          });
          if (!result.ok) continue;
          await platform.context.progress.checkPassed(learnerId, session.labId, id);
          platform.bus.passed(learnerId, { lab: session.labId, check: id });
          const checks = told.get(session) ?? new Set<string>();
          if (activity && !checks.has(id)) {
            told.set(session, checks.add(id));
            activity.emit(checkActivity(session, learnerId, id, result));
          }
          break;
        }
      }
    }
  }
}
