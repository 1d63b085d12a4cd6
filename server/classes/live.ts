/**
 * Classes live: which members changed, on every replica, and the trainers' open views told of it
 * at most every `coalesceMs` (a class's burst of checks is one update per viewer, not fifty).
 * What changes a row: a step ticked (learner events, already carried by the bus), a check's
 * outcome (activity: the replica it happened on records it in the class store, then tells the
 * others on `class.changed`), a lab's state (sessions, which every replica holds), a member
 * joining, renamed or leaving (`class.changed`). Trainers' messages go to the learner's open
 * docks on whichever replica holds them (`class.message`).
 */
import type { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { Activity, ActivityEmitter } from '../activity/activity.ts';
import type { Coordinator } from '../cluster/coordinator.ts';
import type { Sessions } from '../labs/sessions.ts';
import type { LearnerEvents } from '../learners/platform.ts';
import type { ClassMessage, ClassStore } from './store.ts';

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const messages = {
  'class.changed': z.object({ learner: id, class: id.optional() }).strict(),
  'class.message': z.object({ learner: id, id: z.string().uuid(), class: id, text: z.string().max(2000), sentAt: z.number().int() }).strict(),
};

/** One open view of a class (a trainer's SSE stream): told which members to redraw. */
export interface Viewer {
  update(learnerIds: Set<string> | 'all'): void;
}

export interface LiveOptions {
  store: ClassStore;
  coordinator: Coordinator;
  learnerEvents: EventEmitter<LearnerEvents>;
  sessions: Sessions;
  activity?: ActivityEmitter;
  coalesceMs?: number;
  onError: (error: unknown, context: string) => void;
}

interface Watch {
  members: Set<string>;
  viewers: Set<Viewer>;
  dirty: Set<string> | 'all';
  timer: NodeJS.Timeout | undefined;
  flushedAt: number;
}

export class ClassLive {
  readonly #store: ClassStore;
  readonly #coordinator: Coordinator;
  readonly #coalesceMs: number;
  readonly #onError: LiveOptions['onError'];
  /** Classes open in a view on this replica. */
  readonly #watches = new Map<string, Watch>();
  /** Learner → the watched classes they are in. */
  readonly #classesOf = new Map<string, Set<string>>();
  /** Learner → their open docks' message listeners on this replica. */
  readonly #inboxes = new Map<string, Set<(message: ClassMessage) => void>>();
  readonly #off: (() => void)[] = [];

  constructor(options: LiveOptions) {
    this.#store = options.store;
    this.#coordinator = options.coordinator;
    this.#coalesceMs = options.coalesceMs ?? 250;
    this.#onError = options.onError;
    const onProgress = (learnerId: string) => this.#changed(learnerId);
    const onResync = () => {
      for (const watch of this.#watches.values()) this.#mark(watch, 'all');
    };
    options.learnerEvents.on('progress', onProgress);
    options.learnerEvents.on('resync', onResync);
    const onSession = (session: { learnerId?: string }) => session.learnerId && this.#changed(session.learnerId);
    options.sessions.on('changed', onSession);
    options.sessions.on('stopped', onSession);
    const onActivity = (activity: Activity, local: boolean) => {
      if (!local || (activity.type !== 'check.passed' && activity.type !== 'check.failed')) return;
      void this.#recordOutcome(activity.learner, activity.lab, activity.check, activity.type === 'check.passed', activity.feedback ?? '', activity.at);
    };
    options.activity?.on('activity', onActivity);
    this.#off.push(
      () => options.learnerEvents.off('progress', onProgress),
      () => options.learnerEvents.off('resync', onResync),
      () => options.sessions.off('changed', onSession),
      () => options.sessions.off('stopped', onSession),
      () => options.activity?.off('activity', onActivity),
      this.#subscribe('class.changed', ({ learner, class: classId }) => (classId ? void this.#refreshMembers(classId, learner) : this.#changed(learner)), onResync),
      this.#subscribe('class.message', ({ learner, ...message }) => {
        for (const deliver of this.#inboxes.get(learner) ?? []) deliver({ ...message, classId: message.class, learnerId: learner });
      }),
    );
  }

  #subscribe<T extends keyof typeof messages>(topic: T, deliver: (message: z.infer<(typeof messages)[T]>) => void, onGap?: () => void): () => void {
    return this.#coordinator.subscribe(
      topic,
      (payload) => {
        const parsed = messages[topic].safeParse(payload);
        if (parsed.success) deliver(parsed.data as z.infer<(typeof messages)[T]>);
        else this.#onError(new Error(`dropped a bus message on ${topic}: not one of its shape`), 'class bus');
      },
      onGap,
    );
  }

  #publish(topic: keyof typeof messages, payload: unknown): void {
    void this.#coordinator.publish(topic, payload).catch((error: unknown) => this.#onError(error, `class bus: publish on ${topic}`));
  }

  async #recordOutcome(learnerId: string, lab: string, check: string, passed: boolean, feedback: string, at: number): Promise<void> {
    try {
      // Only members' outcomes are kept: a learner outside every class leaves nothing here.
      if ((await this.#store.ofLearner(learnerId)).length === 0) return;
      await this.#store.recordOutcome({ learnerId, lab, check, passed, feedback, at });
      this.#publish('class.changed', { learner: learnerId });
    } catch (error) {
      this.#onError(error, 'class outcome');
    }
  }

  /** A member joined, was renamed or left `classId` (told to every replica). */
  membersChanged(classId: string, learnerId: string): void {
    this.#publish('class.changed', { learner: learnerId, class: classId });
  }

  /** Sends stored messages to the learners' open docks, wherever they are. */
  delivered(sent: ClassMessage[]): void {
    for (const message of sent) this.#publish('class.message', { learner: message.learnerId, id: message.id, class: message.classId, text: message.text, sentAt: message.sentAt });
  }

  async #refreshMembers(classId: string, learnerId: string): Promise<void> {
    const watch = this.#watches.get(classId);
    if (!watch) return;
    try {
      const member = await this.#store.member(classId, learnerId);
      if (member) this.#index(classId, watch, learnerId);
      else {
        watch.members.delete(learnerId);
        this.#classesOf.get(learnerId)?.delete(classId);
      }
      this.#mark(watch, new Set([learnerId]));
    } catch (error) {
      this.#onError(error, 'class members');
    }
  }

  #index(classId: string, watch: Watch, learnerId: string): void {
    watch.members.add(learnerId);
    const classes = this.#classesOf.get(learnerId) ?? new Set<string>();
    this.#classesOf.set(learnerId, classes.add(classId));
  }

  #changed(learnerId: string): void {
    for (const classId of this.#classesOf.get(learnerId) ?? []) {
      const watch = this.#watches.get(classId);
      if (watch) this.#mark(watch, new Set([learnerId]));
    }
  }

  #mark(watch: Watch, learners: Set<string> | 'all'): void {
    if (learners === 'all' || watch.dirty === 'all') watch.dirty = 'all';
    else for (const learner of learners) watch.dirty.add(learner);
    if (watch.timer) return;
    const wait = Math.max(0, watch.flushedAt + this.#coalesceMs - Date.now());
    watch.timer = setTimeout(() => {
      watch.timer = undefined;
      watch.flushedAt = Date.now();
      const dirty = watch.dirty;
      watch.dirty = new Set();
      for (const viewer of watch.viewers) viewer.update(dirty);
    }, wait);
  }

  /** Follows `classId` for `viewer` until the returned function is called. */
  async watch(classId: string, viewer: Viewer): Promise<() => void> {
    let watch = this.#watches.get(classId);
    if (!watch) {
      watch = { members: new Set(), viewers: new Set(), dirty: new Set(), timer: undefined, flushedAt: 0 };
      this.#watches.set(classId, watch);
      for (const member of await this.#store.members(classId)) this.#index(classId, watch, member.learnerId);
    }
    watch.viewers.add(viewer);
    const current = watch;
    return () => {
      current.viewers.delete(viewer);
      if (current.viewers.size > 0 || this.#watches.get(classId) !== current) return;
      clearTimeout(current.timer);
      this.#watches.delete(classId);
      for (const learner of current.members) {
        const classes = this.#classesOf.get(learner);
        classes?.delete(classId);
        if (classes?.size === 0) this.#classesOf.delete(learner);
      }
    };
  }

  /** Hears the learner's messages (their dock's stream) until the returned function is called. */
  inbox(learnerId: string, deliver: (message: ClassMessage) => void): () => void {
    const set = this.#inboxes.get(learnerId) ?? new Set();
    this.#inboxes.set(learnerId, set.add(deliver));
    return () => {
      set.delete(deliver);
      if (set.size === 0) this.#inboxes.delete(learnerId);
    };
  }

  close(): void {
    for (const off of this.#off) off();
    for (const watch of this.#watches.values()) clearTimeout(watch.timer);
    this.#watches.clear();
  }
}
