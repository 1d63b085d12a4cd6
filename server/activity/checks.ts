/**
 * The activity a check's result makes, whoever ran it (a Check press, a check passing on its
 * own, a skip or a rebuild): passed, or failed with the sentence the learner read.
 */
import type { Activity } from './activity.ts';

export function checkActivity(
  session: { id: string; labId: string },
  learner: string,
  check: string,
  result: { ok: boolean; message: string },
  at: number = Date.now(),
): Activity {
  const { ok, message } = result;
  return { type: ok ? 'check.passed' : 'check.failed', learner, lab: session.labId, check, session: session.id, ...(ok ? {} : { feedback: message }), at };
}
