/**
 * The session policy for learner credentials on an external S3: its scope, found by evaluating
 * its statements the way IAM does (explicit Deny wins, then any Allow, else deny; `*` and `?`
 * wildcards in actions and resources, where `*` also matches `/`; StringEquals/StringLike
 * conditions need the key present in the request), on the requests the real clients send.
 * This is our reading of IAM semantics, not MinIO's or AWS's evaluator.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExternalS3 } from '../../server/storage/external.ts';
import { maxSessionPolicyLength, sessionPolicy, sessionPolicyText, type SessionPolicy } from '../../server/storage/session-policy.ts';

interface Request {
  action: string;
  bucket: string;
  key?: string;
  /** Condition context, e.g. { 's3:prefix': '', 's3:delimiter': '/' }; absent keys are absent. */
  context?: Record<string, string>;
}

function wildcard(pattern: string, value: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${source}$`, 's').test(value);
}

function conditionHolds(condition: Record<string, Record<string, string[]>> | undefined, context: Record<string, string>): boolean {
  for (const [operator, keys] of Object.entries(condition ?? {})) {
    for (const [key, values] of Object.entries(keys)) {
      const actual = context[key];
      if (actual === undefined) return false;
      if (operator === 'StringEquals' && !values.includes(actual)) return false;
      else if (operator === 'StringLike' && !values.some((value) => wildcard(value, actual))) return false;
      else if (operator !== 'StringEquals' && operator !== 'StringLike') throw new Error(`operator ${operator} not modelled`);
    }
  }
  return true;
}

function allowed(policy: SessionPolicy, request: Request): boolean {
  const resource = `arn:aws:s3:::${request.bucket}${request.key === undefined ? '' : `/${request.key}`}`;
  const matching = policy.Statement.filter(
    (statement) =>
      statement.Action.some((action) => wildcard(action, request.action)) &&
      statement.Resource.some((pattern) => wildcard(pattern, resource)) &&
      conditionHolds(statement.Condition, request.context ?? {}),
  );
  return !matching.some((statement) => statement.Effect === 'Deny') && matching.some((statement) => statement.Effect === 'Allow');
}

const own = 'ualice000001';
const other = 'ubob00000002';
const policy = sessionPolicy(own);

const list = (bucket: string, prefix?: string, delimiter?: string): Request => ({
  action: 's3:ListBucket',
  bucket,
  context: { ...(prefix === undefined ? {} : { 's3:prefix': prefix }), ...(delimiter === undefined ? {} : { 's3:delimiter': delimiter }) },
});

test('own bucket: every object and bucket operation, but not deleting it or giving it a policy', () => {
  for (const action of ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']) {
    assert.ok(allowed(policy, { action, bucket: own, key: 'private/notes.txt' }), action);
    assert.ok(allowed(policy, { action, bucket: own, key: 'x/diffusion/y' }), `${action} deep diffusion`);
  }
  for (const context of [{}, { 's3:prefix': '' }, { 's3:prefix': 'private/', 's3:delimiter': '/' }] as Record<string, string>[]) {
    assert.ok(allowed(policy, { action: 's3:ListBucket', bucket: own, context }), JSON.stringify(context));
  }
  for (const action of ['s3:ListBucketMultipartUploads', 's3:GetBucketLocation', 's3:CreateBucket', 's3:GetBucketVersioning']) {
    assert.ok(allowed(policy, { action, bucket: own }), action);
  }
  for (const action of ['s3:DeleteBucket', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy']) {
    assert.equal(allowed(policy, { action, bucket: own }), false, action);
  }
});

test("another learner's bucket: read diffusion/ only", () => {
  assert.ok(allowed(policy, { action: 's3:GetObject', bucket: other, key: 'diffusion/airports.csv' }));
  assert.ok(allowed(policy, { action: 's3:GetObject', bucket: other, key: 'diffusion/deep/er/file.parquet' }));
  assert.ok(allowed(policy, { action: 's3:GetObject', bucket: 'atelier', key: 'diffusion/shared.csv' }), 'the shared bucket');
  for (const key of ['private/secret.txt', 'secret.txt', 'diffusion', 'diffusionX/a', 'Diffusion/a']) {
    assert.equal(allowed(policy, { action: 's3:GetObject', bucket: other, key }), false, key);
  }
  for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:PutObjectAcl', 's3:GetObjectAcl', 's3:GetObjectTagging']) {
    assert.equal(allowed(policy, { action, bucket: other, key: 'diffusion/airports.csv' }), false, action);
  }
  for (const action of ['s3:DeleteBucket', 's3:PutBucketPolicy', 's3:GetBucketPolicy', 's3:ListBucketMultipartUploads', 's3:CreateBucket', 's3:GetBucketLocation', 's3:PutBucketAcl']) {
    assert.equal(allowed(policy, { action, bucket: other }), false, action);
  }
});

test('listing another bucket: diffusion/ prefixes and the walk mc and aws send to reach them', () => {
  // mc ls s3/<them>/diffusion/: Stat lists prefix "diffusion", delimiter "/", then lists "diffusion/".
  assert.ok(allowed(policy, list(other, 'diffusion', '/')));
  assert.ok(allowed(policy, list(other, 'diffusion/', '/')));
  assert.ok(allowed(policy, list(other, 'diffusion/2024/', '/')));
  // aws s3 ls --recursive / mc cp --recursive: no delimiter.
  assert.ok(allowed(policy, list(other, 'diffusion/')));
  assert.ok(allowed(policy, list(other, 'diffusion/data')));
  // Anything else lists names outside diffusion/.
  for (const [prefix, delimiter] of [
    [undefined, undefined], // HeadBucket, or a listing without prefix: every key
    ['', undefined],
    ['', '/'], // mc ls s3/<them>/: top-level names (refused; the embedded endpoint filters instead)
    ['diffusion', undefined], // diffusion-old/… recursively
    ['diffusion', '-'],
    ['d', '/'],
    ['private/', '/'],
    ['diffusio', '/'],
  ] as const) {
    assert.equal(allowed(policy, list(other, prefix, delimiter)), false, `prefix ${prefix} delimiter ${delimiter}`);
  }
});

test('listing buckets: none granted; MinIO falls back to those listable with prefix "" and delimiter "/": only ones own', () => {
  assert.equal(allowed(policy, { action: 's3:ListAllMyBuckets', bucket: '*' }), false);
  const shown = [own, other, 'atelier'].filter((bucket) => allowed(policy, list(bucket, '', '/')));
  assert.deepEqual(shown, [own]);
});

test('nothing outside s3, nor admin actions', () => {
  for (const action of ['sts:AssumeRole', 'iam:CreateUser', 'admin:ServerInfo', 's3:ListAllMyBuckets']) {
    assert.equal(allowed(policy, { action, bucket: '*' }), false, action);
  }
});

test('IAM wildcards span "/": the default pattern also reads <them>/…/diffusion/<key>; bucket patterns close it', () => {
  // A documented limit of the default ("any bucket", as specified): the key must be known, it is never listable.
  assert.equal(allowed(policy, { action: 's3:GetObject', bucket: other, key: 'work/diffusion/x.csv' }), true);
  assert.equal(allowed(policy, list(other, 'work/diffusion/')), false);

  const narrowed = sessionPolicy(own, { otherBuckets: ['u???????????', 'atelier'] });
  assert.equal(allowed(narrowed, { action: 's3:GetObject', bucket: other, key: 'work/diffusion/x.csv' }), false);
  assert.ok(allowed(narrowed, { action: 's3:GetObject', bucket: other, key: 'diffusion/x.csv' }));
  assert.ok(allowed(narrowed, { action: 's3:GetObject', bucket: 'atelier', key: 'diffusion/x.csv' }));
  assert.ok(allowed(narrowed, list(other, 'diffusion/', '/')));
  assert.equal(allowed(narrowed, { action: 's3:GetObject', bucket: 'another-tenant', key: 'diffusion/x.csv' }), false);
  assert.ok(allowed(narrowed, { action: 's3:PutObject', bucket: own, key: 'work/diffusion/x.csv' }));
});

test('the exact statements (what reaches STS)', () => {
  assert.deepEqual(sessionPolicy('ubucket00001'), {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'OwnBucket', Effect: 'Allow', Action: ['s3:*'], Resource: ['arn:aws:s3:::ubucket00001', 'arn:aws:s3:::ubucket00001/*'] },
      { Sid: 'KeepOwnBucket', Effect: 'Deny', Action: ['s3:DeleteBucket', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy'], Resource: ['arn:aws:s3:::ubucket00001'] },
      { Sid: 'ListDiffusion', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::*'], Condition: { StringLike: { 's3:prefix': ['diffusion/', 'diffusion/*'] } } },
      { Sid: 'WalkToDiffusion', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::*'], Condition: { StringEquals: { 's3:prefix': ['diffusion'], 's3:delimiter': ['/'] } } },
      { Sid: 'ReadDiffusion', Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::*/diffusion/*'] },
    ],
  });
  assert.equal(JSON.parse(sessionPolicyText('ubucket00001')).Statement.length, 5);
});

test('fits the 2048-character limit of inline session policies, even at the longest bucket name', () => {
  const longest = `a${'b'.repeat(61)}c`;
  for (const options of [{}, { otherBuckets: ['u???????????', 'atelier'] }, { otherBuckets: [longest, longest.replace('a', 'd')] }]) {
    const text = sessionPolicyText(longest, options);
    assert.ok(Buffer.byteLength(text) <= maxSessionPolicyLength, `${Buffer.byteLength(text)} bytes`);
  }
  // Ours: under 800 characters (774 for a 12-character learner id).
  assert.ok(sessionPolicyText('ualice000001').length < 800, String(sessionPolicyText('ualice000001').length));
  assert.throws(() => sessionPolicyText('ualice000001', { otherBuckets: Array.from({ length: 40 }, (_, i) => `bucket-${i}-${'x'.repeat(20)}`) }), /over the 2048/);
});

test('refuses what would make a wrong policy', () => {
  for (const bucket of ['', 'UPPER', 'a', 'has/slash', '*', 'x'.repeat(64)]) assert.throws(() => sessionPolicy(bucket), /not a valid bucket name/, bucket);
  assert.throws(() => sessionPolicy(own, { otherBuckets: [] }), /otherBuckets/);
  assert.throws(() => sessionPolicy(own, { otherBuckets: ['a/b'] }), /otherBuckets/);
  assert.throws(() => sessionPolicy(own, { otherBuckets: ['"},{"Effect":"Allow'] }), /otherBuckets/);
});

test('ExternalS3 checks its configuration', () => {
  const base = { endpoint: 'http://minio:9000', region: 'us-east-1', adminAccessKeyId: 'admin', adminSecretAccessKey: 'secret', durationSeconds: 3600 };
  new ExternalS3(base).close();
  assert.throws(() => new ExternalS3({ ...base, endpoint: 'minio:9000' }), /endpoint/);
  assert.throws(() => new ExternalS3({ ...base, endpoint: 'http://minio:9000/bucket' }), /endpoint/);
  assert.throws(() => new ExternalS3({ ...base, adminSecretAccessKey: '' }), /admin/);
  assert.throws(() => new ExternalS3({ ...base, durationSeconds: 60 }), /durationSeconds/);
  assert.throws(() => new ExternalS3({ ...base, durationSeconds: 86_400 }), /durationSeconds/);
});
