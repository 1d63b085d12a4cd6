/**
 * The learner events every replica must hear, over the coordinator's bus: a step ticked (for the
 * learner's pages, whichever replica their streams are on), a forge push or bucket write (for the
 * replica holding the learner's lab, which re-runs its checks) and a check passing on its own
 * (for the learner's open pages). Each replica re-emits what it receives on the platform's local
 * `events`, its own messages included, so listeners there are the same with one server or several.
 * What arrives is checked field by field: anything else on a topic is dropped and reported.
 */
import type { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { Coordinator } from './coordinator.ts';
import type { LearnerEvents } from '../learners/platform.ts';
import type { ProgressChange } from '../learners/progress.ts';
import { progressPage, progressStep } from '../http/progress.ts';

const learner = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const labOrCheck = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/);

const messages = {
  'learner.progress': z.object({ learner, page: progressPage, step: progressStep, done: z.boolean() }).strict(),
  'learner.changed': z.object({ learner, kind: z.enum(['git', 's3']) }).strict(),
  'learner.passed': z.object({ learner, lab: labOrCheck, check: labOrCheck }).strict(),
};
type Topic = keyof typeof messages;

export interface LearnerBus {
  progress(learnerId: string, change: ProgressChange): void;
  changed(learnerId: string, kind: 'git' | 's3'): void;
  passed(learnerId: string, passed: { lab: string; check: string }): void;
  close(): void;
}

export function learnerBus(coordinator: Coordinator, events: EventEmitter<LearnerEvents>, onError: (error: unknown, context: string) => void): LearnerBus {
  const on = <T extends Topic>(topic: T, deliver: (message: z.infer<(typeof messages)[T]>) => void, onGap?: () => void) =>
    coordinator.subscribe(
      topic,
      (payload) => {
        const parsed = messages[topic].safeParse(payload);
        if (parsed.success) deliver(parsed.data as z.infer<(typeof messages)[T]>);
        else onError(new Error(`dropped a bus message on ${topic}: not one of its shape`), 'learner bus');
      },
      onGap,
    );
  const unsubscribe = [
    on('learner.progress', ({ learner: id, ...change }) => events.emit('progress', id, change), () => events.emit('resync')),
    on('learner.changed', ({ learner: id, kind }) => events.emit('changed', id, kind)),
    on('learner.passed', ({ learner: id, ...passed }) => events.emit('passed', id, passed)),
  ];
  const publish = (topic: Topic, payload: unknown) => void coordinator.publish(topic, payload).catch((error: unknown) => onError(error, `learner bus: publish on ${topic}`));
  return {
    progress: (learnerId, { page, step, done }) => publish('learner.progress', { learner: learnerId, page, step, done }),
    changed: (learnerId, kind) => publish('learner.changed', { learner: learnerId, kind }),
    passed: (learnerId, { lab, check }) => publish('learner.passed', { learner: learnerId, lab, check }),
    close: () => {
      for (const off of unsubscribe) off();
    },
  };
}
