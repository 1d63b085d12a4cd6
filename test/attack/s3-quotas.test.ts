/**
 * A learner who tries to fill or hold the embedded S3: bytes and object quotas (as aws, the JS
 * SDK and the files page report them), incomplete multipart uploads swept and freed, 40 stalled
 * uploads against another learner's GET, and a listing of 100,000 keys from a data directory
 * written before the object index existed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type ClientRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createS3Handler, isS3Request, MemoryCredentialStore, type S3Credential } from '../../server/storage/index.ts';
import { ObjectStore, type BucketLimits } from '../../server/storage/object-store.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { startTestServer } from '../helpers/server.ts';

const region = 'us-east-1';
const KiB = 1024;
const MiB = 1024 * KiB;

interface Endpoint {
  url: string;
  store: ObjectStore;
  credentials: MemoryCredentialStore;
  close(): Promise<void>;
}

async function startEndpoint(root: string, options: { limits?: (bucket: string) => BucketLimits | undefined; maxConcurrentPerLearner?: number; now?: () => number; multipartTtl?: number } = {}): Promise<Endpoint> {
  const store = new ObjectStore(root, {
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.multipartTtl !== undefined ? { multipartTtl: options.multipartTtl } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const credentials = new MemoryCredentialStore();
  const s3 = createS3Handler({
    root,
    store,
    region,
    credentials,
    bucketExists: () => true,
    ...(options.maxConcurrentPerLearner !== undefined ? { maxConcurrentPerLearner: options.maxConcurrentPerLearner } : {}),
  });
  const server: Server = createServer((req, res) => (isS3Request(req) ? s3(req, res) : res.writeHead(404).end()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    store,
    credentials,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await store.close();
    },
  };
}

function client(endpoint: Endpoint, who: S3Credential): S3Client {
  return new S3Client({ endpoint: endpoint.url, region, forcePathStyle: true, credentials: who, maxAttempts: 1 });
}

async function s3Error(promise: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await promise;
  } catch (error) {
    return error as S3ServiceException;
  }
  throw new Error('expected the request to be refused');
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: 60_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let workDir = '';
before(() => {
  workDir = mkdtempSync(join(tmpdir(), 'atelier-s3-quotas-'));
});
after(() => rmSync(workDir, { recursive: true, force: true }));

describe('bucket quotas', () => {
  let endpoint: Endpoint;
  let alice: S3Credential;
  let trainer: S3Credential;
  const limits = (bucket: string): BucketLimits | undefined => (bucket === 'atelier' ? undefined : { maxBytes: 1 * MiB, maxObjects: 5 });

  before(async () => {
    endpoint = await startEndpoint(join(workDir, 'quota'), { limits });
    alice = endpoint.credentials.issue('alice', 'learner-alice');
    trainer = endpoint.credentials.issue('trainer', 'atelier');
  });
  after(() => endpoint.close());

  test('bytes: a bucket cannot hold more than its quota, uploads in progress included; the refusal names limit and usage', async () => {
    const s3 = client(endpoint, alice);
    const chunk = Buffer.alloc(300 * KiB, 1);
    let stored = 0;
    let refused: S3ServiceException | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      try {
        await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: `fill/${i}`, Body: chunk }));
        stored += chunk.length;
      } catch (error) {
        refused = error as S3ServiceException;
      }
    }
    // Before the quota: all ten (3 MiB) were accepted.
    assert.equal(stored, 3 * chunk.length, 'three fit in 1 MiB, the fourth does not');
    assert.ok(refused, 'refused');
    assert.equal(refused.name, 'QuotaExceeded');
    assert.equal(refused.$metadata.httpStatusCode, 403);
    assert.match(refused.message, /at most 1 MiB per bucket.*900 KiB used/);
    assert.equal((await endpoint.store.usage(alice.bucket)).bytes, 3 * chunk.length);

    // A streamed body with no declared length is cut as it passes the limit, and leaves nothing.
    const presigned = await getSignedUrl(s3, new PutObjectCommand({ Bucket: alice.bucket, Key: 'fill/streamed' }), { expiresIn: 60 });
    const streamed = await fetch(presigned, { method: 'PUT', body: new ReadableStream({ pull: (controller) => controller.enqueue(new Uint8Array(64 * KiB)) }), duplex: 'half' } as RequestInit);
    assert.equal(streamed.status, 403);
    assert.match(await streamed.text(), /<Code>QuotaExceeded<\/Code>/);
    assert.equal((await endpoint.store.usage(alice.bucket)).bytes, 3 * chunk.length);
    assert.equal((await endpoint.store.head(alice.bucket, 'fill/streamed')), undefined);

    // A multipart upload in progress counts: its part takes the room an object would have had.
    await s3.send(new DeleteObjectCommand({ Bucket: alice.bucket, Key: 'fill/2' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: alice.bucket, Key: 'big.bin' }));
    await s3.send(new UploadPartCommand({ Bucket: alice.bucket, Key: 'big.bin', UploadId, PartNumber: 1, Body: Buffer.alloc(350 * KiB) }));
    assert.equal((await s3Error(s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'fill/again', Body: chunk })))).name, 'QuotaExceeded');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: alice.bucket, Key: 'big.bin', UploadId }));
    await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'fill/again', Body: chunk }));

    // Overwriting an object only needs room for the difference.
    await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'fill/0', Body: Buffer.alloc(400 * KiB) }));

    // The trainers' shared bucket has no quota.
    await client(endpoint, trainer).send(new PutObjectCommand({ Bucket: 'atelier', Key: 'diffusion/big.bin', Body: Buffer.alloc(2 * MiB) }));
  });

  test('bytes: aws, s3cmd and boto3 print the refusal with its code and message', async () => {
    const file = join(workDir, 'too-big.bin');
    writeFileSync(file, Buffer.alloc(2 * MiB));
    const host = new URL(endpoint.url).host;
    const env = { PATH: process.env.PATH, HOME: join(workDir, 'home'), LANG: 'C.UTF-8', AWS_ACCESS_KEY_ID: alice.accessKeyId, AWS_SECRET_ACCESS_KEY: alice.secretAccessKey, AWS_SESSION_TOKEN: alice.sessionToken, AWS_DEFAULT_REGION: region, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_MAX_ATTEMPTS: '1' };
    const message = /QuotaExceeded[^\n]*at most 1 MiB per bucket/;

    const aws = await run('aws', ['--endpoint-url', endpoint.url, 's3api', 'put-object', '--bucket', alice.bucket, '--key', 'cli/too-big.bin', '--body', file], env);
    assert.notEqual(aws.code, 0);
    assert.match(aws.stderr, message, 'aws');

    const cfg = join(workDir, 'quota.s3cfg');
    writeFileSync(cfg, ['[default]', `access_key = ${alice.accessKeyId}`, `secret_key = ${alice.secretAccessKey}`, `access_token = ${alice.sessionToken}`, `host_base = ${host}`, `host_bucket = ${host}`, 'use_https = False', 'signature_v2 = False', `bucket_location = ${region}`, ''].join('\n'));
    const s3cmd = await run('s3cmd', ['-c', cfg, '--no-progress', 'put', file, `s3://${alice.bucket}/cli/too-big.bin`], env);
    assert.notEqual(s3cmd.code, 0);
    assert.match(s3cmd.stderr, /QuotaExceeded/, `s3cmd: ${s3cmd.stderr}`);

    const script = `
import boto3, botocore, sys
s3 = boto3.client('s3', endpoint_url=sys.argv[1], config=botocore.config.Config(retries={'max_attempts': 1}))
try:
    s3.put_object(Bucket=sys.argv[2], Key='cli/too-big.bin', Body=open(sys.argv[3], 'rb'))
except botocore.exceptions.ClientError as error:
    print(error.response['Error']['Code'], error.response['ResponseMetadata']['HTTPStatusCode'], error.response['Error']['Message'])
`;
    const boto3 = await run('/usr/bin/python3', ['-c', script, endpoint.url, alice.bucket, file], env);
    assert.match(boto3.stdout, /^QuotaExceeded 403 Bucket quota exceeded: at most 1 MiB per bucket/, `boto3: ${boto3.stdout}${boto3.stderr}`);
  });

  test('objects: the count (uploads in progress included) is capped; overwrites and deletes work at the limit', async () => {
    const s3 = client(endpoint, alice);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: alice.bucket }));
    for (const object of listed.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: alice.bucket, Key: object.Key }));
    let accepted = 0;
    let refused: S3ServiceException | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      try {
        await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: `many/${i}`, Body: 'x' }));
        accepted += 1;
      } catch (error) {
        refused = error as S3ServiceException;
      }
    }
    // Before the quota: all twenty were accepted.
    assert.equal(accepted, 5);
    assert.equal(refused?.name, 'QuotaExceeded');
    assert.match(refused!.message, /at most 5 objects per bucket .*, 5 stored/);
    assert.equal((await s3Error(s3.send(new CreateMultipartUploadCommand({ Bucket: alice.bucket, Key: 'many/mp' })))).name, 'QuotaExceeded', 'refused before any part is sent');
    await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'many/0', Body: 'overwritten' }));
    await s3.send(new DeleteObjectCommand({ Bucket: alice.bucket, Key: 'many/1' }));
    await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'many/new', Body: 'y' }));
    assert.deepEqual(await endpoint.store.usage(alice.bucket), { bytes: 'overwritten'.length + 4, objects: 5 });
    // Uploads in progress count too, so empty ones cannot be piled up without limit.
    await s3.send(new DeleteObjectCommand({ Bucket: alice.bucket, Key: 'many/new' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: alice.bucket, Key: 'many/mp' }));
    assert.equal((await s3Error(s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'many/other', Body: 'z' })))).name, 'QuotaExceeded');
    assert.equal((await s3Error(s3.send(new CreateMultipartUploadCommand({ Bucket: alice.bucket, Key: 'many/mp2' })))).name, 'QuotaExceeded');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: alice.bucket, Key: 'many/mp', UploadId }));
    await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'many/other', Body: 'z' }));
  });
});

test('files page: over the quota, an upload is refused with a localized message naming limit and usage', async () => {
  const server = await startTestServer({ config: { s3Limits: { maxBytes: 1 * MiB, maxObjects: 100, multipartTtl: 24 * 3600_000, maxConcurrentPerLearner: 16 } } });
  try {
    const learner = new LearnerClient(server.url);
    await learner.me();
    const headers = { origin: server.url, 'content-type': 'application/octet-stream' };
    assert.equal((await learner.api('/api/me/files?key=tp/a.bin', { method: 'PUT', raw: Buffer.alloc(700 * KiB), headers })).status, 201);
    const fr = await learner.api('/api/me/files?key=tp/b.bin', { method: 'PUT', raw: Buffer.alloc(700 * KiB), headers, lang: 'fr' });
    assert.equal(fr.status, 403, fr.text);
    assert.equal(fr.body.error.code, 'files_quota_bytes');
    assert.match(fr.body.error.message, /^Vos fichiers sont limités à 1\sMo au total .* et 700\sko sont utilisés/);
    const en = await learner.api('/api/me/files?key=tp/b.bin', { method: 'PUT', raw: Buffer.alloc(700 * KiB), headers, lang: 'en' });
    assert.match(en.body.error.message, /^Your files are limited to 1\sMB in all .* and 700\skB are used/);
    const listing = await learner.api('/api/me/files?prefix=tp/');
    assert.deepEqual(listing.body.files.map((file: { key: string }) => file.key), ['tp/a.bin'], 'nothing half-written');
  } finally {
    await server.cleanup();
  }
});

test('incomplete multipart uploads are swept after their lifetime, a bounded number per tick, and leave the quota', async () => {
  let clock = Date.now();
  const endpoint = await startEndpoint(join(workDir, 'sweep'), { limits: () => ({ maxBytes: 64 * MiB, maxObjects: 1000 }), multipartTtl: 24 * 3600_000, now: () => clock });
  try {
    const alice = endpoint.credentials.issue('alice', 'learner-alice');
    const s3 = client(endpoint, alice);
    for (let i = 0; i < 40; i++) {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: alice.bucket, Key: `left/${i}` }));
      await s3.send(new UploadPartCommand({ Bucket: alice.bucket, Key: `left/${i}`, UploadId, PartNumber: 1, Body: Buffer.alloc(100 * KiB) }));
    }
    assert.equal((await endpoint.store.usage(alice.bucket)).bytes, 40 * 100 * KiB);
    assert.equal(await endpoint.store.sweepUploads(), 0, 'nothing is a day old yet');
    clock += 25 * 3600_000;
    const fresh = await s3.send(new CreateMultipartUploadCommand({ Bucket: alice.bucket, Key: 'fresh' }));
    const perTick: number[] = [];
    for (let tick = 0; tick < 5; tick++) perTick.push(await endpoint.store.sweepUploads());
    assert.deepEqual(perTick, [16, 16, 8, 0, 0]);
    assert.equal((await endpoint.store.usage(alice.bucket)).bytes, 0, 'their bytes left the quota');
    assert.deepEqual((await endpoint.store.listUploads(alice.bucket)).map((upload) => upload.uploadId), [fresh.UploadId]);
    assert.deepEqual(readdirSync(join(workDir, 'sweep', 'buckets', alice.bucket, 'uploads')), [fresh.UploadId]);
  } finally {
    await endpoint.close();
  }
});

test('40 stalled uploads of one learner: beyond 16 they get SlowDown at once, another learner is served, slots come back', async () => {
  const endpoint = await startEndpoint(join(workDir, 'stall'), { maxConcurrentPerLearner: 16 });
  const sockets: ClientRequest[] = [];
  try {
    const alice = endpoint.credentials.issue('alice', 'learner-alice');
    const bob = endpoint.credentials.issue('bob', 'learner-bob');
    await client(endpoint, bob).send(new PutObjectCommand({ Bucket: bob.bucket, Key: 'mine.txt', Body: 'bob' }));
    const s3 = client(endpoint, alice);
    const answers: Array<Promise<number>> = [];
    for (let i = 0; i < 40; i++) {
      const url = new URL(await getSignedUrl(s3, new PutObjectCommand({ Bucket: alice.bucket, Key: `stall/${i}` }), { expiresIn: 300 }));
      answers.push(
        new Promise((resolve) => {
          const req = httpRequest(url, { method: 'PUT', headers: { 'content-length': String(64 * MiB) } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', () => resolve(-1));
          req.write(Buffer.alloc(KiB));
          sockets.push(req);
        }),
      );
    }
    const settled = await Promise.all(answers.map((answer) => Promise.race([answer, new Promise<number>((resolve) => setTimeout(() => resolve(0), 3000))])));
    // Before the cap: all 40 held a slot (no answer at all within the wait).
    assert.equal(settled.filter((status) => status === 503).length, 24, `statuses: ${settled.join(',')}`);
    assert.equal(settled.filter((status) => status === 0).length, 16, 'the others still hold their slot');

    const started = performance.now();
    const got = await client(endpoint, bob).send(new GetObjectCommand({ Bucket: bob.bucket, Key: 'mine.txt' }));
    assert.equal(await got.Body!.transformToString(), 'bob');
    assert.ok(performance.now() - started < 1000, 'another learner is served at once');

    for (const req of sockets) req.destroy();
    sockets.length = 0;
    // A client that goes away gives its slot back.
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await s3.send(new PutObjectCommand({ Bucket: alice.bucket, Key: 'after.txt', Body: 'ok' }));
        break;
      } catch (error) {
        if ((error as Error).name !== 'SlowDown' || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    for (const req of sockets) req.destroy();
    await endpoint.close();
  }
});

test('100,000 keys from a data directory older than the index: indexed on start, then listed in pages of milliseconds', async () => {
  const root = join(workDir, 'many');
  const dir = join(root, 'buckets', 'learner-many', 'objects');
  mkdirSync(dir, { recursive: true });
  // Written as the store lays objects out (sidecar + data), as a previous version left them.
  const count = 100_000;
  const writes: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const key = `data/${String(i % 100).padStart(3, '0')}/file-${String(i).padStart(6, '0')}.csv`;
    const hash = createHash('sha256').update(key).digest('hex');
    const meta = { key, size: 10, etag: '781e5e245d69b566979b86e28d23f2c7', lastModified: 1_700_000_000_000, headers: { 'content-type': 'text/csv' }, metadata: {}, data: `${hash}.0.data` };
    writes.push(writeFile(join(dir, `${hash}.json`), JSON.stringify(meta)), writeFile(join(dir, `${hash}.0.data`), '0123456789'));
    if (writes.length >= 512) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);

  const messages: string[] = [];
  const indexStart = performance.now();
  const store = new ObjectStore(root, { log: (message) => messages.push(message) });
  await store.ready();
  const indexMs = performance.now() - indexStart;
  await store.close();
  assert.ok(messages.some((message) => /100000 objects so far/.test(message)), `progress in the log: ${messages.join(' | ')}`);
  assert.ok(messages.some((message) => /object index built: 100000 objects/.test(message)));

  const endpoint = await startEndpoint(root);
  try {
    const who = endpoint.credentials.issue('many', 'learner-many');
    const s3 = client(endpoint, who);
    const pageMs: number[] = [];
    let token: string | undefined;
    let keys = 0;
    let previous = '';
    do {
      const started = performance.now();
      const page = await s3.send(new ListObjectsV2Command({ Bucket: who.bucket, ContinuationToken: token }));
      pageMs.push(performance.now() - started);
      for (const object of page.Contents ?? []) {
        assert.ok(object.Key! > previous, 'in order, no repeats');
        previous = object.Key!;
      }
      keys += page.KeyCount ?? 0;
      token = page.NextContinuationToken;
    } while (token);
    assert.equal(keys, count);
    assert.equal(pageMs.length, 100);
    const folders = await s3.send(new ListObjectsV2Command({ Bucket: who.bucket, Prefix: 'data/', Delimiter: '/' }));
    assert.equal(folders.CommonPrefixes?.length, 100);
    const inside = await s3.send(new ListObjectsV2Command({ Bucket: who.bucket, Prefix: 'data/042/', StartAfter: 'data/042/file-050042.csv', MaxKeys: 10 }));
    assert.equal(inside.Contents?.[0]?.Key, 'data/042/file-050142.csv');
    pageMs.sort((a, b) => a - b);
    const median = pageMs[50]!;
    const worst = pageMs.at(-1)!;
    console.log(`# 100,000 keys: indexed in ${Math.round(indexMs)} ms; ListObjectsV2 page of 1000: median ${median.toFixed(1)} ms, worst ${worst.toFixed(1)} ms`);
    // Before the index: every page read all 100,000 sidecars, about 3 s each.
    assert.ok(worst < 500, `worst page ${worst.toFixed(0)} ms`);
  } finally {
    await endpoint.close();
  }
});
