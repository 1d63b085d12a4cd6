/**
 * What both learner stores mint and how they hash it: ids, personal access tokens and S3 keys
 * are made here so that a learner's data means the same in SQLite and PostgreSQL.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { S3Credentials } from './store.ts';

/** Tokens are stored and looked up by this hash: equal hashes mean equal tokens, and the lookup leaks no timing about the token. */
export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomId(length: number, chars = alphabet): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (byte) => chars[byte % chars.length]).join('');
}

/** Learner ids double as bucket names and forge paths: lower-case letters and digits only. */
export const newLearnerId = () => `u${randomId(11)}`;

export const newGitToken = () => `atl_${randomBytes(24).toString('base64url')}`;

export function newS3Credentials(expiresAt: number): S3Credentials {
  return {
    accessKeyId: randomId(20, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'),
    secretAccessKey: randomBytes(30).toString('base64url'),
    sessionToken: randomBytes(48).toString('base64url'),
    expiresAt,
  };
}
