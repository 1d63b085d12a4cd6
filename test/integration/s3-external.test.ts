/**
 * ExternalS3 (server/storage/external.ts) against the protocol, without a real MinIO (it cannot
 * be installed here).
 *
 * VERIFIED
 *   - STS, against a local HTTP server playing MinIO's STS: the real AssumeRole request of
 *     @aws-sdk/client-sts reaches it as MinIO routes it (POST /, form-encoded, no query, no
 *     session token); its form fields (Action=AssumeRole, Version=2011-06-15, DurationSeconds,
 *     RoleArn only when configured, RoleSessionName, Policy = JSON equal to sessionPolicy(bucket));
 *     its SigV4 signature, recomputed here independently with the admin secret, and its
 *     credential scope `<admin key>/<date>/<region>/sts/aws4_request`. Our parsing of a canned
 *     AssumeRoleResponse (values and expiry), of an STS error, the credential cache
 *     (credentialsFor: one request for concurrent calls, re-minted at 3/4 of the lifetime, bucket
 *     created first), and CreateBucket's answers (BucketAlreadyOwnedByYou is fine,
 *     BucketAlreadyExists is an error, LocationConstraint outside us-east-1).
 *   - The object API (head, list with pagination, read, put single and multipart, delete, error
 *     mapping) for real over HTTP against the project's EMBEDDED S3 endpoint (createS3Handler),
 *     with the "admin" holding a credential for one bucket; and that it answers as
 *     embeddedObjects(ObjectStore) does for the same objects.
 *
 * NOT VERIFIED
 *   - MinIO's or AWS's STS itself (whether it accepts this request: e.g. MinIO's root user,
 *     DurationSeconds limits, an AWS role's trust policy) and their evaluation of the session
 *     policy: the scope is checked only by the unit test's IAM matcher (test/unit/s3-external.test.ts).
 *   - That the real clients (mc, aws, s3cmd, boto3) with minted credentials are allowed and refused
 *     as intended on a real MinIO, and what exactly their requests carry there.
 *   - MinIO's own error answers (codes are taken from the S3 documentation and the embedded endpoint).
 *   - Reachability of an external endpoint from labs.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { embeddedObjects, ExternalS3, ExternalS3Error, type LearnerObjects } from '../../server/storage/external.ts';
import { createS3Handler, isS3Request, MemoryCredentialStore, type S3Credential } from '../../server/storage/index.ts';
import { ObjectStore } from '../../server/storage/object-store.ts';
import { sessionPolicy } from '../../server/storage/session-policy.ts';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function shutdown(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** SigV4, computed here from the request as received (independent of the SDK and of server/storage). */
function checkSigV4(request: Recorded, secret: string): { accessKeyId: string; date: string; region: string; service: string } {
  const authorization = String(request.headers.authorization ?? '');
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  assert.ok(match, `SigV4 Authorization header expected, got ${authorization}`);
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as [string, string, string, string, string, string, string];
  const names = signedHeaders.split(';');
  assert.ok(names.includes('host') && names.includes('x-amz-date'), signedHeaders);
  const canonicalHeaders = names.map((name) => `${name}:${String(request.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const [path, query = ''] = request.url.split('?') as [string, string?];
  const canonicalQuery = query
    .split('&')
    .filter(Boolean)
    .sort()
    .join('&');
  const canonicalRequest = [request.method, path, canonicalQuery, canonicalHeaders, signedHeaders, sha256(request.body)].join('\n');
  const amzDate = String(request.headers['x-amz-date']);
  assert.equal(amzDate.slice(0, 8), date);
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, `${date}/${region}/${service}/aws4_request`, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  assert.equal(hmac(key, stringToSign).toString('hex'), signature, 'signature made with the admin secret');
  return { accessKeyId, date, region, service };
}

describe('STS AssumeRole and CreateBucket, against a server playing MinIO', () => {
  const admin = { id: 'ATELIERADMIN', secret: 'admin-secret-0123456789abcdefghij' };
  const region = 'eu-west-3';
  const requests: Recorded[] = [];
  /** What the fake answers next to AssumeRole: 'ok' or an STS error code. */
  let stsAnswer = 'ok';
  let minted = 0;
  let endpoint = '';
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
    requests.push(recorded);
    if (req.method === 'POST' && req.url === '/') {
      const form = new URLSearchParams(recorded.body.toString('utf8'));
      if (stsAnswer !== 'ok') {
        res.writeHead(403, { 'content-type': 'text/xml' }).end(
          `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${stsAnswer}</Code><Message>Access denied: not allowed</Message></Error><RequestId>r1</RequestId></ErrorResponse>`,
        );
        return;
      }
      minted++;
      const expiration = new Date(Math.floor(Date.now() / 1000) * 1000 + Number(form.get('DurationSeconds')) * 1000).toISOString();
      res.writeHead(200, { 'content-type': 'text/xml' }).end(
        `<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><AssumedRoleUser><Arn></Arn><AssumedRoleId></AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>TMPKEY${minted}</AccessKeyId><SecretAccessKey>tmp-secret-${minted}</SecretAccessKey><SessionToken>session-token-${minted}</SessionToken><Expiration>${expiration}</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>1797D1B2C3</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
      return;
    }
    if (req.method === 'PUT' && /^\/[a-z0-9.-]+\/?$/.test(req.url ?? '')) {
      const bucket = (req.url ?? '').replaceAll('/', '');
      const code = bucket.startsWith('taken') ? 'BucketAlreadyExists' : bucket.startsWith('mine') ? 'BucketAlreadyOwnedByYou' : undefined;
      if (!code) {
        res.writeHead(200, { location: `/${bucket}` }).end();
        return;
      }
      res.writeHead(409, { 'content-type': 'application/xml' }).end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>bucket exists</Message><BucketName>${bucket}</BucketName><Resource>/${bucket}</Resource><RequestId>r2</RequestId></Error>`,
      );
      return;
    }
    res.writeHead(400).end();
  });
  const options = () => ({ endpoint, region, adminAccessKeyId: admin.id, adminSecretAccessKey: admin.secret, durationSeconds: 3600 });
  const stsRequests = () => requests.filter((request) => request.method === 'POST');

  before(async () => {
    endpoint = await listen(server);
  });
  after(() => shutdown(server));

  test('mintCredentials sends the AssumeRole MinIO expects, signed by the admin, and returns its answer', async () => {
    const external = new ExternalS3({ ...options(), roleArn: 'arn:aws:iam::123456789012:role/atelier-learner', durationSeconds: 7200 });
    requests.length = 0;
    const before = Date.now();
    const credentials = await external.mintCredentials('ualice000001');
    external.close();

    assert.equal(stsRequests().length, 1);
    const request = stsRequests()[0]!;
    assert.equal(request.url, '/', 'MinIO routes AssumeRole on POST / without a query');
    assert.match(String(request.headers['content-type']), /^application\/x-www-form-urlencoded/);
    assert.equal(request.headers['x-amz-security-token'], undefined, 'MinIO refuses session tokens on AssumeRole');
    const form = new URLSearchParams(request.body.toString('utf8'));
    assert.equal(form.get('Action'), 'AssumeRole');
    assert.equal(form.get('Version'), '2011-06-15');
    assert.equal(form.get('DurationSeconds'), '7200');
    assert.equal(form.get('RoleArn'), 'arn:aws:iam::123456789012:role/atelier-learner');
    assert.equal(form.get('RoleSessionName'), 'atelier-ualice000001');
    assert.deepEqual(JSON.parse(form.get('Policy') ?? 'null'), sessionPolicy('ualice000001'));
    assert.deepEqual([...form.keys()].sort(), ['Action', 'DurationSeconds', 'Policy', 'RoleArn', 'RoleSessionName', 'Version']);

    const scope = checkSigV4(request, admin.secret);
    assert.equal(scope.accessKeyId, admin.id);
    assert.equal(scope.region, region);
    assert.equal(scope.service, 'sts');
    assert.match(String(request.headers.authorization), new RegExp(`Credential=${admin.id}/\\d{8}/${region}/sts/aws4_request`));

    assert.equal(credentials.accessKeyId, `TMPKEY${minted}`);
    assert.equal(credentials.secretAccessKey, `tmp-secret-${minted}`);
    assert.equal(credentials.sessionToken, `session-token-${minted}`);
    const expected = Math.floor(before / 1000) * 1000 + 7200_000;
    assert.ok(Math.abs(credentials.expiresAt - expected) <= 2000, `${new Date(credentials.expiresAt).toISOString()} ≈ ${new Date(expected).toISOString()}`);
    assert.equal(credentials.expiresAt % 1000, 0, 'the Expiration of the XML, parsed');
  });

  test('without roleArn (MinIO) no RoleArn is sent', async () => {
    const external = new ExternalS3(options());
    requests.length = 0;
    await external.mintCredentials('ubob00000002');
    external.close();
    const form = new URLSearchParams(stsRequests()[0]!.body.toString('utf8'));
    assert.equal(form.has('RoleArn'), false);
    assert.equal(form.get('DurationSeconds'), '3600');
    assert.deepEqual(JSON.parse(form.get('Policy') ?? 'null'), sessionPolicy('ubob00000002'));
  });

  test('the session policy options reach STS', async () => {
    const external = new ExternalS3({ ...options(), policy: { otherBuckets: ['u???????????', 'atelier'] } });
    requests.length = 0;
    await external.mintCredentials('ubob00000002');
    external.close();
    const form = new URLSearchParams(stsRequests()[0]!.body.toString('utf8'));
    assert.deepEqual(JSON.parse(form.get('Policy') ?? 'null'), sessionPolicy('ubob00000002', { otherBuckets: ['u???????????', 'atelier'] }));
  });

  test('an STS refusal is an error naming AssumeRole and the code', async () => {
    const external = new ExternalS3(options());
    stsAnswer = 'AccessDenied';
    try {
      await assert.rejects(external.mintCredentials('ualice000001'), (error: unknown) => {
        assert.ok(error instanceof ExternalS3Error);
        assert.equal(error.operation, 'AssumeRole');
        assert.equal(error.code, 'AccessDenied');
        assert.equal(error.status, 403);
        assert.match(error.message, /AssumeRole for ualice000001 failed: AccessDenied \(HTTP 403\)/);
        return true;
      });
    } finally {
      stsAnswer = 'ok';
      external.close();
    }
  });

  test('a bucket name that is not one is refused before any request', async () => {
    const external = new ExternalS3(options());
    requests.length = 0;
    await assert.rejects(external.mintCredentials('Not_A_Bucket'), /not a valid bucket name/);
    assert.equal(requests.length, 0);
    external.close();
  });

  test('ensureBucket: created, or already ours; another owner is an error; LocationConstraint outside us-east-1', async () => {
    const external = new ExternalS3(options());
    requests.length = 0;
    await external.ensureBucket('ualice000001');
    await external.ensureBucket('ualice000001');
    assert.equal(requests.length, 1, 'remembered once created');
    assert.equal(requests[0]!.method, 'PUT');
    assert.equal(requests[0]!.url, '/ualice000001/', 'path-style');
    assert.match(requests[0]!.body.toString('utf8'), /<LocationConstraint>eu-west-3<\/LocationConstraint>/);
    checkSigV4(requests[0]!, admin.secret);
    assert.match(String(requests[0]!.headers.authorization), new RegExp(`/${region}/s3/aws4_request`));

    await external.ensureBucket('mine-already');
    await assert.rejects(external.ensureBucket('taken-by-someone'), (error: unknown) => {
      assert.ok(error instanceof ExternalS3Error);
      assert.equal(error.operation, 'CreateBucket');
      assert.equal(error.code, 'BucketAlreadyExists');
      assert.match(error.message, /CreateBucket taken-by-someone failed: BucketAlreadyExists \(HTTP 409\)/);
      return true;
    });
    external.close();

    const usEast = new ExternalS3({ ...options(), region: 'us-east-1' });
    requests.length = 0;
    await usEast.ensureBucket('ubob00000002');
    assert.equal(requests[0]!.body.length, 0, 'no CreateBucketConfiguration in us-east-1');
    usEast.close();
  });

  test('credentialsFor: bucket first, one STS call for concurrent launches, reused until 3/4 of the lifetime', async () => {
    let now = Date.now();
    const external = new ExternalS3({ ...options(), now: () => now });
    requests.length = 0;
    const [a, b] = await Promise.all([external.credentialsFor('ucarol000003'), external.credentialsFor('ucarol000003')]);
    assert.deepEqual(a, b);
    assert.deepEqual(requests.map((request) => `${request.method} ${request.url}`), ['PUT /ucarol000003/', 'POST /']);

    now += 2700_000 - 60_000; // 44 of 60 minutes: more than a quarter left
    assert.deepEqual(await external.credentialsFor('ucarol000003'), a);
    assert.equal(stsRequests().length, 1);

    now += 120_000; // 46 minutes: less than a quarter left
    const renewed = await external.credentialsFor('ucarol000003');
    assert.notEqual(renewed.accessKeyId, a.accessKeyId);
    assert.equal(stsRequests().length, 2);
    assert.equal(requests.filter((request) => request.method === 'PUT').length, 1, 'the bucket is created once');

    stsAnswer = 'AccessDenied';
    now += 3600_000;
    await assert.rejects(external.credentialsFor('ucarol000003'), ExternalS3Error);
    stsAnswer = 'ok';
    assert.notEqual((await external.credentialsFor('ucarol000003')).accessKeyId, renewed.accessKeyId, 'a failure is not cached');
    external.close();
  });
});

describe('the object API, for real against the embedded S3 endpoint', () => {
  const region = 'us-east-1';
  const credentials = new MemoryCredentialStore();
  let workDir = '';
  let store: ObjectStore;
  let admin: S3Credential;
  let bob: S3Credential;
  let endpoint = '';
  let external: ExternalS3;
  let paged: ExternalS3;
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (isS3Request(req)) s3(req, res);
    else res.writeHead(404).end();
  });
  let s3: ReturnType<typeof createS3Handler>;

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'atelier-s3-external-'));
    store = new ObjectStore(join(workDir, 's3'));
    // The "admin": a permanent key (no session token, as an admin's is) scoped to one bucket.
    admin = credentials.add({ ...credentials.issue('admin', 'ualice000001'), sessionToken: '' });
    bob = credentials.issue('bob', 'ubob00000002');
    s3 = createS3Handler({ root: join(workDir, 's3'), store, region, credentials, bucketExists: (bucket) => ['ualice000001', 'ubob00000002'].includes(bucket), log: (message, error) => console.error(message, error) });
    endpoint = await listen(server);
    const options = { endpoint, region, adminAccessKeyId: admin.accessKeyId, adminSecretAccessKey: admin.secretAccessKey, durationSeconds: 3600 };
    external = new ExternalS3(options);
    paged = new ExternalS3({ ...options, listPageSize: 2 });

    const asBob = new S3Client({ endpoint, region, forcePathStyle: true, credentials: bob });
    await asBob.send(new PutObjectCommand({ Bucket: bob.bucket, Key: 'diffusion/airports.csv', Body: 'code,name\nCDG,Paris\n', ContentType: 'text/csv' }));
    await asBob.send(new PutObjectCommand({ Bucket: bob.bucket, Key: 'private/secret.txt', Body: 'not for alice' }));
    asBob.destroy();
  });

  after(async () => {
    external.close();
    paged.close();
    await shutdown(server);
    rmSync(workDir, { recursive: true, force: true });
  });

  test('ensureBucket on the own bucket; another is an error naming CreateBucket', async () => {
    await external.ensureBucket('ualice000001');
    await assert.rejects(external.ensureBucket('ubob00000002'), (error: unknown) => error instanceof ExternalS3Error && error.code === 'AccessDenied' && /CreateBucket ubob00000002/.test(error.message));
  });

  test('put, head, read, delete of a small object', async () => {
    const put = await external.put('ualice000001', 'notes/a.txt', 'hello', 'text/plain');
    assert.equal(put.size, 5);
    assert.equal(put.etag, createHash('md5').update('hello').digest('hex'));
    const head = await external.head('ualice000001', 'notes/a.txt');
    assert.ok(head);
    assert.equal(head.size, 5);
    assert.equal(head.etag, put.etag);
    assert.deepEqual(head.headers, { 'content-type': 'text/plain' });
    assert.ok(Math.abs(head.lastModified - Date.now()) < 5000);
    const read = await external.read('ualice000001', 'notes/a.txt');
    assert.ok(read);
    assert.equal(await text(read.stream), 'hello');
    assert.equal(read.meta.size, 5);
    assert.equal(read.meta.headers['content-type'], 'text/plain');
    await external.delete('ualice000001', 'notes/a.txt');
    assert.equal(await external.head('ualice000001', 'notes/a.txt'), undefined);
    assert.equal(await external.read('ualice000001', 'notes/a.txt'), undefined);
    await external.delete('ualice000001', 'notes/a.txt');
  });

  test('put streams a large body as a multipart upload, byte for byte', async () => {
    const bytes = randomBytes(11 * 1024 * 1024 + 17);
    seen.length = 0;
    const put = await external.put('ualice000001', 'big/data.bin', Readable.from((function* () {
      for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
    })()), 'application/octet-stream');
    assert.equal(put.size, bytes.length);
    assert.match(put.etag, /^[0-9a-f]{32}-3$/, 'three 5 MiB parts');
    assert.ok(seen.some((line) => line.startsWith('POST /ualice000001/big/data.bin?uploads')), seen.join('\n'));
    const read = await external.read('ualice000001', 'big/data.bin');
    assert.ok(read);
    const hash = createHash('sha256');
    for await (const chunk of read.stream) hash.update(chunk as Buffer);
    assert.equal(hash.digest('hex'), sha256(bytes));
    await external.delete('ualice000001', 'big/data.bin');
  });

  test('a failing body fails the put, naming it, and leaves no object', async () => {
    const body = new Readable({ read() {} });
    body.push(Buffer.alloc(1024));
    setTimeout(() => body.destroy(new Error('client went away')), 20);
    await assert.rejects(external.put('ualice000001', 'broken.bin', body, 'application/octet-stream'), (error: unknown) => error instanceof ExternalS3Error && /PutObject ualice000001\/broken.bin/.test(error.message));
    assert.equal(await external.head('ualice000001', 'broken.bin'), undefined);

    // Past the first 5 MiB part: a multipart upload was started, and is aborted.
    const big = new Readable({ read() {} });
    big.push(randomBytes(6 * 1024 * 1024));
    setTimeout(() => big.destroy(new Error('client went away')), 50);
    seen.length = 0;
    await assert.rejects(external.put('ualice000001', 'broken-big.bin', big, 'application/octet-stream'), ExternalS3Error);
    assert.ok(seen.some((line) => line.startsWith('POST /ualice000001/broken-big.bin?uploads')), seen.join('\n'));
    assert.ok(seen.some((line) => line.startsWith('DELETE /ualice000001/broken-big.bin?uploadId=')), seen.join('\n'));
    assert.deepEqual(await store.listUploads('ualice000001'), []);
    assert.equal(await external.head('ualice000001', 'broken-big.bin'), undefined);
  });

  test('list pages through ListObjectsV2 and returns every key in order', async () => {
    const keys = ['b/2.txt', 'a/1.txt', 'c.txt', 'a/0.txt', 'z/9/9.txt'];
    for (const key of keys) await external.put('ualice000001', key, key, 'text/plain');
    seen.length = 0;
    const listed = await paged.list('ualice000001');
    assert.deepEqual(listed.map((object) => object.key), [...keys].sort());
    assert.equal(seen.filter((line) => line.includes('list-type=2')).length, 3, 'pages of 2');
    assert.ok(seen.some((line) => line.includes('continuation-token=')));
    assert.deepEqual(listed.find((object) => object.key === 'c.txt'), { ...listed.find((object) => object.key === 'c.txt'), size: 5, headers: {} });
    assert.deepEqual((await external.list('ualice000001')).map((object) => object.key), [...keys].sort());
    for (const key of keys) await external.delete('ualice000001', key);
    assert.deepEqual(await external.list('ualice000001'), []);
  });

  test('missing bucket lists as empty; refusals are errors naming the operation and the code', async () => {
    assert.deepEqual(await external.list('unknown-bucket'), []);
    assert.equal(await external.head('ualice000001', 'nothing/here'), undefined);
    // The admin's credential here is a learner's: other buckets are outside it except diffusion/.
    const read = await external.read('ubob00000002', 'diffusion/airports.csv');
    assert.ok(read);
    assert.equal(await text(read.stream), 'code,name\nCDG,Paris\n');
    await assert.rejects(external.read('ubob00000002', 'private/secret.txt'), (error: unknown) => {
      assert.ok(error instanceof ExternalS3Error);
      assert.equal(error.operation, 'GetObject');
      assert.equal(error.code, 'AccessDenied');
      assert.equal(error.status, 403);
      return true;
    });
    await assert.rejects(external.head('ubob00000002', 'private/secret.txt'), (error: unknown) => error instanceof ExternalS3Error && error.status === 403 && /HeadObject ubob00000002\/private\/secret.txt/.test(error.message));
    // The embedded endpoint answers a listing of another bucket with its diffusion/ alone.
    assert.deepEqual((await external.list('ubob00000002')).map((object) => object.key), ['diffusion/airports.csv']);
    await assert.rejects(external.put('ubob00000002', 'diffusion/x', 'x', 'text/plain'), (error: unknown) => error instanceof ExternalS3Error && error.code === 'AccessDenied');
    await assert.rejects(external.delete('ubob00000002', 'diffusion/airports.csv'), (error: unknown) => error instanceof ExternalS3Error && error.code === 'AccessDenied');
  });

  test('an unreachable endpoint is an error naming the operation, for every operation', async () => {
    const dead = new ExternalS3({ endpoint: 'http://127.0.0.1:9', region, adminAccessKeyId: 'a', adminSecretAccessKey: 'b', durationSeconds: 900 });
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['HeadObject', () => dead.head('ualice000001', 'k')],
      ['ListObjectsV2', () => dead.list('ualice000001')],
      ['GetObject', () => dead.read('ualice000001', 'k')],
      ['PutObject', () => dead.put('ualice000001', 'k', 'v', 'text/plain')],
      ['DeleteObject', () => dead.delete('ualice000001', 'k')],
      ['CreateBucket', () => dead.ensureBucket('ualice000001')],
      ['AssumeRole', () => dead.mintCredentials('ualice000001')],
    ];
    for (const [operation, call] of calls) {
      await assert.rejects(call(), (error: unknown) => error instanceof ExternalS3Error && error.operation === operation && /ECONNREFUSED/.test(`${error.code} ${error.message}`), operation);
    }
    dead.close();
  });

  test('answers as embeddedObjects(ObjectStore) does on the same objects', async () => {
    const embedded: LearnerObjects = embeddedObjects(store);
    await external.put('ualice000001', 'same/x.csv', 'a,b\n1,2\n', 'text/csv');
    await embedded.put('ualice000001', 'same/y.json', Buffer.from('{"a":1}'), 'application/json');
    for (const key of ['same/x.csv', 'same/y.json']) {
      const [viaS3, direct] = await Promise.all([external.head('ualice000001', key), embedded.head('ualice000001', key)]);
      assert.ok(viaS3 && direct, key);
      assert.deepEqual({ ...viaS3, lastModified: Math.floor(viaS3.lastModified / 1000) }, { ...direct, lastModified: Math.floor(direct.lastModified / 1000) }, key);
      const [a, b] = await Promise.all([external.read('ualice000001', key), embedded.read('ualice000001', key)]);
      assert.ok(a && b);
      assert.equal(await text(a.stream), await text(b.stream));
    }
    const strip = (objects: { key: string; size: number; etag: string; headers: object }[]) => objects.map(({ key, size, etag, headers }) => ({ key, size, etag, headers }));
    assert.deepEqual(strip(await external.list('ualice000001')), strip(await embedded.list('ualice000001')));
    assert.equal(await embedded.head('ualice000001', 'nope'), undefined);
    assert.equal(await embedded.read('ualice000001', 'nope'), undefined);
    await embedded.delete('ualice000001', 'same/x.csv');
    assert.equal(await external.head('ualice000001', 'same/x.csv'), undefined);
    await external.delete('ualice000001', 'same/y.json');
  });
});
