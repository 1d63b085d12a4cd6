/**
 * The learner scope of `policy.ts`, written as the IAM policy an external S3 (MinIO, AWS)
 * enforces on learner credentials minted with STS AssumeRole (the inline session `Policy`).
 *
 *   - everything on one's own bucket (but not deleting it, nor giving it a bucket policy:
 *     the embedded endpoint refuses both, and a bucket policy would open it to others);
 *   - s3:ListBucket on any bucket only with `s3:prefix` `diffusion/…`, plus the one request
 *     clients send to walk to it: `mc ls s3/<them>/diffusion/` first lists prefix `diffusion`
 *     (no slash) with delimiter `/` (MaxKeys 1) to learn whether it is a folder, then lists
 *     prefix `diffusion/`. `aws s3 ls s3://<them>/diffusion` sends the same walk request;
 *   - s3:GetObject on `<any bucket>/diffusion/*`;
 *   - nothing else. No s3:ListAllMyBuckets: MinIO answers ListBuckets without it by listing
 *     the buckets that allow ListBucket with prefix "" and delimiter "/", i.e. only one's own
 *     (as the embedded endpoint does); AWS refuses `aws s3 ls` without it.
 *
 * What IAM cannot say that `policy.ts` does (see the unit test, which evaluates it):
 *   - no result filtering: the walk request (prefix `diffusion`, delimiter `/`) of another
 *     bucket also shows top-level names that start with `diffusion` (`diffusion-old/`, …);
 *     an empty prefix is NOT allowed, so `mc ls s3/<them>/` and `mc ls s3/<them>` are refused
 *     where the embedded endpoint shows `diffusion/` alone.
 *   - `*` in a resource ARN also matches `/`: with the default bucket pattern `*`,
 *     `arn:aws:s3:::*\/diffusion/*` also grants `<them>/any/path/diffusion/<key>` to whoever
 *     knows the exact key (it is never listable). Pass `otherBuckets` patterns that cannot
 *     span a `/` for a bucket-naming scheme (e.g. `u???????????` for 12-character learner
 *     ids, plus the shared bucket) to close it; that also keeps learners out of buckets of
 *     other tenants of the same S3.
 */

/** AWS STS and MinIO refuse inline session policies longer than this (plain text). */
export const maxSessionPolicyLength = 2048;

export const diffusionFolder = 'diffusion';

export interface SessionPolicyOptions {
  /**
   * Bucket-name patterns (IAM wildcards `*` and `?`) whose `diffusion/` the learner may list
   * and read. Default `['*']`: any bucket on that S3.
   */
  otherBuckets?: readonly string[];
}

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface SessionPolicy {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

const bucketArn = (bucket: string) => `arn:aws:s3:::${bucket}`;

export function sessionPolicy(bucket: string, options: SessionPolicyOptions = {}): SessionPolicy {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`not a valid bucket name: ${JSON.stringify(bucket)}`);
  const others = options.otherBuckets ?? ['*'];
  if (others.length === 0 || others.some((pattern) => !/^[a-z0-9.*?-]{1,63}$/.test(pattern))) {
    throw new Error(`otherBuckets: bucket-name patterns expected, got ${JSON.stringify(others)}`);
  }
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'OwnBucket', Effect: 'Allow', Action: ['s3:*'], Resource: [bucketArn(bucket), `${bucketArn(bucket)}/*`] },
      { Sid: 'KeepOwnBucket', Effect: 'Deny', Action: ['s3:DeleteBucket', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy'], Resource: [bucketArn(bucket)] },
      {
        Sid: 'ListDiffusion',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: others.map(bucketArn),
        Condition: { StringLike: { 's3:prefix': [`${diffusionFolder}/`, `${diffusionFolder}/*`] } },
      },
      {
        Sid: 'WalkToDiffusion',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: others.map(bucketArn),
        Condition: { StringEquals: { 's3:prefix': [diffusionFolder], 's3:delimiter': ['/'] } },
      },
      { Sid: 'ReadDiffusion', Effect: 'Allow', Action: ['s3:GetObject'], Resource: others.map((pattern) => `${bucketArn(pattern)}/${diffusionFolder}/*`) },
    ],
  };
}

/** The policy as sent in AssumeRole's `Policy` field; throws when over the length limit. */
export function sessionPolicyText(bucket: string, options: SessionPolicyOptions = {}): string {
  const text = JSON.stringify(sessionPolicy(bucket, options));
  if (text.length > maxSessionPolicyLength) throw new Error(`session policy for ${bucket} is ${text.length} characters, over the ${maxSessionPolicyLength} STS accepts`);
  return text;
}
