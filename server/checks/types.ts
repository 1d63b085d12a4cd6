/**
 * What every check kind shares: the context it runs in and the result the API returns.
 * Checks look at the lab's real state through `driver.exec`, inside the lab, as the lab's user:
 * never by reading files from the host side.
 */
import type { TFunction } from 'i18next';
import type { Driver, LabHandle } from '../drivers/driver.ts';
import type { Readable } from 'node:stream';
import type { Language } from '../../i18n/index.ts';
import type { accountVariables } from '../labs/schema.ts';

export type AccountVariable = (typeof accountVariables)[number];

/** The learner's durable state that checks compare the lab with (never the browser's word). */
export interface LearnerEvidence {
  learnerId: string;
  forge: {
    exists(learnerId: string, repo: string): boolean;
    hasPath(learnerId: string, repo: string, path: string, options?: { contentRegex?: RegExp | string }): Promise<boolean>;
    /** The URL a lab clones the repository from (`$FORGE_URL/<repo>.git`). */
    repoUrl(repo: string): string;
    /** The commit is in the learner's repository on the forge. */
    hasCommit(repo: string, sha: string): Promise<boolean>;
  };
  objects: {
    head(bucket: string, key: string): Promise<{ size: number; etag: string; lastModified: number; headers: Record<string, string> } | undefined>;
    read(bucket: string, key: string): Promise<{ stream: Readable } | undefined>;
  };
  /** The learner's own bucket. */
  bucket: string;
  /** The trainers' shared bucket (its diffusion/ holds the labs' shared files). */
  sharedBucket: string;
  /** What the account gives a lab at launch, by the variable's name; unset ones are missing. */
  account(): Promise<Partial<Record<AccountVariable, string>>>;
  /** A secret group's variables, undefined when the learner has no such group. */
  secretGroup(group: string): Promise<Record<string, string> | undefined>;
  /** The lab instance a check of a lab last passed in (durable: server/learners/store.ts). */
  passes: {
    record(lab: string, check: string, instance: string): Promise<void>;
    last(lab: string, check: string): Promise<string | undefined>;
  };
}

/** The lab instance a check runs against. */
export interface LabInstance {
  /** The lab definition's id (labs/<id>/lab.yaml). */
  id: string;
  /** This launch's session id: a relaunch gets a new one. */
  instance: string;
  /** The secret group chosen at launch, if any. */
  secrets?: string;
  /** The lab definition's workspace, inside the lab (where notebook checks look). */
  workspace: string;
}

/** The instance a lab session is (the session's shape, not its module: checks sit below labs/). */
export function labInstance(session: { id: string; labId: string; configured: { secrets?: string }; lab: { workspace: string } }): LabInstance {
  return { id: session.labId, instance: session.id, workspace: session.lab.workspace, ...(session.configured.secrets ? { secrets: session.configured.secrets } : {}) };
}

export interface CheckContext {
  driver: Driver;
  handle: LabHandle;
  lab: LabInstance;
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
  /** Localized: one sentence saying what the check found ("No folder mon-dossier in ~/work yet."). */
  found: string;
}

export interface CheckResult {
  check: string;
  ok: boolean;
  expected: string;
  found: string;
  hint?: string;
  /** What the page shows: on failure, the sentence of `found` followed by the hint. */
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
export async function execWithin(context: CheckContext, argv: string[], stdin?: string) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout()), context.timeoutMs + 2_000);
  });
  try {
    return await Promise.race([context.driver.exec(context.handle, argv, { timeoutMs: context.timeoutMs, ...(stdin !== undefined ? { stdin } : {}) }), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
