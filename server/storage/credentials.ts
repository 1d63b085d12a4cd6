/**
 * Who holds which S3 key. The endpoint only reads credentials through `CredentialStore`; the
 * lab server's learner store (SQLite or PostgreSQL, hence maybe a promise) implements it, tests
 * use `MemoryCredentialStore`.
 */
import { randomBytes } from 'node:crypto';

export interface S3Credential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch milliseconds after which the credential is refused with ExpiredToken. */
  expiresAt: number;
  learnerId: string;
  /** The learner's own bucket: full access there, read-only `diffusion/` elsewhere. */
  bucket: string;
}

export interface CredentialStore {
  byAccessKey(accessKeyId: string): S3Credential | undefined | Promise<S3Credential | undefined>;
}

/** An in-memory store, for tests and for single-process development. */
export class MemoryCredentialStore implements CredentialStore {
  readonly #byKey = new Map<string, S3Credential>();

  add(credential: S3Credential): S3Credential {
    this.#byKey.set(credential.accessKeyId, credential);
    return credential;
  }

  remove(accessKeyId: string): void {
    this.#byKey.delete(accessKeyId);
  }

  byAccessKey(accessKeyId: string): S3Credential | undefined {
    return this.#byKey.get(accessKeyId);
  }

  /** Mints a fresh credential for a learner (random key, secret and session token). */
  issue(learnerId: string, bucket: string, ttlMs = 2 * 3600_000, now = Date.now()): S3Credential {
    return this.add({
      accessKeyId: `AK${randomBytes(9).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64url'),
      sessionToken: randomBytes(48).toString('base64url'),
      expiresAt: now + ttlMs,
      learnerId,
      bucket,
    });
  }
}
