/**
 * What happened in a learner's course, as trainers and a school's analytics see it: a lab
 * launched or ended, a check passed or failed (with the sentence the learner read). Every
 * replica hears every event (the coordinator's bus), so a class view on one replica follows
 * learners whose labs run on another, and the webhook is sent once, by the replica it happened on.
 */
import type { EventEmitter } from 'node:events';

export type LabEndReason = 'deleted' | 'expired' | 'idle' | 'failed' | 'shutdown';

export type Activity =
  | { type: 'lab.launched'; learner: string; lab: string; session: string; at: number }
  | { type: 'lab.ended'; learner: string; lab: string; session: string; reason: LabEndReason; at: number }
  | {
      type: 'check.passed' | 'check.failed';
      learner: string;
      lab: string;
      check: string;
      /** The lab session the check ran in (the server's emitters always say). */
      session?: string;
      /** The result's message as the learner read it (failures), in the language of their page. */
      feedback?: string;
      at: number;
    };

export interface ActivityEvents {
  /** `local`: it happened on this replica (only this one sends it to the webhook). */
  activity: [activity: Activity, local: boolean];
}

export type ActivityEmitter = EventEmitter<ActivityEvents>;
