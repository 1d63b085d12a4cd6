/**
 * Durable learner data: identity, git settings and personal access token, secret groups, S3
 * credentials, step progress and the lab instance each check last passed in. Everything here
 * outlives labs and server restarts.
 * `LearnerStore` is the interface; `SqliteLearnerStore` the embedded default (node:sqlite, one
 * file); a PostgreSQL implementation can serve several server replicas later.
 */
export interface GitSettings {
  name: string;
  email: string;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
}

export interface Learner {
  id: string;
  createdAt: number;
  /** Last time the learner's cookie was seen (updated coarsely: see `touch`). */
  lastSeenAt: number;
  git: GitSettings;
}

export interface LearnerCursor {
  lastSeenAt: number;
  id: string;
}

export interface UnseenLearner extends LearnerCursor {
  holdsData: boolean;
}

export type SecretVars = Record<string, string>;

/** Where and when a learner last passed a check: the lab instance (session id) it ran in. */
export interface CheckPass {
  instance: string;
  passedAt: number;
}

export interface LearnerStore {
  create(): Learner;
  get(id: string): Learner | undefined;
  /** Records that the learner is around now. */
  touch(id: string): void;
  /**
   * Up to `limit` learners last seen before `before`, in (lastSeenAt, id) order from after
   * `cursor`, each saying whether this store holds data of theirs (git settings, secret groups,
   * progress): a purge walks them a page at a time.
   */
  unseenLearners(before: number, cursor: LearnerCursor | undefined, limit: number): UnseenLearner[];
  /** Deletes the learner and everything the store holds of them, if still unseen since `before`. */
  deleteIfIdle(id: string, before: number): boolean;
  setGit(id: string, git: GitSettings): void;
  /** A new personal access token; earlier ones stop working. */
  rotateGitToken(id: string): string;
  gitToken(id: string): string | undefined;
  learnerByGitToken(token: string): string | undefined;
  secretGroups(id: string): { group: string; names: string[]; updatedAt: number }[];
  secretGroup(id: string, group: string): SecretVars | undefined;
  putSecretGroup(id: string, group: string, vars: SecretVars): void;
  deleteSecretGroup(id: string, group: string): boolean;
  /** Current S3 credentials, minted anew when missing or close to expiry. */
  s3Credentials(id: string): S3Credentials;
  /** New S3 credentials; every earlier key of the learner stops working at once. */
  rotateS3Credentials(id: string): S3Credentials;
  s3CredentialsByAccessKey(accessKeyId: string): (S3Credentials & { learnerId: string }) | undefined;
  /** Steps done on `page` (a page's path without its language: `/tp/terminal/`), oldest first. */
  progress(id: string, page: string): string[];
  /** Every page the learner has progress on, with its steps done. */
  allProgress(id: string): Record<string, string[]>;
  /** How many pages the learner has progress on (a quota reads it). */
  progressPages(id: string): number;
  /** Records a step done or not; whether that changed anything. */
  setProgress(id: string, page: string, step: string, done: boolean): boolean;
  /** Remembers that the check of that lab passed in that lab instance (the latest pass wins). */
  recordCheckPass(id: string, lab: string, check: string, instance: string): void;
  lastCheckPass(id: string, lab: string, check: string): CheckPass | undefined;
  close(): void;
}
