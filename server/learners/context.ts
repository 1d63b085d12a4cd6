/**
 * Everything the HTTP layer needs to serve learners: their store, how their labs are launched,
 * and the evidence their checks read (forge and bucket). Built once in server/app.ts.
 */
import type { LearnerEvidence } from '../checks/types.ts';
import type { LaunchServices } from './launch.ts';
import type { LearnerStore } from './store.ts';
import type { Progress } from './progress.ts';

export interface LearnerContext {
  store: LearnerStore;
  /** Signs the learner cookie. */
  cookieSecret: Buffer;
  /** New learner identities per client address and hour. */
  newLearnersPerHour: number;
  launch: LaunchServices;
  evidence(learnerId: string): LearnerEvidence;
  /** Step progress: the learner's manual ticks and the server's check results. */
  progress: Progress;
}
