/**
 * Durable learner data: identity, git settings and personal access token, secret groups, S3
 * credentials, step progress and the lab instance each check last passed in. Everything here
 * outlives labs and server restarts.
 * `LearnerStore` is the interface, asynchronous so that a store may be across the network:
 * `SqliteLearnerStore` is the embedded default (node:sqlite, one file), `PgLearnerStore` the one
 * several server replicas share (PostgreSQL).
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
  /** The signed-in person whose learner this is; undefined: anonymous. */
  account?: Account;
}

/** Who signed in with the school's OpenID Connect provider, as their last sign-in said. */
export interface Account {
  issuer: string;
  subject: string;
  name: string;
  email: string;
  /** The configured trainer claim held at the last sign-in. */
  trainer: boolean;
  signedInAt: number;
  /** What the last sign-in merged in from the device's anonymous learner (server/auth/accounts.ts); JSON. */
  mergeReport?: string;
}

export type AccountProfile = Pick<Account, 'name' | 'email' | 'trainer' | 'signedInAt' | 'mergeReport'>;

/** What `mergeLearner` moved into the account's learner, and the device's that it left out. */
export interface StoreMerge {
  /** Steps the account's learner did not have. */
  steps: number;
  secretGroups: string[];
  /** Groups the account had a group of that name for: the account's kept, the device's dropped. */
  secretGroupsKept: string[];
  /** Whether the device's git name and email were taken (the account had none). */
  git: boolean;
  /** Classes the device's learner had joined that the account now is a member of. */
  classes: number;
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
  create(): Promise<Learner>;
  get(id: string): Promise<Learner | undefined>;
  /** Records that the learner is around now. */
  touch(id: string): Promise<void>;
  /**
   * Up to `limit` learners last seen before `before`, in (lastSeenAt, id) order from after
   * `cursor`, each saying whether this store holds data of theirs (git settings, secret groups,
   * progress): a purge walks them a page at a time.
   */
  unseenLearners(before: number, cursor: LearnerCursor | undefined, limit: number): Promise<UnseenLearner[]>;
  /** Deletes the learner and everything the store holds of them, if still unseen since `before`. */
  deleteIfIdle(id: string, before: number): Promise<boolean>;
  setGit(id: string, git: GitSettings): Promise<void>;
  /** A new personal access token; earlier ones stop working. */
  rotateGitToken(id: string): Promise<string>;
  gitToken(id: string): Promise<string | undefined>;
  learnerByGitToken(token: string): Promise<string | undefined>;
  secretGroups(id: string): Promise<{ group: string; names: string[]; updatedAt: number }[]>;
  secretGroup(id: string, group: string): Promise<SecretVars | undefined>;
  putSecretGroup(id: string, group: string, vars: SecretVars): Promise<void>;
  deleteSecretGroup(id: string, group: string): Promise<boolean>;
  /** Current S3 credentials, minted anew when missing or close to expiry. */
  s3Credentials(id: string): Promise<S3Credentials>;
  /** New S3 credentials; every earlier key of the learner stops working at once. */
  rotateS3Credentials(id: string): Promise<S3Credentials>;
  s3CredentialsByAccessKey(accessKeyId: string): Promise<(S3Credentials & { learnerId: string }) | undefined>;
  /** Steps done on `page` (a page's path without its language: `/tp/terminal/`), oldest first. */
  progress(id: string, page: string): Promise<string[]>;
  /** Every page the learner has progress on, with its steps done. */
  allProgress(id: string): Promise<Record<string, string[]>>;
  /** How many pages the learner has progress on (a quota reads it). */
  progressPages(id: string): Promise<number>;
  /** Records a step done or not; whether that changed anything. */
  setProgress(id: string, page: string, step: string, done: boolean): Promise<boolean>;
  /** Marks a step done by its check's solve script ("Skip this step"); false when the step is not done. Unticking it forgets the mark. */
  markSkipped(id: string, page: string, step: string): Promise<boolean>;
  /** Every page's steps marked skipped, oldest first (the class view shows them apart). */
  skippedSteps(id: string): Promise<Record<string, string[]>>;
  /** Remembers that the check of that lab passed in that lab instance (the latest pass wins). */
  recordCheckPass(id: string, lab: string, check: string, instance: string): Promise<void>;
  lastCheckPass(id: string, lab: string, check: string): Promise<CheckPass | undefined>;
  /** The learner of the provider's (issuer, subject), if they signed in before. */
  accountLearner(issuer: string, subject: string): Promise<string | undefined>;
  /**
   * Makes the anonymous learner `id` the account's, unless the account already has a learner
   * (two first sign-ins at once): returns the account's learner either way; undefined when
   * `id` is another account's and the account has none.
   */
  linkAccount(id: string, issuer: string, subject: string, profile: AccountProfile): Promise<string | undefined>;
  updateAccount(id: string, profile: AccountProfile): Promise<void>;
  /**
   * Moves what the store holds of learner `from` into `into`, in one transaction: steps and
   * check passes the account lacks, secret groups of names it has none of, git settings when it
   * has none. `from` is left with what was not taken; deleting it is the caller's.
   */
  mergeLearner(from: string, into: string): Promise<StoreMerge>;
  /** Deletes an anonymous learner and what the store holds of them (never an account's). */
  deleteAnonymous(id: string): Promise<boolean>;
  close(): Promise<void>;
}
