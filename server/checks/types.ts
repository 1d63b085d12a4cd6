/**
 * What every check kind shares: the context it runs in and the result the API returns.
 * Checks look at the lab's real state through `driver.exec`, inside the lab, as the lab's user:
 * never by reading files from the host side.
 */
import type { TFunction } from 'i18next';
import type { Driver, LabHandle } from '../drivers/driver.ts';
import type { Language } from '../../i18n/index.ts';

/** The learner's durable state that `git.pushed` and `s3.object` look at (never the browser's word). */
export interface LearnerEvidence {
  learnerId: string;
  forge: {
    exists(learnerId: string, repo: string): boolean;
    hasPath(learnerId: string, repo: string, path: string, options?: { contentRegex?: RegExp | string }): Promise<boolean>;
  };
  objects: { head(bucket: string, key: string): Promise<{ size: number; headers: Record<string, string> } | undefined> };
  /** The learner's own bucket. */
  bucket: string;
}

export interface CheckContext {
  driver: Driver;
  handle: LabHandle;
  /** Present when the lab belongs to a learner; checks on learner data need it. */
  learner?: LearnerEvidence;
  language: Language;
  t: TFunction;
  /** Upper bound for one check's commands (ms). */
  timeoutMs: number;
}

/** What a kind reports; the dispatcher adds the check id, the hint and the message. */
export interface Observation {
  ok: boolean;
  /** Localized: what the learner should have done. */
  expected: string;
  /** Localized: what the check found instead (or found, when ok). */
  found: string;
}

export interface CheckResult {
  check: string;
  ok: boolean;
  expected: string;
  found: string;
  hint?: string;
  message: string;
}

/** The lab user's home: `~` in lab.yaml paths. */
export const labHome = '/home/onyxia';

/** Thrown by a kind when the lab did not answer in time. */
export class CheckTimeout extends Error {
  constructor() {
    super('check timed out');
    this.name = 'CheckTimeout';
  }
}

/** driver.exec with a deadline of our own, whatever the driver does with timeoutMs. */
export async function execWithin(context: CheckContext, argv: string[]) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout()), context.timeoutMs + 2_000);
  });
  try {
    return await Promise.race([context.driver.exec(context.handle, argv, { timeoutMs: context.timeoutMs }), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
