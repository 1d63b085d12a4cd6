/**
 * Where activity is emitted: `emit` tells this replica's listeners at once (`local: true`) and
 * sends the event on the bus (topic `activity`), where every other replica re-emits it with
 * `local: false`. What arrives is checked field by field, as on the learner bus: anything else
 * is dropped and reported. Feedback is cut to `maxFeedbackChars` before anything hears it, so a
 * check printing a novel still fits a bus message (and a webhook body stays small).
 */
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { Coordinator } from '../cluster/coordinator.ts';
import type { Activity, ActivityEmitter } from './activity.ts';

export const activityTopic = 'activity';

/**
 * Characters of feedback kept. JSON escapes a control character in 6 bytes and UTF-8 takes up
 * to 4 for a character: 1000 stay far below the bus's 7999 bytes with every other field.
 */
export const maxFeedbackChars = 1000;

const learner = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const session = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const labOrCheck = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/);
const at = z.number().int().nonnegative();

const activitySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('lab.launched'), learner, lab: labOrCheck, session, at }).strict(),
  z.object({ type: z.literal('lab.ended'), learner, lab: labOrCheck, session, reason: z.enum(['deleted', 'expired', 'idle', 'failed', 'shutdown']), at }).strict(),
  z
    .object({
      type: z.enum(['check.passed', 'check.failed']),
      learner,
      lab: labOrCheck,
      check: labOrCheck,
      session: session.optional(),
      feedback: z.string().max(maxFeedbackChars).optional(),
      at,
    })
    .strict(),
]);

const message = z.object({ from: z.string().min(1).max(64), activity: activitySchema }).strict();

export interface ActivityHub {
  /** Everything that happens, here (`local`) or on another replica. */
  readonly events: ActivityEmitter;
  /** Something happened on this replica. */
  emit(activity: Activity): void;
  close(): void;
}

/** `text` cut to `max` characters (code points: a surrogate pair is never split), with an ellipsis when cut. */
export function bounded(text: string, max = maxFeedbackChars): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  return points.length <= max ? text : `${points.slice(0, max - 1).join('')}…`;
}

export function activityHub(coordinator: Coordinator, onError: (error: unknown, context: string) => void): ActivityHub {
  const events: ActivityEmitter = new EventEmitter();
  // A listener throwing must not break the code that emitted (a check's response).
  const tell = (activity: Activity, local: boolean): void => {
    try {
      events.emit('activity', activity, local);
    } catch (error) {
      onError(error, `activity listener (${activity.type})`);
    }
  };
  const unsubscribe = coordinator.subscribe(activityTopic, (payload) => {
    const parsed = message.safeParse(payload);
    if (!parsed.success) {
      onError(new Error(`dropped a bus message on ${activityTopic}: not one of its shape`), 'activity bus');
      return;
    }
    // Our own message: already told, as local.
    if (parsed.data.from === coordinator.replicaId) return;
    tell(parsed.data.activity as Activity, false);
  });
  return {
    events,
    emit(activity) {
      const sent: Activity = 'feedback' in activity && activity.feedback !== undefined ? { ...activity, feedback: bounded(activity.feedback) } : activity;
      tell(sent, true);
      coordinator.publish(activityTopic, { from: coordinator.replicaId, activity: sent }).catch((error: unknown) => onError(error, `activity bus: publish ${sent.type}`));
    },
    close: unsubscribe,
  };
}
