/**
 * The embedded S3 endpoint through @aws-sdk/client-s3 (buffer and streamed bodies, multipart
 * through lib-storage, presigned URLs) and raw signed requests: the learner policy, every
 * authentication failure by its exact S3 code, byte-exact round trips (including the
 * aws-chunked trailer mode current SDKs use for streams), and keys that try to leave the bucket.
 * The other real clients (aws, s3cmd, boto3, mc) are in s3-clients.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  paginateListObjectsV2,
  type ChecksumAlgorithm,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { checksumAlgorithms, createChecksum } from '../../server/storage/checksums.ts';
import { createS3Handler, isS3Request, MemoryCredentialStore, type S3Credential } from '../../server/storage/index.ts';
import { rawSigned as sendRawSigned, type RawResponse } from '../helpers/s3-raw.ts';

const region = 'us-east-1';
let endpoint = '';
let workDir = '';
let dataDir = '';
let close: () => Promise<void> = async () => {};
const credentials = new MemoryCredentialStore();
let alice: S3Credential;
let bob: S3Credential;
let expired: S3Credential;
/** x-amz-content-sha256 of every request that reached the endpoint. */
const payloadModes: string[] = [];
/** onWrite notifications (bucket/key). */
const writes: string[] = [];

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'atelier-s3-'));
  dataDir = join(workDir, 'data');
  alice = credentials.issue('alice', 'learner-alice');
  bob = credentials.issue('bob', 'learner-bob');
  expired = credentials.add({ ...credentials.issue('carol', 'learner-carol'), expiresAt: Date.now() - 1000 });
  const s3 = createS3Handler({
    root: dataDir,
    region,
    credentials,
    bucketExists: (bucket) => ['learner-alice', 'learner-bob', 'learner-carol'].includes(bucket),
    log: (message, error) => console.error(message, error),
    onWrite: (bucket, key) => writes.push(`${bucket}/${key}`),
  });
  const server = createServer((req, res) => {
    if (!isS3Request(req)) {
      res.statusCode = 404;
      res.end('site');
      return;
    }
    payloadModes.push(String(req.headers['x-amz-content-sha256'] ?? ''));
    s3(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
});

after(async () => {
  await close();
  rmSync(workDir, { recursive: true, force: true });
});

function client(credential: Pick<S3Credential, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>, extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey, sessionToken: credential.sessionToken },
    ...extra,
  });
}

/** The S3 error code a promise rejects with. */
async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { Code?: string; name: string }).Code ?? (error as Error).name;
  }
  return 'no error';
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function bodyBytes(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

test('own bucket: put, head, get (range), list, copy, delete with buffers', async () => {
  const s3 = client(alice);
  const body = Buffer.from('id,name\n1,Ada\n2,Grace\n');
  const put = await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'initiation/people.csv', Body: body, ContentType: 'text/csv', Metadata: { origin: 'tp' } }));
  assert.equal(put.ETag, `"${createHash('md5').update(body).digest('hex')}"`);

  const head = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'initiation/people.csv' }));
  assert.equal(head.ContentLength, body.length);
  assert.equal(head.ContentType, 'text/csv');
  assert.deepEqual(head.Metadata, { origin: 'tp' });
  assert.equal(head.ETag, put.ETag);
  assert.ok(head.LastModified instanceof Date);

  const range = await s3.send(new GetObjectCommand({ Bucket: alice.bucket, Key: 'initiation/people.csv', Range: 'bytes=8-12' }));
  assert.equal(range.$metadata.httpStatusCode, 206);
  assert.equal(range.ContentRange, `bytes 8-12/${body.length}`);
  assert.equal(await range.Body!.transformToString(), '1,Ada');

  await s3.send(new CopyObjectCommand({ Bucket: alice.bucket, Key: 'backup/people.csv', CopySource: `${alice.bucket}/initiation/people.csv` }));
  assert.deepEqual(await bodyBytes(s3, alice.bucket, 'backup/people.csv'), body);
  const copied = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'backup/people.csv' }));
  assert.equal(copied.ContentType, 'text/csv');

  const listed = await s3.send(new ListObjectsV2Command({ Bucket: alice.bucket, Delimiter: '/' }));
  assert.deepEqual(listed.CommonPrefixes?.map((prefix) => prefix.Prefix), ['backup/', 'initiation/']);
  const inside = await s3.send(new ListObjectsV2Command({ Bucket: alice.bucket, Prefix: 'initiation/' }));
  assert.deepEqual(inside.Contents?.map((object) => [object.Key, object.Size, object.ETag]), [['initiation/people.csv', body.length, put.ETag]]);

  await s3.send(new DeleteObjectCommand({ Bucket: alice.bucket, Key: 'backup/people.csv' }));
  assert.deepEqual(writes, [`${alice.bucket}/initiation/people.csv`, `${alice.bucket}/backup/people.csv`, `${alice.bucket}/backup/people.csv`]);
  assert.equal(await errorCode(s3.send(new GetObjectCommand({ Bucket: alice.bucket, Key: 'backup/people.csv' }))), 'NoSuchKey');

  const buckets = await s3.send(new ListBucketsCommand({}));
  assert.deepEqual(buckets.Buckets?.map((bucket) => bucket.Name), [alice.bucket]);
  await s3.send(new CreateBucketCommand({ Bucket: alice.bucket }));
  await s3.send(new HeadBucketCommand({ Bucket: alice.bucket }));
  assert.equal(await errorCode(s3.send(new CreateBucketCommand({ Bucket: 'someone-else' }))), 'AccessDenied');
});

test('streamed uploads (aws-chunked with a trailing checksum) round-trip byte for byte', async () => {
  const s3 = client(alice);
  const file = join(workDir, 'stream.bin');
  const data = randomBytes(3 * 1024 * 1024 + 12345);
  writeFileSync(file, data);
  const before = payloadModes.length;
  for (const algorithm of [undefined, 'CRC32C', 'CRC64NVME', 'SHA256', 'SHA1'] as Array<ChecksumAlgorithm | undefined>) {
    const key = `streamed/${algorithm ?? 'default'}.bin`;
    await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: key, Body: createReadStream(file), ContentLength: data.length, ChecksumAlgorithm: algorithm }));
    assert.equal(sha256(await bodyBytes(s3, alice.bucket, key)), sha256(data), key);
    const head = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: key }));
    assert.equal(head.ContentLength, data.length);
    assert.equal(head.ContentEncoding, undefined, 'aws-chunked is not a stored content-encoding');
  }
  assert.ok(payloadModes.slice(before).includes('STREAMING-UNSIGNED-PAYLOAD-TRAILER'), 'the SDK used the trailer mode');
});

/** A client whose requests are changed after signing (to prove the endpoint notices). */
function tamperingClient(change: (body: unknown) => unknown): S3Client {
  const s3 = client(alice, { maxAttempts: 1 });
  s3.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown };
      request.body = change(request.body);
      return next(args);
    },
    { step: 'deserialize', name: 'tamperAfterSigning' },
  );
  return s3;
}

test('a body changed after signing is refused and nothing is stored', async () => {
  const flipBuffer = tamperingClient((body) => {
    const copy = Buffer.from(body as Uint8Array);
    copy[3] = copy[3]! ^ 1;
    return copy;
  });
  assert.equal(await errorCode(flipBuffer.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'tampered/a.txt', Body: Buffer.from('exact bytes matter') }))), 'XAmzContentSHA256Mismatch');

  const flipStream = tamperingClient((body) => {
    let seen = 0;
    return (body as Readable).pipe(new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        const copy = Buffer.from(chunk);
        // Past the first chunk header: a payload byte.
        if (seen <= 5000 && seen + copy.length > 5000) copy[5000 - seen]! ^= 1;
        seen += copy.length;
        callback(null, copy);
      },
    }));
  });
  const file = join(workDir, 'tamper.bin');
  writeFileSync(file, randomBytes(200_000));
  assert.equal(await errorCode(flipStream.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'tampered/b.bin', Body: createReadStream(file), ContentLength: 200_000 }))), 'BadDigest');
  const listed = await client(alice).send(new ListObjectsV2Command({ Bucket: alice.bucket, Prefix: 'tampered/' }));
  assert.equal(listed.KeyCount, 0);
});

test('multipart upload through lib-storage (12 MiB stream) and an 8 MiB buffer', async () => {
  const s3 = client(alice);
  const data = randomBytes(12 * 1024 * 1024 + 777);
  const file = join(workDir, 'big.bin');
  writeFileSync(file, data);
  const upload = new Upload({ client: s3, params: { Bucket: alice.bucket, Key: 'big/twelve.bin', Body: createReadStream(file), ContentType: 'application/x-test' }, partSize: 5 * 1024 * 1024, queueSize: 2 });
  const done = await upload.done();
  assert.match(String(done.ETag), /^"[0-9a-f]{32}-3"$/);
  const got = await bodyBytes(s3, alice.bucket, 'big/twelve.bin');
  assert.equal(sha256(got), sha256(data));
  const head = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'big/twelve.bin' }));
  assert.equal(head.ContentType, 'application/x-test');

  const eight = randomBytes(8 * 1024 * 1024 + 1);
  await new Upload({ client: s3, params: { Bucket: alice.bucket, Key: 'big/eight.bin', Body: eight } }).done();
  assert.equal(sha256(await bodyBytes(s3, alice.bucket, 'big/eight.bin')), sha256(eight));
  const uploadsLeft = readdirSync(join(dataDir, 'buckets', alice.bucket, 'uploads'));
  assert.deepEqual(uploadsLeft, []);
});

test('presigned GET works, a changed signature byte is SignatureDoesNotMatch, expiry is honoured', async () => {
  const s3 = client(alice);
  await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'share/report.txt', Body: 'shared text' }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: alice.bucket, Key: 'share/report.txt' }), { expiresIn: 300 });
  const ok = await fetch(url);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'shared text');

  const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(url)![1]!;
  const changed = signature.slice(0, 10) + (signature[10] === '0' ? '1' : '0') + signature.slice(11);
  const tampered = await fetch(url.replace(signature, changed));
  assert.equal(tampered.status, 403);
  assert.match(await tampered.text(), /<Code>SignatureDoesNotMatch<\/Code>/);

  const old = await getSignedUrl(s3, new GetObjectCommand({ Bucket: alice.bucket, Key: 'share/report.txt' }), { expiresIn: 60, signingDate: new Date(Date.now() - 120_000) });
  const late = await fetch(old);
  assert.equal(late.status, 403);
  assert.match(await late.text(), /<Code>AccessDenied<\/Code><Message>Request has expired/);
});

test('policy: read others\' diffusion/ only; never write there', async () => {
  const asBob = client(bob);
  const asAlice = client(alice);
  await asBob.send(new PutObjectCommand({ Bucket: bob.bucket, Key: 'diffusion/airports.csv', Body: 'code,name\nCDG,Paris\n' }));
  await asBob.send(new PutObjectCommand({ Bucket: bob.bucket, Key: 'private/notes.txt', Body: 'secret' }));
  await asBob.send(new PutObjectCommand({ Bucket: bob.bucket, Key: 'diffusion-not/x.txt', Body: 'not shared' }));

  assert.equal((await bodyBytes(asAlice, bob.bucket, 'diffusion/airports.csv')).toString(), 'code,name\nCDG,Paris\n');
  const shared = await asAlice.send(new ListObjectsV2Command({ Bucket: bob.bucket, Prefix: 'diffusion/' }));
  assert.deepEqual(shared.Contents?.map((object) => object.Key), ['diffusion/airports.csv']);
  const top = await asAlice.send(new ListObjectsV2Command({ Bucket: bob.bucket, Delimiter: '/' }));
  assert.deepEqual([top.CommonPrefixes?.map((prefix) => prefix.Prefix), top.Contents], [['diffusion/'], undefined]);

  assert.equal(await errorCode(asAlice.send(new GetObjectCommand({ Bucket: bob.bucket, Key: 'private/notes.txt' }))), 'AccessDenied');
  assert.equal(await errorCode(asAlice.send(new ListObjectsV2Command({ Bucket: bob.bucket, Prefix: 'private/' }))), 'AccessDenied');
  assert.equal(await errorCode(asAlice.send(new PutObjectCommand({ Bucket: bob.bucket, Key: 'diffusion/evil.csv', Body: 'x' }))), 'AccessDenied');
  assert.equal(await errorCode(asAlice.send(new DeleteObjectCommand({ Bucket: bob.bucket, Key: 'diffusion/airports.csv' }))), 'AccessDenied');
  assert.equal(await errorCode(asAlice.send(new DeleteObjectsCommand({ Bucket: bob.bucket, Delete: { Objects: [{ Key: 'diffusion/airports.csv' }] } }))), 'AccessDenied');
  assert.equal(await errorCode(asAlice.send(new CopyObjectCommand({ Bucket: alice.bucket, Key: 'stolen.txt', CopySource: `${bob.bucket}/private/notes.txt` }))), 'AccessDenied');
  assert.equal(await errorCode(asAlice.send(new CopyObjectCommand({ Bucket: bob.bucket, Key: 'diffusion/copy.csv', CopySource: `${alice.bucket}/initiation/people.csv` }))), 'AccessDenied');
  assert.equal(await errorCode(new Upload({ client: asAlice, params: { Bucket: bob.bucket, Key: 'diffusion/big.bin', Body: Buffer.alloc(6 * 1024 * 1024) } }).done()), 'AccessDenied');

  await asAlice.send(new CopyObjectCommand({ Bucket: alice.bucket, Key: 'from-bob/airports.csv', CopySource: `${bob.bucket}/diffusion/airports.csv` }));
  assert.equal((await bodyBytes(asAlice, alice.bucket, 'from-bob/airports.csv')).toString(), 'code,name\nCDG,Paris\n');
  assert.equal((await bodyBytes(asBob, bob.bucket, 'private/notes.txt')).toString(), 'secret');
});

test('authentication failures answer their exact S3 codes', async () => {
  assert.equal(await errorCode(client(expired).send(new ListObjectsV2Command({ Bucket: expired.bucket }))), 'ExpiredToken');
  assert.equal(await errorCode(client({ ...alice, accessKeyId: 'AKFORGEDFORGEDFORGED' }).send(new ListObjectsV2Command({ Bucket: alice.bucket }))), 'InvalidAccessKeyId');
  assert.equal(await errorCode(client({ ...alice, secretAccessKey: `${alice.secretAccessKey}x` }).send(new ListObjectsV2Command({ Bucket: alice.bucket }))), 'SignatureDoesNotMatch');
  assert.equal(await errorCode(client({ ...alice, sessionToken: bob.sessionToken }).send(new ListObjectsV2Command({ Bucket: alice.bucket }))), 'InvalidToken');
  assert.equal(await errorCode(client({ ...alice, sessionToken: '' }).send(new ListObjectsV2Command({ Bucket: alice.bucket }))), 'InvalidToken');
  const skewed = client(alice, { systemClockOffset: -20 * 60_000, maxAttempts: 1 });
  assert.equal(await errorCode(skewed.send(new ListObjectsV2Command({ Bucket: alice.bucket }))), 'RequestTimeTooSkewed');
  // Unsigned requests are not S3 requests: they reach the site.
  const anonymous = await fetch(`${endpoint}/${alice.bucket}/initiation/people.csv`);
  assert.deepEqual([anonymous.status, await anonymous.text()], [404, 'site']);
});

test('listing: pagination, start-after, v1 markers, unicode keys, DeleteObjects', async () => {
  const s3 = client(alice);
  const keys = ['list/a b.txt', 'list/a+b.txt', 'list/dir/x.txt', 'list/dir/y.txt', 'list/été.csv', 'list/z%41.txt', 'list/日本.txt', 'list/😀.txt'];
  for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: key, Body: key }));
  const pages: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3, pageSize: 2 }, { Bucket: alice.bucket, Prefix: 'list/' })) {
    assert.ok((page.KeyCount ?? 0) <= 2);
    pages.push(...(page.Contents ?? []).map((object) => object.Key!));
  }
  const byBytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  assert.deepEqual(pages, byBytes);
  for (const key of keys) assert.equal((await bodyBytes(s3, alice.bucket, key)).toString(), key);

  const afterDir = await s3.send(new ListObjectsV2Command({ Bucket: alice.bucket, Prefix: 'list/', StartAfter: 'list/dir/x.txt' }));
  assert.equal(afterDir.Contents?.[0]?.Key, 'list/dir/y.txt');

  const v1: string[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: alice.bucket, Prefix: 'list/', Delimiter: '/', MaxKeys: 3, Marker: marker }));
    v1.push(...(page.Contents ?? []).map((object) => object.Key!), ...(page.CommonPrefixes ?? []).map((prefix) => prefix.Prefix!));
    if (!page.IsTruncated) break;
    marker = page.NextMarker;
  }
  assert.deepEqual(v1.sort(), ['list/a b.txt', 'list/a+b.txt', 'list/dir/', 'list/z%41.txt', 'list/été.csv', 'list/日本.txt', 'list/😀.txt'].sort());

  const deleted = await s3.send(new DeleteObjectsCommand({ Bucket: alice.bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  assert.equal(deleted.Deleted?.length, keys.length);
  assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: alice.bucket, Prefix: 'list/' }))).KeyCount, 0);
});

/** Signs and sends a raw request (path exactly as given), for what SDKs will not send. */
function rawSigned(credential: S3Credential, method: string, path: string, body: Buffer | string = '', headers: Record<string, string> = {}): Promise<RawResponse> {
  return sendRawSigned({ endpoint, region }, credential, method, path, body, headers);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => join(dir, name));
}

test('keys never leave the bucket: .. segments and NUL are refused, odd keys stay inside', async () => {
  const s3 = client(alice);
  for (const key of ['../escape.txt', '../../escape.txt', 'a/../../escape.txt', 'nul\u0000byte']) {
    assert.equal(await errorCode(s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: key, Body: 'x' }))), 'InvalidArgument', key);
  }
  for (const path of [`/${alice.bucket}/..%2F..%2Fescape.txt`, `/${alice.bucket}/%2e%2e/escape.txt`, `/${alice.bucket}/../${bob.bucket}/escape.txt`]) {
    const res = await rawSigned(alice, 'PUT', path, 'x');
    assert.equal(res.status, 400, path);
    assert.match(res.body, /<Code>InvalidArgument<\/Code>/);
  }
  assert.match((await rawSigned(alice, 'PUT', `/${alice.bucket}/${'k'.repeat(1025)}`, 'x')).body, /<Code>KeyTooLong<\/Code>/);
  // Keys that look like paths are only names.
  for (const key of ['./dot.txt', '/leading-slash.txt', 'back\\slash\\..\\x', '.../three-dots', 'a//b']) {
    await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: key, Body: key }));
    assert.equal((await bodyBytes(s3, alice.bucket, key)).toString(), key);
  }
  const everything = filesUnder(workDir);
  assert.ok(!everything.some((path) => path.includes('escape')), 'no escape file anywhere');
  const bucketDir = join(dataDir, 'buckets', alice.bucket);
  for (const path of filesUnder(dataDir)) {
    // Beside the buckets: in-flight writes and the object index (index.db and its WAL).
    if (statSync(path).isFile() && !path.startsWith(join(dataDir, '.tmp')) && !path.startsWith(join(dataDir, 'index.db'))) assert.ok(path.startsWith(join(dataDir, 'buckets')), path);
  }
  assert.ok(filesUnder(bucketDir).every((path) => /\/(objects|uploads)(\/[0-9a-f]{64}\.(json|[0-9a-f]{32}\.data))?$/.test(path)), 'objects are stored under hashed names');
});

test('a signed streaming upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, as minio-go sends) verifies every chunk', async () => {
  const payload = randomBytes(150_000);
  const send = async (corrupt: boolean): Promise<{ status: number; body: string }> => {
    const url = new URL(endpoint);
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const date = amzDate.slice(0, 8);
    const scope = `${date}/${region}/s3/aws4_request`;
    let key: Buffer = createHmac('sha256', `AWS4${alice.secretAccessKey}`).update(date).digest();
    for (const part of [region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    const chunks = [payload.subarray(0, 65536), payload.subarray(65536, 131072), payload.subarray(131072), Buffer.alloc(0)];
    const framedLength = chunks.reduce((sum, chunk) => sum + chunk.length.toString(16).length + 17 + 64 + 2 + chunk.length + 2, 0);
    const headers: Record<string, string> = {
      'content-encoding': 'aws-chunked',
      'content-length': String(framedLength),
      host: url.host,
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-date': amzDate,
      'x-amz-decoded-content-length': String(payload.length),
      'x-amz-security-token': alice.sessionToken,
    };
    const names = Object.keys(headers).sort();
    const canonical = ['PUT', `/${alice.bucket}/signed/stream.bin`, '', names.map((name) => `${name}:${headers[name]}\n`).join(''), names.join(';'), 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'].join('\n');
    let previous = createHmac('sha256', key).update(`AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`).digest('hex');
    const authorization = `AWS4-HMAC-SHA256 Credential=${alice.accessKeyId}/${scope},SignedHeaders=${names.join(';')},Signature=${previous}`;
    const framed: Buffer[] = [];
    for (const chunk of chunks) {
      previous = createHmac('sha256', key).update(`AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previous}\n${sha256(Buffer.alloc(0))}\n${sha256(chunk)}`).digest('hex');
      const data = Buffer.from(chunk);
      if (corrupt && chunk.length === 65536 && framed.length > 2) data[10]! ^= 1;
      framed.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`), data, Buffer.from('\r\n'));
    }
    const body = Buffer.concat(framed);
    assert.equal(body.length, framedLength);
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, method: 'PUT', path: `/${alice.bucket}/signed/stream.bin`, headers: { ...headers, authorization } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      });
      req.on('error', reject);
      Readable.from([body.subarray(0, 1000), body.subarray(1000, 70000), body.subarray(70000)]).pipe(req);
    });
  };
  const bad = await send(true);
  assert.equal(bad.status, 403, bad.body);
  assert.match(bad.body, /<Code>SignatureDoesNotMatch<\/Code>/);
  assert.equal(await errorCode(client(alice).send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'signed/stream.bin' }))), 'NotFound');
  const good = await send(false);
  assert.equal(good.status, 200, good.body);
  assert.equal(sha256(await bodyBytes(client(alice), alice.bucket, 'signed/stream.bin')), sha256(payload));
});

test('an upload cut off midway leaves nothing; concurrent writers of one key leave one whole object', async () => {
  const url = new URL(endpoint);
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${region}/s3/aws4_request`;
  const headers: Record<string, string> = { 'content-length': '1000000', host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-date': amzDate, 'x-amz-security-token': alice.sessionToken };
  const names = Object.keys(headers).sort();
  const canonical = ['PUT', `/${alice.bucket}/cut/off.bin`, '', names.map((name) => `${name}:${headers[name]}\n`).join(''), names.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${alice.secretAccessKey}`).update(date).digest();
  for (const part of [region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(`AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`).digest('hex');
  await new Promise<void>((resolve) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: 'PUT', path: `/${alice.bucket}/cut/off.bin`, headers: { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${alice.accessKeyId}/${scope},SignedHeaders=${names.join(';')},Signature=${signature}` } });
    req.on('error', () => resolve());
    req.write(randomBytes(300_000), () => setTimeout(() => { req.destroy(); resolve(); }, 50));
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const s3 = client(alice);
  assert.equal(await errorCode(s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'cut/off.bin' }))), 'NotFound');
  assert.deepEqual(readdirSync(join(dataDir, '.tmp')).filter((name) => !name.endsWith('.json')), []);

  const bodies = Array.from({ length: 6 }, () => randomBytes(256 * 1024));
  await Promise.all(bodies.map((body) => s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'race/one.bin', Body: body }))));
  const final = sha256(await bodyBytes(s3, alice.bucket, 'race/one.bin'));
  assert.ok(bodies.some((body) => sha256(body) === final), 'the object is one of the bodies, whole');
  const dataFiles = readdirSync(join(dataDir, 'buckets', alice.bucket, 'objects')).filter((name) => name.startsWith(createHash('sha256').update('race/one.bin').digest('hex')));
  assert.equal(dataFiles.length, 2, 'one sidecar and one data file, no orphans');
});

/** Status and S3 error code (or 'ok') of a call, for the protocol edges below. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    const failure = error as { Code?: string; name: string; $metadata?: { httpStatusCode?: number } };
    return `${failure.$metadata?.httpStatusCode ?? '?'} ${failure.Code ?? failure.name}`;
  }
}

/** A multipart upload of `sizes` random parts; returns what completing it needs. */
async function uploadParts(s3: S3Client, key: string, sizes: number[], extra: { ChecksumAlgorithm?: ChecksumAlgorithm; ChecksumType?: 'FULL_OBJECT' | 'COMPOSITE' } = {}) {
  const { ChecksumType, ...partExtra } = extra;
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: alice.bucket, Key: key, ChecksumType, ...partExtra }));
  const bodies = sizes.map((size) => randomBytes(size));
  const parts = [];
  for (const [index, body] of bodies.entries()) {
    const part = await s3.send(new UploadPartCommand({ Bucket: alice.bucket, Key: key, UploadId, PartNumber: index + 1, Body: body, ...partExtra }));
    parts.push({ PartNumber: index + 1, ETag: part.ETag, ChecksumCRC32: part.ChecksumCRC32, ChecksumCRC64NVME: part.ChecksumCRC64NVME, ChecksumSHA256: part.ChecksumSHA256 });
  }
  return { UploadId: UploadId!, parts, bodies };
}

test('a repeated CompleteMultipartUpload after success answers 200 with the same result', async () => {
  const s3 = client(alice);
  const { UploadId, parts, bodies } = await uploadParts(s3, 'retry/complete.bin', [5 * 1024 * 1024, 1000]);
  const complete = new CompleteMultipartUploadCommand({ Bucket: alice.bucket, Key: 'retry/complete.bin', UploadId, MultipartUpload: { Parts: parts } });
  const first = await s3.send(complete);
  const again = await s3.send(complete);
  assert.deepEqual([again.$metadata.httpStatusCode, again.ETag, again.Key], [200, first.ETag, first.Key]);
  assert.equal(sha256(await bodyBytes(s3, alice.bucket, 'retry/complete.bin')), sha256(Buffer.concat(bodies)));
  // Other parts, or another key, are not that completion: the upload is gone.
  const otherParts = new CompleteMultipartUploadCommand({ Bucket: alice.bucket, Key: 'retry/complete.bin', UploadId, MultipartUpload: { Parts: parts.slice(0, 1) } });
  assert.equal(await outcome(s3.send(otherParts)), '404 NoSuchUpload');
});

test('conditional writes: If-None-Match: * and If-Match on PutObject, CompleteMultipartUpload and CopyObject answer 412, never ignored', async () => {
  const s3 = client(alice);
  const key = 'conditional/once.txt';
  assert.equal(await outcome(s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: key, Body: 'first', IfNoneMatch: '*' }))), 'ok');
  assert.equal(await outcome(s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: key, Body: 'second', IfNoneMatch: '*' }))), '412 PreconditionFailed');
  assert.equal((await bodyBytes(s3, alice.bucket, key)).toString(), 'first');
  const { ETag } = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: key }));
  assert.equal(await outcome(s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: key, Body: 'stale', IfMatch: '"0123456789abcdef0123456789abcdef"' }))), '412 PreconditionFailed');
  assert.equal(await outcome(s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: key, Body: 'third', IfMatch: ETag }))), 'ok');
  assert.equal((await bodyBytes(s3, alice.bucket, key)).toString(), 'third');
  assert.equal(await outcome(s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'conditional/none.txt', Body: 'x', IfMatch: ETag }))), '404 NoSuchKey');

  // Of racing conditional creations, exactly one wins.
  const racers = await Promise.all(Array.from({ length: 6 }, (_, index) => outcome(s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'conditional/race.txt', Body: `racer ${index}`, IfNoneMatch: '*' })))));
  assert.deepEqual(racers.filter((result) => result === 'ok').length, 1, racers.join(', '));
  assert.ok(racers.every((result) => result === 'ok' || result === '412 PreconditionFailed'), racers.join(', '));

  const { UploadId, parts } = await uploadParts(s3, key, [1000]);
  const complete = (condition: { IfNoneMatch?: string; IfMatch?: string }) => new CompleteMultipartUploadCommand({ Bucket: alice.bucket, Key: key, UploadId, MultipartUpload: { Parts: parts }, ...condition });
  assert.equal(await outcome(s3.send(complete({ IfNoneMatch: '*' }))), '412 PreconditionFailed');
  assert.equal(await outcome(s3.send(complete({ IfMatch: '"0123456789abcdef0123456789abcdef"' }))), '412 PreconditionFailed');
  const current = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: key }));
  assert.equal(await outcome(s3.send(complete({ IfMatch: current.ETag }))), 'ok');

  const copy = (condition: object) => new CopyObjectCommand({ Bucket: alice.bucket, Key: key, CopySource: `${alice.bucket}/conditional/race.txt`, ...condition });
  assert.equal(await outcome(s3.send(copy({ IfNoneMatch: '*' }))), '412 PreconditionFailed');
  assert.equal(await outcome(s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'conditional/fresh.txt', Body: 'x', IfNoneMatch: 'some-etag' }))), '501 NotImplemented');
});

test('conditional deletes: If-Match on DeleteObject, ETag in DeleteObjects', async () => {
  const s3 = client(alice);
  const put = await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'conditional/delete-me.txt', Body: 'x' }));
  const other = '"0123456789abcdef0123456789abcdef"';
  assert.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: alice.bucket, Key: 'conditional/delete-me.txt', IfMatch: other }))), '412 PreconditionFailed');
  assert.equal((await bodyBytes(s3, alice.bucket, 'conditional/delete-me.txt')).toString(), 'x');
  assert.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: alice.bucket, Key: 'conditional/delete-me.txt', IfMatch: put.ETag }))), 'ok');
  assert.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: alice.bucket, Key: 'conditional/delete-me.txt', IfMatch: '*' }))), '404 NoSuchKey');
  assert.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: alice.bucket, Key: 'conditional/delete-me.txt' }))), 'ok', 'unconditional: 204 whether or not it exists');

  const a = await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'conditional/a.txt', Body: 'a' }));
  await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'conditional/b.txt', Body: 'b' }));
  const batch = await s3.send(new DeleteObjectsCommand({ Bucket: alice.bucket, Delete: { Objects: [{ Key: 'conditional/a.txt', ETag: a.ETag }, { Key: 'conditional/b.txt', ETag: other }] } }));
  assert.deepEqual(batch.Deleted?.map((deleted) => deleted.Key), ['conditional/a.txt']);
  assert.deepEqual(batch.Errors?.map((failed) => [failed.Key, failed.Code]), [['conditional/b.txt', 'PreconditionFailed']]);
  assert.equal((await bodyBytes(s3, alice.bucket, 'conditional/b.txt')).toString(), 'b');
});

test('conditional copies: x-amz-copy-source-if-match / -if-none-match / -if-(un)modified-since', async () => {
  const s3 = client(alice);
  const put = await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'conditional/source.txt', Body: 'source' }));
  const modified = (await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'conditional/source.txt' }))).LastModified!;
  const before = new Date(modified.getTime() - 3600_000);
  const later = new Date(modified.getTime() + 3600_000);
  const other = '"0123456789abcdef0123456789abcdef"';
  const copy = (condition: object) => outcome(s3.send(new CopyObjectCommand({ Bucket: alice.bucket, Key: 'conditional/copy.txt', CopySource: `${alice.bucket}/conditional/source.txt`, ...condition })));
  const cases: Array<[object, string]> = [
    [{ CopySourceIfMatch: put.ETag }, 'ok'],
    [{ CopySourceIfMatch: other }, '412 PreconditionFailed'],
    [{ CopySourceIfNoneMatch: other }, 'ok'],
    [{ CopySourceIfNoneMatch: put.ETag }, '412 PreconditionFailed'],
    [{ CopySourceIfModifiedSince: before }, 'ok'],
    [{ CopySourceIfModifiedSince: later }, '412 PreconditionFailed'],
    [{ CopySourceIfUnmodifiedSince: later }, 'ok'],
    [{ CopySourceIfUnmodifiedSince: before }, '412 PreconditionFailed'],
    // AWS's precedence: a matching If-Match wins over If-Unmodified-Since…
    [{ CopySourceIfMatch: put.ETag, CopySourceIfUnmodifiedSince: before }, 'ok'],
    // …and a matching If-None-Match fails whatever If-Modified-Since says.
    [{ CopySourceIfNoneMatch: put.ETag, CopySourceIfModifiedSince: before }, '412 PreconditionFailed'],
  ];
  for (const [condition, expected] of cases) assert.equal(await copy(condition), expected, JSON.stringify(condition));
});

test('GetObject and HeadObject ?partNumber= return that part (part 1 of a simple object is all of it)', async () => {
  const s3 = client(alice);
  const sizes = [5 * 1024 * 1024, 5 * 1024 * 1024 + 17, 333];
  const { UploadId, parts, bodies } = await uploadParts(s3, 'parts/three.bin', sizes);
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: alice.bucket, Key: 'parts/three.bin', UploadId, MultipartUpload: { Parts: parts } }));
  let offset = 0;
  for (const [index, body] of bodies.entries()) {
    const got = await s3.send(new GetObjectCommand({ Bucket: alice.bucket, Key: 'parts/three.bin', PartNumber: index + 1 }));
    assert.equal(got.$metadata.httpStatusCode, 206);
    assert.equal(got.PartsCount, 3);
    assert.equal(got.ContentRange, `bytes ${offset}-${offset + body.length - 1}/${sizes.reduce((a, b) => a + b)}`);
    assert.equal(sha256(Buffer.from(await got.Body!.transformToByteArray())), sha256(body));
    const head = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'parts/three.bin', PartNumber: index + 1 }));
    assert.deepEqual([head.$metadata.httpStatusCode, head.ContentLength, head.PartsCount], [206, body.length, 3]);
    offset += body.length;
  }
  assert.equal(await outcome(s3.send(new GetObjectCommand({ Bucket: alice.bucket, Key: 'parts/three.bin', PartNumber: 4 }))), '416 InvalidPartNumber');
  assert.equal(await outcome(s3.send(new GetObjectCommand({ Bucket: alice.bucket, Key: 'parts/three.bin', PartNumber: 1, Range: 'bytes=0-1' }))), '400 InvalidRequest');
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'parts/three.bin' }))).PartsCount, undefined, 'the parts count only answers a part request');

  await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'parts/simple.txt', Body: 'one piece' }));
  const whole = await s3.send(new GetObjectCommand({ Bucket: alice.bucket, Key: 'parts/simple.txt', PartNumber: 1 }));
  assert.deepEqual([whole.$metadata.httpStatusCode, whole.ContentRange, await whole.Body!.transformToString()], [206, 'bytes 0-8/9', 'one piece']);
  assert.equal(await outcome(s3.send(new GetObjectCommand({ Bucket: alice.bucket, Key: 'parts/simple.txt', PartNumber: 2 }))), '416 InvalidPartNumber');
});

test('checksums sent by the SDK are verified, stored and returned (ChecksumMode ENABLED), composite for multipart', async () => {
  const s3 = client(alice);
  const body = Buffer.from('checksummed content\n');
  const expected: Record<string, string> = {};
  for (const algorithm of checksumAlgorithms) {
    const checksum = createChecksum(algorithm);
    checksum.update(body);
    expected[algorithm.toUpperCase()] = checksum.digest();
  }
  for (const [algorithm, value] of Object.entries(expected)) {
    const key = `checksums/${algorithm}.txt`;
    const put = await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: key, Body: body, ChecksumAlgorithm: algorithm as ChecksumAlgorithm }));
    assert.equal((put as unknown as Record<string, string>)[`Checksum${algorithm}`], value, `${algorithm} in the PutObject answer`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal((head as unknown as Record<string, string>)[`Checksum${algorithm}`], value, `${algorithm} on HEAD`);
    assert.equal(head.ChecksumType, 'FULL_OBJECT');
    const plain = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: key }));
    assert.equal((plain as unknown as Record<string, string>)[`Checksum${algorithm}`], undefined, 'only when asked');
  }
  // A wrong declared checksum is refused and nothing stored.
  const wrong = await rawSigned(alice, 'PUT', `/${alice.bucket}/checksums/wrong.txt`, body, { 'x-amz-checksum-sha256': expected.SHA256!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) });
  assert.equal(wrong.status, 400);
  assert.match(wrong.body, /<Code>BadDigest<\/Code>/);
  assert.equal(await outcome(s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'checksums/wrong.txt' }))), '404 NotFound');

  const { UploadId, parts, bodies } = await uploadParts(s3, 'checksums/multipart.bin', [5 * 1024 * 1024, 4321], { ChecksumAlgorithm: 'CRC32' });
  assert.ok(parts.every((part) => part.ChecksumCRC32), 'UploadPart answers the part checksum');
  const listed = await s3.send(new ListPartsCommand({ Bucket: alice.bucket, Key: 'checksums/multipart.bin', UploadId }));
  assert.deepEqual(listed.Parts?.map((part) => part.ChecksumCRC32), parts.map((part) => part.ChecksumCRC32));
  const tampered = parts.map((part, index) => (index === 0 ? { ...part, ChecksumCRC32: 'AAAAAA==' } : part));
  assert.equal(await outcome(s3.send(new CompleteMultipartUploadCommand({ Bucket: alice.bucket, Key: 'checksums/multipart.bin', UploadId, MultipartUpload: { Parts: tampered } }))), '400 InvalidPart');
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: alice.bucket, Key: 'checksums/multipart.bin', UploadId, MultipartUpload: { Parts: parts } }));
  const partCrcs = Buffer.concat(parts.map((part) => Buffer.from(part.ChecksumCRC32!, 'base64')));
  const composite = createChecksum('crc32');
  composite.update(partCrcs);
  assert.equal(done.ChecksumCRC32, `${composite.digest()}-2`);
  const head = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'checksums/multipart.bin', ChecksumMode: 'ENABLED' }));
  assert.deepEqual([head.ChecksumCRC32, head.ChecksumType], [done.ChecksumCRC32, 'COMPOSITE']);
  assert.equal(sha256(await bodyBytes(s3, alice.bucket, 'checksums/multipart.bin')), sha256(Buffer.concat(bodies)));

  // FULL_OBJECT (the only type CRC64NVME has): the whole object's CRC, combined from the parts'.
  const full = await uploadParts(s3, 'checksums/full.bin', [5 * 1024 * 1024, 5 * 1024 * 1024, 999], { ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'FULL_OBJECT' });
  const whole = createChecksum('crc64nvme');
  for (const part of full.bodies) whole.update(part);
  const expectedWhole = whole.digest();
  const wrongWhole = new CompleteMultipartUploadCommand({ Bucket: alice.bucket, Key: 'checksums/full.bin', UploadId: full.UploadId, MultipartUpload: { Parts: full.parts }, ChecksumType: 'FULL_OBJECT', ChecksumCRC64NVME: 'AAAAAAAAAAA=' });
  assert.equal(await outcome(s3.send(wrongWhole)), '400 BadDigest');
  const completed = await s3.send(new CompleteMultipartUploadCommand({ Bucket: alice.bucket, Key: 'checksums/full.bin', UploadId: full.UploadId, MultipartUpload: { Parts: full.parts }, ChecksumType: 'FULL_OBJECT', ChecksumCRC64NVME: expectedWhole }));
  assert.deepEqual([completed.ChecksumCRC64NVME, completed.ChecksumType], [expectedWhole, 'FULL_OBJECT']);
  // The SDK validates a FULL_OBJECT checksum on GET: a wrong one would fail the read.
  const got = await s3.send(new GetObjectCommand({ Bucket: alice.bucket, Key: 'checksums/full.bin', ChecksumMode: 'ENABLED' }));
  assert.equal(got.ChecksumCRC64NVME, expectedWhole);
  assert.equal(sha256(Buffer.from(await got.Body!.transformToByteArray())), sha256(Buffer.concat(full.bodies)));
  assert.equal(await outcome(s3.send(new CreateMultipartUploadCommand({ Bucket: alice.bucket, Key: 'checksums/no.bin', ChecksumAlgorithm: 'SHA256', ChecksumType: 'FULL_OBJECT' }))), '400 InvalidRequest');

  // A copy keeps a FULL_OBJECT checksum, and computes the one it is asked for.
  const kept = await s3.send(new CopyObjectCommand({ Bucket: alice.bucket, Key: 'checksums/copy-kept.bin', CopySource: `${alice.bucket}/checksums/full.bin` }));
  assert.equal(kept.CopyObjectResult?.ChecksumCRC64NVME, expectedWhole);
  const asked = await s3.send(new CopyObjectCommand({ Bucket: alice.bucket, Key: 'checksums/copy-sha.txt', CopySource: `${alice.bucket}/checksums/CRC32.txt`, ChecksumAlgorithm: 'SHA256' }));
  assert.equal(asked.CopyObjectResult?.ChecksumSHA256, expected.SHA256);
  const copiedHead = await s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'checksums/copy-sha.txt', ChecksumMode: 'ENABLED' }));
  assert.equal(copiedHead.ChecksumSHA256, expected.SHA256);
});

test('CreateBucket reads its CreateBucketConfiguration: another region is refused, a bad document is MalformedXML', async () => {
  const s3 = client(alice, { maxAttempts: 1 });
  assert.equal(await outcome(s3.send(new CreateBucketCommand({ Bucket: alice.bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-3' } }))), '400 IllegalLocationConstraintException');
  assert.equal(await outcome(s3.send(new CreateBucketCommand({ Bucket: alice.bucket }))), 'ok');
  const bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><CreateBucketConfiguration><LocationConstraint>&a;</LocationConstraint></CreateBucketConfiguration>';
  for (const body of [bomb, '<CreateBucketConfiguration><LocationConstraint>', '<Other/>']) {
    const res = await rawSigned(alice, 'PUT', `/${alice.bucket}`, body);
    assert.equal(res.status, 400, body);
    assert.match(res.body, /<Code>MalformedXML<\/Code>/);
  }
});

test('listing edges as S3: max-keys=0, empty or forged continuation-token, encoding-type=url', async () => {
  const s3 = client(alice);
  for (const key of ['edges/a b+c.txt', 'edges/dir é/x.txt', 'edges/z.txt']) await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: key, Body: 'x' }));
  const zero = await rawSigned(alice, 'GET', `/${alice.bucket}?list-type=2&max-keys=0&prefix=edges%2F`);
  assert.equal(zero.status, 200);
  assert.match(zero.body, /<KeyCount>0<\/KeyCount><MaxKeys>0<\/MaxKeys><IsTruncated>false<\/IsTruncated>/);
  assert.doesNotMatch(zero.body, /<Contents>|NextContinuationToken/);
  const zeroV1 = await s3.send(new ListObjectsCommand({ Bucket: alice.bucket, Prefix: 'edges/', MaxKeys: 0 }));
  assert.deepEqual([zeroV1.IsTruncated, zeroV1.Contents], [false, undefined]);

  for (const token of ['', 'not-a-token']) {
    const refused = await rawSigned(alice, 'GET', `/${alice.bucket}?list-type=2&continuation-token=${encodeURIComponent(token)}`);
    assert.equal(refused.status, 400, token);
    assert.match(refused.body, /<Code>InvalidArgument<\/Code><Message>The continuation token provided is incorrect<\/Message><ArgumentName>continuation-token<\/ArgumentName>/);
  }

  const encoded = await rawSigned(alice, 'GET', `/${alice.bucket}?list-type=2&prefix=edges%2F&delimiter=%2F&encoding-type=url`);
  assert.match(encoded.body, /<Prefix>edges\/<\/Prefix>/);
  assert.match(encoded.body, /<Key>edges\/a%20b%2Bc\.txt<\/Key>/);
  assert.match(encoded.body, /<CommonPrefixes><Prefix>edges\/dir%20%C3%A9\/<\/Prefix><\/CommonPrefixes>/);
  assert.match(encoded.body, /<EncodingType>url<\/EncodingType>/);
  // The SDK decodes nothing by itself: boto3 (in s3-clients.test.ts) asks for url and decodes.
  const decoded = await s3.send(new ListObjectsV2Command({ Bucket: alice.bucket, Prefix: 'edges/', Delimiter: '/' }));
  assert.deepEqual(decoded.Contents?.map((object) => object.Key), ['edges/a b+c.txt', 'edges/z.txt']);
});

test('what is not implemented answers 501 NotImplemented instead of being ignored', async () => {
  const s3 = client(alice);
  await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'unsupported/kept.txt', Body: 'kept' }));
  const refusedHeaders: Array<Record<string, string>> = [
    { 'x-amz-tagging': 'project=atelier' },
    { 'x-amz-server-side-encryption': 'AES256' },
    { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'key' },
    { 'x-amz-server-side-encryption-customer-algorithm': 'AES256' },
    { 'x-amz-acl': 'public-read' },
    { 'x-amz-grant-read': 'uri=http://acs.amazonaws.com/groups/global/AllUsers' },
    { 'x-amz-storage-class': 'GLACIER' },
    { 'x-amz-object-lock-mode': 'GOVERNANCE' },
    { 'x-amz-website-redirect-location': '/elsewhere' },
  ];
  for (const headers of refusedHeaders) {
    const res = await rawSigned(alice, 'PUT', `/${alice.bucket}/unsupported/new.txt`, 'x', headers);
    assert.equal(res.status, 501, JSON.stringify(headers));
    assert.match(res.body, /<Code>NotImplemented<\/Code>/);
  }
  for (const [method, path] of [
    ['PUT', `/${alice.bucket}/unsupported/kept.txt?acl`],
    ['PUT', `/${alice.bucket}/unsupported/kept.txt?tagging`],
    ['DELETE', `/${alice.bucket}/unsupported/kept.txt?tagging`],
    ['GET', `/${alice.bucket}/unsupported/kept.txt?attributes`],
    ['GET', `/${alice.bucket}/unsupported/kept.txt?versionId=3HL4kqtJlcpXroDTDmJ`],
    ['PUT', `/${alice.bucket}?acl`],
    ['PUT', `/${alice.bucket}?versioning`],
    ['PUT', `/${alice.bucket}?lifecycle`],
    ['DELETE', `/${alice.bucket}?policy`],
    ['GET', `/${alice.bucket}?versions`],
  ] as const) {
    const res = await rawSigned(alice, method, path);
    assert.equal(res.status, 501, `${method} ${path}: ${res.body}`);
  }
  assert.equal((await bodyBytes(s3, alice.bucket, 'unsupported/kept.txt')).toString(), 'kept', 'DELETE ?tagging did not delete the object');
  assert.equal(await outcome(s3.send(new HeadObjectCommand({ Bucket: alice.bucket, Key: 'unsupported/new.txt' }))), '404 NotFound');
  // What clients send routinely still works.
  for (const headers of [{ 'x-amz-acl': 'private' }, { 'x-amz-storage-class': 'STANDARD' }] as Array<Record<string, string>>) {
    assert.equal((await rawSigned(alice, 'PUT', `/${alice.bucket}/unsupported/fine.txt`, 'x', headers)).status, 200, JSON.stringify(headers));
  }
  assert.equal((await rawSigned(alice, 'GET', `/${alice.bucket}/unsupported/kept.txt?versionId=null`)).status, 200);
});

test('SigV4: a request dated by the Date header is accepted; an x-amz-* header added after signing is refused', async () => {
  const url = new URL(endpoint);
  const now = new Date();
  const date = now.toUTCString();
  const amzDate = now.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = { date, host: url.host, 'x-amz-content-sha256': sha256(Buffer.alloc(0)), 'x-amz-security-token': alice.sessionToken };
  const names = Object.keys(headers).sort();
  const canonical = ['GET', `/${alice.bucket}/unsupported/kept.txt`, '', names.map((name) => `${name}:${headers[name]}\n`).join(''), names.join(';'), headers['x-amz-content-sha256']].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  let key: Buffer = createHmac('sha256', `AWS4${alice.secretAccessKey}`).update(day).digest();
  for (const part of [region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(`AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`).digest('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${alice.accessKeyId}/${scope},SignedHeaders=${names.join(';')},Signature=${signature}`;
  const dated = await fetch(`${endpoint}/${alice.bucket}/unsupported/kept.txt`, { headers: { ...headers, authorization } });
  assert.deepEqual([dated.status, await dated.text()], [200, 'kept']);

  const added = tamperingClient((body) => body);
  added.middlewareStack.add((next) => async (args) => {
    (args.request as { headers: Record<string, string> }).headers['x-amz-meta-added'] = 'after signing';
    return next(args);
  }, { step: 'deserialize', name: 'addHeaderAfterSigning' });
  assert.equal(await outcome(added.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'unsupported/added.txt', Body: 'x' }))), '403 AccessDenied');
});
