/**
 * Lab activity from the sessions: `lab.launched` when a learner's lab becomes running on this
 * replica, `lab.ended` when this replica stops it (deleted, expired, idle, shutdown) or sees its
 * start fail. A replica hearing that another one stopped a lab says nothing (that one did), nor
 * does one leaving its running labs to the others on shutdown (they did not end). A lab that
 * never ran ends silently unless it failed: a queued launch deleted was never a lab.
 */
import type { Session, Sessions, StopReason } from '../labs/sessions.ts';
import type { ActivityHub } from './hub.ts';

export function followLabs(sessions: Sessions, hub: Pick<ActivityHub, 'emit'>, now: () => number = Date.now): () => void {
  const launched = (session: Session): void => {
    if (session.learnerId) hub.emit({ type: 'lab.launched', learner: session.learnerId, lab: session.labId, session: session.id, at: now() });
  };
  const stopped = (session: Session, reason: StopReason, local: boolean): void => {
    if (!local || !session.learnerId || (session.readyAt === undefined && reason !== 'failed')) return;
    hub.emit({ type: 'lab.ended', learner: session.learnerId, lab: session.labId, session: session.id, reason, at: now() });
  };
  sessions.on('launched', launched);
  sessions.on('stopped', stopped);
  return () => {
    sessions.off('launched', launched);
    sessions.off('stopped', stopped);
  };
}
