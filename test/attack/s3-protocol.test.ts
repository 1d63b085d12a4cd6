/**
 * Attack suite: the embedded S3 endpoint's protocol surface, attacked by a learner with their own
 * valid credentials or with a presigned URL someone gave them.
 * - XML bombs (2 MiB of unclosed tags, deep nesting, many elements, an entity bomb) sent to
 *   DeleteObjects and CompleteMultipartUpload are refused quickly, and another learner's requests
 *   are answered meanwhile (the parser must not hold the event loop).
 * - A presigned PUT cannot be turned into a CopyObject of the signer's private objects, nor set an
 *   ACL, metadata or tags the signer did not sign (AWS's HeadersNotSigned).
 * Run: node_modules/.bin/node --disable-warning=ExperimentalWarning --test test/attack/s3-protocol.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createS3Handler, isS3Request, MemoryCredentialStore, type S3Credential } from '../../server/storage/index.ts';
import { rawSigned, type RawResponse, type RawTarget } from '../helpers/s3-raw.ts';

const region = 'us-east-1';
const maxBody = 2 * 1024 * 1024;
let endpoint = '';
let target: RawTarget;
let workDir = '';
let close: () => Promise<void> = async () => {};
const credentials = new MemoryCredentialStore();
let mallory: S3Credential;
let victim: S3Credential;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'atelier-s3-attack-'));
  mallory = credentials.issue('mallory', 'learner-mallory');
  victim = credentials.issue('victim', 'learner-victim');
  const s3 = createS3Handler({ root: join(workDir, 'data'), region, credentials, bucketExists: (bucket) => [mallory.bucket, victim.bucket].includes(bucket), log: (message, error) => console.error(message, error) });
  const server = createServer((req, res) => (isS3Request(req) ? s3(req, res) : res.writeHead(404).end('site')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  target = { endpoint, region };
  close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  const asVictim = client(victim);
  await asVictim.send(new PutObjectCommand({ Bucket: victim.bucket, Key: 'private/secret.txt', Body: 'the victim\'s secret' }));
  await asVictim.send(new PutObjectCommand({ Bucket: victim.bucket, Key: 'diffusion/probe.txt', Body: 'probe' }));
});

after(async () => {
  await close();
  rmSync(workDir, { recursive: true, force: true });
});

function client(credential: S3Credential): S3Client {
  return new S3Client({ endpoint, region, forcePathStyle: true, credentials: credential, maxAttempts: 1 });
}

/** Sends `attack`, and meanwhile another learner's HEAD every 20 ms; the slowest HEAD, in ms. */
async function whileAnswering(attack: () => Promise<RawResponse>): Promise<{ response: RawResponse; ms: number; slowestProbeMs: number; probes: number }> {
  let done = false;
  let slowest = 0;
  let probes = 0;
  const probing = (async () => {
    while (!done) {
      const started = performance.now();
      const probe = await rawSigned(target, victim, 'HEAD', `/${victim.bucket}/diffusion/probe.txt`);
      assert.equal(probe.status, 200);
      slowest = Math.max(slowest, performance.now() - started);
      probes += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const started = performance.now();
  const response = await attack().finally(() => {
    done = true;
  });
  const ms = performance.now() - started;
  await probing;
  return { response, ms, slowestProbeMs: slowest, probes };
}

/** `head` + `unit` repeated up to 2 MiB (what the endpoint reads at most), optionally closed. */
function fill(head: string, unit: string, tail = ''): string {
  return head + unit.repeat(Math.floor((maxBody - head.length - tail.length) / unit.length)) + tail;
}

const entityBomb = `<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>`;

describe('XML bombs are refused quickly while others are served', () => {
  let uploadPath = '';
  before(async () => {
    const upload = await client(mallory).send(new CreateMultipartUploadCommand({ Bucket: mallory.bucket, Key: 'bomb.bin' }));
    uploadPath = `/${mallory.bucket}/bomb.bin?uploadId=${upload.UploadId}`;
  });

  const bombs: Array<[string, () => { path: string; body: string }]> = [
    ['DeleteObjects: 2 MiB of unclosed tags', () => ({ path: `/${mallory.bucket}?delete`, body: fill('<Delete>', '<Object><Key>') })],
    ['CompleteMultipartUpload: 2 MiB of unclosed tags', () => ({ path: uploadPath, body: fill('<CompleteMultipartUpload>', '<Part><PartNumber>') })],
    ['DeleteObjects: deep nesting', () => ({ path: `/${mallory.bucket}?delete`, body: fill('<Delete><Object><Key>', '<a>') })],
    ['CompleteMultipartUpload: deep nesting', () => ({ path: uploadPath, body: fill('<CompleteMultipartUpload><Part>', '<Part>') })],
    ['DeleteObjects: many elements', () => ({ path: `/${mallory.bucket}?delete`, body: fill('<Delete>', '<Object><Key>k</Key></Object>', '</Delete>') })],
    ['CompleteMultipartUpload: many elements', () => ({ path: uploadPath, body: fill('<CompleteMultipartUpload>', '<Part/>', '</CompleteMultipartUpload>') })],
    ['DeleteObjects: entity bomb', () => ({ path: `/${mallory.bucket}?delete`, body: `${entityBomb}<Delete><Object><Key>&lol4;</Key></Object></Delete>` })],
    ['CompleteMultipartUpload: entity bomb', () => ({ path: uploadPath, body: `${entityBomb}<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&lol4;</ETag></Part></CompleteMultipartUpload>` })],
  ];

  for (const [name, make] of bombs) {
    it(name, { timeout: 60_000 }, async () => {
      const { path, body } = make();
      assert.ok(Buffer.byteLength(body) <= maxBody);
      const result = await whileAnswering(() => rawSigned(target, mallory, 'POST', path, body));
      console.log(`${name}: ${result.response.status} in ${result.ms.toFixed(0)} ms; slowest of ${result.probes} probes ${result.slowestProbeMs.toFixed(0)} ms`);
      assert.equal(result.response.status, 400, result.response.body);
      assert.match(result.response.body, /<Code>MalformedXML<\/Code>/);
      assert.ok(result.ms < 2_000, `refused in ${result.ms.toFixed(0)} ms`);
      assert.ok(result.slowestProbeMs < 500, `another learner waited ${result.slowestProbeMs.toFixed(0)} ms`);
    });
  }
});

describe('a presigned PUT cannot be turned into something its signer did not sign', () => {
  let presignedPut = '';
  before(async () => {
    // The victim lets someone drop one file into their diffusion/ (a classic use of presigned PUTs).
    presignedPut = await getSignedUrl(client(victim), new PutObjectCommand({ Bucket: victim.bucket, Key: 'diffusion/drop.txt' }), { expiresIn: 600 });
  });

  it('adding x-amz-copy-source does not copy the signer\'s private object', async () => {
    const response = await fetch(presignedPut, { method: 'PUT', headers: { 'x-amz-copy-source': `${victim.bucket}/private/secret.txt` } });
    const body = await response.text();
    assert.equal(response.status, 403, body);
    assert.match(body, /<Code>AccessDenied<\/Code><Message>There were headers present in the request which were not signed<\/Message><HeadersNotSigned>x-amz-copy-source<\/HeadersNotSigned>/);
    const stolen = await client(mallory).send(new GetObjectCommand({ Bucket: victim.bucket, Key: 'diffusion/drop.txt' })).then(async (got) => got.Body!.transformToString(), (error: Error) => error.name);
    assert.equal(stolen, 'NoSuchKey');
  });

  it('adding an ACL, metadata, tags or a storage class is refused', async () => {
    for (const [name, value] of [['x-amz-acl', 'public-read'], ['x-amz-meta-owner', 'mallory'], ['x-amz-tagging', 'a=b'], ['x-amz-storage-class', 'GLACIER'], ['x-amz-website-redirect-location', 'https://evil.example/']]) {
      const response = await fetch(presignedPut, { method: 'PUT', headers: { [name!]: value! }, body: 'dropped' });
      const body = await response.text();
      assert.equal(response.status, 403, `${name}: ${body}`);
      assert.match(body, new RegExp(`<HeadersNotSigned>${name}</HeadersNotSigned>`));
    }
  });

  it('the presigned PUT itself still works', async () => {
    const response = await fetch(presignedPut, { method: 'PUT', body: 'dropped' });
    assert.equal(response.status, 200, await response.text());
    const got = await client(mallory).send(new GetObjectCommand({ Bucket: victim.bucket, Key: 'diffusion/drop.txt' }));
    assert.equal(await got.Body!.transformToString(), 'dropped');
  });
});
