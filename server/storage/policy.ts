/**
 * The datalab's per-learner scope: everything on one's own bucket; listing and reading the
 * `diffusion/` folder of any learner's bucket; nothing else.
 */
import type { S3Credential } from './credentials.ts';

export const diffusionPrefix = 'diffusion/';

export function ownsBucket(credential: S3Credential, bucket: string): boolean {
  return credential.bucket === bucket;
}

export function mayReadObject(credential: S3Credential, bucket: string, key: string): boolean {
  return ownsBucket(credential, bucket) || key.startsWith(diffusionPrefix);
}

export function mayWriteObject(credential: S3Credential, bucket: string): boolean {
  return ownsBucket(credential, bucket);
}

/**
 * Whether a listing of `bucket` under `prefix` is allowed, and which keys it may show: all of
 * them in one's own bucket; in another learner's bucket only a prefix on the way to or inside
 * `diffusion/` (so `ls s3/<them>` shows `diffusion/` and nothing beside it).
 */
export function listScope(credential: S3Credential, bucket: string, prefix: string): { allowed: boolean; only?: string } {
  if (ownsBucket(credential, bucket)) return { allowed: true };
  if (prefix.startsWith(diffusionPrefix) || diffusionPrefix.startsWith(prefix)) return { allowed: true, only: diffusionPrefix };
  return { allowed: false };
}
