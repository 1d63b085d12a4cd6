/**
 * Durable learner data: identity, git settings and personal access token, secret groups, S3
 * credentials and step progress. Everything here outlives labs and server restarts.
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
  git: GitSettings;
}

export type SecretVars = Record<string, string>;

export interface LearnerStore {
  create(): Learner;
  get(id: string): Learner | undefined;
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
  s3CredentialsByAccessKey(accessKeyId: string): (S3Credentials & { learnerId: string }) | undefined;
  progress(id: string, page: string): string[];
  setProgress(id: string, page: string, step: string, done: boolean): void;
  close(): void;
}
