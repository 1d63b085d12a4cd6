/**
 * Anonymous learners do not accumulate: a learner unseen for `ttlMs` who left nothing behind
 * (no git settings, secret groups or progress in the store; no repository, object or upload
 * elsewhere) and has no lab running is deleted with their empty forge and bucket directories.
 * A signed-in person's learner is never anonymous: the store counts an account as data, and
 * its delete refuses an account's learner even when asked.
 * A periodic sweep walks the store's (last seen, id) index a page at a time from a cursor, so a
 * tick costs at most `pageSize` rows and lookups however many learners are kept; it wraps
 * around to the oldest once it reaches learners seen within the TTL. With several replicas the
 * sweep runs on one at a time (`lead`), its cursor starting over from the oldest on a new leader.
 */
import { rmdir } from 'node:fs/promises';
import type { LearnerCursor, LearnerStore } from './store.ts';
import { periodic } from '../periodic.ts';
import type { Lead } from '../cluster/coordinator.ts';

export interface PurgeOptions {
  store: LearnerStore;
  ttlMs: number;
  /** Data the store does not hold: repositories, objects, multipart uploads. */
  holdsData(learnerId: string): Promise<boolean>;
  /** A learner with a lab queued, starting or running is kept. */
  inUse(learnerId: string): boolean;
  /** Removes what is left of the learner outside the store (empty directories). */
  remove(learnerId: string): Promise<void>;
  log: (message: string, error?: unknown) => void;
  pageSize?: number;
  intervalMs?: number;
  now?: () => number;
  /** Replicas sharing the store: the timer ticks only on the one leading `learner-purge`. */
  lead?: Lead;
}

export interface Purge {
  /** One page of the walk; how many learners it deleted. */
  tick(): Promise<number>;
  stop(): Promise<void>;
}

export function startAnonymousPurge(options: PurgeOptions): Purge {
  const { store, ttlMs, pageSize = 200, intervalMs = 60_000, now = Date.now } = options;
  let cursor: LearnerCursor | undefined;

  const page = async (): Promise<number> => {
    const before = now() - ttlMs;
    const learners = await store.unseenLearners(before, cursor, pageSize);
    cursor = learners.length < pageSize ? undefined : learners[learners.length - 1];
    let deleted = 0;
    for (const learner of learners) {
      if (learner.holdsData || options.inUse(learner.id)) continue;
      try {
        if (await options.holdsData(learner.id)) {
          // Looking costs a directory read or a listing: not again before another TTL.
          await store.touch(learner.id);
          continue;
        }
        // Conditional on last_seen: a learner who came back while we looked is kept.
        if (!(await store.deleteIfIdle(learner.id, before))) continue;
        deleted += 1;
        await options.remove(learner.id);
      } catch (error) {
        options.log(`purge of anonymous learner ${learner.id}`, error);
      }
    }
    return deleted;
  };

  const timer = periodic(intervalMs, page, (error) => options.log('purge of anonymous learners', error), options.lead && { lead: options.lead, name: 'learner-purge' });
  return { tick: timer.run, stop: timer.stop };
}

/** rmdir of each path in order, keeping any that is not empty (or gone): never removes data. */
export async function removeEmptyDirs(paths: string[]): Promise<void> {
  for (const path of paths) {
    await rmdir(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT' && error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  }
}
