/**
 * The lab server in external-S3 mode (`config.s3.mode = 'external'`, ATELIER_S3_ENDPOINT…),
 * end to end, without a real MinIO (it cannot be installed here): the real server (real driver,
 * real labs) points at a second, independent embedded S3 endpoint (createS3Handler on its own
 * port, its own data directory) playing "MinIO", which also answers STS AssumeRole on `POST /`
 * as MinIO does, minting credentials that this fake accepts for the learner's bucket.
 *
 * VERIFIED
 *   - Configuration: unset endpoint = embedded; endpoint without both admin keys, TTL outside
 *     15m..12h, a malformed endpoint, an ATELIER_S3_* setting without the endpoint: one-line errors.
 *   - GET /api/me answers the STS-minted credentials (the same on a second call: no new STS
 *     request) and the external endpoint; the AssumeRole request is signed with the admin key for
 *     service sts, carries the configured RoleArn and DurationSeconds, RoleSessionName
 *     atelier-<id>, and a Policy equal to sessionPolicy(<learner id>, platform's diffusion patterns);
 *     the learner's bucket is created (by the admin) before minting.
 *   - Those credentials work on the fake for the learner's own bucket (put with a real S3 client).
 *   - Shared files of a lab are published to the external `atelier` bucket at start.
 *   - The lab server serves no S3 itself (a SigV4-signed request is not answered as S3; no s3/ dir).
 *   - Files API: upload, list, download (same bytes and type), delete act on the external store
 *     (seen directly in the fake's object store); objects written there by others are listed.
 *   - A launched lab gets AWS_ENDPOINT_URL, AWS_S3_ENDPOINT, MC_HOST_s3 and ~/.s3cfg (host,
 *     session token) for the external endpoint with the minted credentials; and, as documented,
 *     a local-driver lab cannot reach that endpoint (mc fails).
 *   - An `s3.object` check fails before and passes after an object is put in the external bucket
 *     directly (as a lab on another driver would), when Check is pressed; and it ticks on its own
 *     (socket.io `passed`) through the server's poll of running labs' s3.object keys (~5 s).
 *
 * NOT VERIFIED
 *   - A real MinIO or AWS: their STS (accepting this request, RoleArn, duration limits) and their
 *     evaluation of the session policy (here the fake applies the embedded endpoint's own policy
 *     to the minted credential, not the IAM document sent: that one is checked by
 *     test/unit/s3-external.test.ts's matcher only).
 *   - Labs using the external S3 from inside (they cannot reach it on the local driver; the
 *     kubernetes driver's pods, or a future proxy, could).
 *   - Credential renewal across a lab's lifetime (labs keep the credentials they were launched with).
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadConfig, type S3Mode } from '../../server/config.ts';
import { diffusionBuckets } from '../../server/learners/platform.ts';
import { createS3Handler, MemoryCredentialStore, type S3Credential } from '../../server/storage/index.ts';
import { ObjectStore } from '../../server/storage/object-store.ts';
import { sessionPolicy } from '../../server/storage/session-policy.ts';
import { configError } from '../helpers/config.ts';
import { makeLabsDir, startTestServer, type TestServer } from '../helpers/server.ts';
import { connectLearnerEvents, inLab, inLabOk, LearnerClient, type LearnerEvents } from '../helpers/learner.ts';

const region = 'us-east-1';
const admin = { id: 'ATELIERADMIN0001', secret: 'admin-secret-0123456789abcdefghij' };
const roleArn = 'arn:aws:iam::123456789012:role/atelier-learners';
const labId = 'ext-lab';
const labYaml = `
id: ${labId}
title: { fr: Lab S3 externe, en: External S3 lab }
workspace: /home/onyxia/work
resources: { cpu: 0.5, memory: 256Mi, disk: 64Mi, pids: 128 }
ttl: 10m
idle: 10m
services:
  s3:
    shared: { from: shared, to: diffusion/ext/ }
checks:
  uploaded:
    kind: s3.object
    key: tp/result.csv
    minSize: 1
    contentType: text/csv
`;
const sharedCsv = 'code,name\n75056,Paris\n';

describe('configuration of an external S3', () => {
  const base = { ATELIER_S3_ENDPOINT: 'http://minio.example:9000', ATELIER_S3_ADMIN_ACCESS_KEY_ID: 'atelier', ATELIER_S3_ADMIN_SECRET_ACCESS_KEY: 'very-secret-value' };

  test('unset endpoint: embedded (the default); set: external with its settings', () => {
    assert.deepEqual(loadConfig({}).s3, { mode: 'embedded' });
    assert.deepEqual(loadConfig({ ...base, ATELIER_S3_ENDPOINT: 'https://s3.example.org/' }).s3, {
      mode: 'external',
      endpoint: 'https://s3.example.org',
      adminAccessKeyId: 'atelier',
      adminSecretAccessKey: 'very-secret-value',
      credentialTtl: 12 * 3600_000,
    } satisfies S3Mode);
    assert.deepEqual(loadConfig({ ...base, ATELIER_S3_ROLE_ARN: roleArn, ATELIER_S3_STS_ENDPOINT: 'https://sts.example.org', ATELIER_S3_CREDENTIAL_TTL: '15m' }).s3, {
      mode: 'external',
      endpoint: 'http://minio.example:9000',
      adminAccessKeyId: 'atelier',
      adminSecretAccessKey: 'very-secret-value',
      roleArn,
      stsEndpoint: 'https://sts.example.org',
      credentialTtl: 900_000,
    } satisfies S3Mode);
  });

  test('one-line errors: missing admin keys, TTL out of range, bad endpoint, settings without the endpoint', () => {
    assert.match(configError({ ATELIER_S3_ENDPOINT: base.ATELIER_S3_ENDPOINT }), /ATELIER_S3_ADMIN_ACCESS_KEY_ID and ATELIER_S3_ADMIN_SECRET_ACCESS_KEY required when ATELIER_S3_ENDPOINT is set/);
    const noSecret = configError({ ATELIER_S3_ENDPOINT: base.ATELIER_S3_ENDPOINT, ATELIER_S3_ADMIN_ACCESS_KEY_ID: 'atelier' });
    assert.match(noSecret, /^invalid configuration: ATELIER_S3_ADMIN_SECRET_ACCESS_KEY required/);
    assert.match(configError({ ...base, ATELIER_S3_CREDENTIAL_TTL: '13h' }), /ATELIER_S3_CREDENTIAL_TTL="13h": must be from 15m to 12h/);
    assert.match(configError({ ...base, ATELIER_S3_CREDENTIAL_TTL: '10m' }), /ATELIER_S3_CREDENTIAL_TTL/);
    assert.match(configError({ ...base, ATELIER_S3_ENDPOINT: 'http://minio.example:9000/bucket' }), /ATELIER_S3_ENDPOINT=.*expected http\(s\):\/\/host\[:port\]/);
    assert.match(configError({ ...base, ATELIER_S3_ENDPOINT: 'minio.example:9000' }), /ATELIER_S3_ENDPOINT/);
    assert.match(configError({ ATELIER_S3_ADMIN_ACCESS_KEY_ID: 'atelier' }), /ATELIER_S3_ADMIN_ACCESS_KEY_ID is set but ATELIER_S3_ENDPOINT is not/);
    assert.ok(!configError({ ...base, ATELIER_S3_CREDENTIAL_TTL: '1d' }).includes(base.ATELIER_S3_ADMIN_SECRET_ACCESS_KEY), 'the secret is never quoted');
  });
});

interface StsCall {
  authorization: string;
  form: URLSearchParams;
}

/** The fake "MinIO": an embedded S3 endpoint of its own, plus STS AssumeRole on POST /. */
async function startFakeMinio(root: string) {
  const store = new ObjectStore(join(root, 's3'));
  const minted = new MemoryCredentialStore();
  const mintedBuckets = new Set<string>();
  const stsCalls: StsCall[] = [];
  const createdBuckets: string[] = [];
  /** The bucket of the request being served: the admin credential is allowed on it (s3:* on every bucket). */
  const requestBucket = new AsyncLocalStorage<string>();
  const credentials = {
    byAccessKey: (accessKeyId: string): S3Credential | undefined => {
      if (accessKeyId !== admin.id) return minted.byAccessKey(accessKeyId);
      const bucket = requestBucket.getStore() ?? '';
      return { accessKeyId, secretAccessKey: admin.secret, sessionToken: '', expiresAt: Date.now() + 3600_000, learnerId: 'admin', bucket };
    },
  };
  const s3 = createS3Handler({ root: join(root, 's3'), store, region, credentials, bucketExists: (bucket) => ['atelier', ...mintedBuckets].includes(bucket), log: (message, error) => console.error(message, error) });
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'POST' && path === '/' && String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      stsCalls.push({ authorization: String(req.headers.authorization ?? ''), form });
      // Like MinIO: the credential's bucket is the one the session policy gives in full.
      const policy = JSON.parse(form.get('Policy') ?? '{}') as { Statement: { Sid: string; Resource: string[] }[] };
      const bucket = policy.Statement.find((statement) => statement.Sid === 'OwnBucket')!.Resource[0]!.replace('arn:aws:s3:::', '');
      const credential = minted.issue(bucket, bucket, Number(form.get('DurationSeconds')) * 1000);
      mintedBuckets.add(bucket);
      const expiration = new Date(credential.expiresAt).toISOString();
      res.writeHead(200, { 'content-type': 'text/xml' }).end(
        `<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><AssumedRoleUser><Arn></Arn><AssumedRoleId></AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>${credential.accessKeyId}</AccessKeyId><SecretAccessKey>${credential.secretAccessKey}</SecretAccessKey><SessionToken>${credential.sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>1797D1B2C3</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
      return;
    }
    const bucket = decodeURIComponent(path.split('/')[1] ?? '');
    if (req.method === 'PUT' && /^\/[^/]+\/?$/.test(path)) createdBuckets.push(bucket);
    requestBucket.run(bucket, () => s3(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    store,
    stsCalls,
    createdBuckets,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('the lab server with an external S3', () => {
  let work: string;
  let labsDir: string;
  let minio: Awaited<ReturnType<typeof startFakeMinio>>;
  let server: TestServer;
  let learner: LearnerClient;
  let events: LearnerEvents | undefined;
  let me: { learner: { id: string }; s3: Record<string, string> };
  /** A real S3 client at the fake MinIO with the learner's minted credentials (what a lab would use). */
  let asLearner: S3Client;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'atelier-external-'));
    labsDir = makeLabsDir({ [labId]: labYaml });
    mkdirSync(join(labsDir, labId, 'shared'));
    writeFileSync(join(labsDir, labId, 'shared', 'communes.csv'), sharedCsv);
    minio = await startFakeMinio(work);
    server = await startTestServer({
      config: {
        labsDir,
        s3Region: region,
        s3: { mode: 'external', endpoint: minio.endpoint, adminAccessKeyId: admin.id, adminSecretAccessKey: admin.secret, roleArn, credentialTtl: 3600_000 },
      },
    });
    learner = new LearnerClient(server.url);
  });
  after(async () => {
    events?.close();
    asLearner?.destroy();
    await server?.cleanup();
    await minio?.close();
    if (server) rmSync(server.config.dataDir, { recursive: true, force: true });
    for (const dir of [work, labsDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('shared files are published to the external shared bucket; the server serves no S3 itself', async () => {
    assert.ok(minio.createdBuckets.includes('atelier'), `buckets created: ${minio.createdBuckets}`);
    const shared = await minio.store.open('atelier', 'diffusion/ext/communes.csv');
    assert.ok(shared, 'atelier/diffusion/ext/communes.csv on the external S3');
    assert.equal(await text(shared.file.createReadStream()), sharedCsv);
    assert.equal(shared.meta.headers['content-type'], 'text/csv');
    assert.equal(existsSync(join(server.config.dataDir, 's3')), false, 'no embedded object store');

    const signed = await fetch(`${server.url}/atelier?list-type=2`, {
      headers: { authorization: `AWS4-HMAC-SHA256 Credential=${admin.id}/20250101/${region}/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`, 'x-amz-date': '20250101T000000Z' },
    });
    const body = await signed.text();
    assert.ok(!body.includes('<ListBucketResult') && !body.includes('SignatureDoesNotMatch') && !body.includes('InvalidAccessKeyId'), `not answered as S3: ${signed.status} ${body.slice(0, 200)}`);
  });

  test('GET /api/me: STS-minted credentials for the learner scope, and the external endpoint', async () => {
    const first = await learner.api('/api/me');
    assert.equal(first.status, 200, first.text);
    me = first.body;
    const id = me.learner.id;
    assert.equal(minio.stsCalls.length, 1, 'one AssumeRole');
    const call = minio.stsCalls[0]!;
    assert.match(call.authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=${admin.id}/\\d{8}/${region}/sts/aws4_request,`));
    assert.equal(call.form.get('Action'), 'AssumeRole');
    assert.equal(call.form.get('RoleArn'), roleArn);
    assert.equal(call.form.get('DurationSeconds'), '3600');
    assert.equal(call.form.get('RoleSessionName'), `atelier-${id}`);
    const policy = JSON.parse(call.form.get('Policy')!);
    assert.deepEqual(policy, sessionPolicy(id, { otherBuckets: diffusionBuckets }));
    assert.deepEqual(policy.Statement.find((statement) => statement.Sid === 'OwnBucket')?.Resource, [`arn:aws:s3:::${id}`, `arn:aws:s3:::${id}/*`], 'everything on their own bucket only');
    assert.ok(minio.createdBuckets.includes(id), 'the learner bucket is created first');

    const { s3 } = me;
    assert.equal(s3.endpoint, minio.endpoint);
    assert.equal(s3.bucket, id);
    assert.equal(s3.region, region);
    assert.match(s3.accessKeyId!, /^AK[0-9A-F]{18}$/, 'the key the fake STS minted');
    assert.ok(s3.secretAccessKey && s3.sessionToken);
    const lifetime = Date.parse(s3.expiresAt!) - Date.now();
    assert.ok(lifetime > 3500_000 && lifetime <= 3600_000, `expires in about an hour: ${s3.expiresAt}`);

    const again = await learner.api('/api/me');
    assert.equal(again.body.s3.accessKeyId, s3.accessKeyId, 'reused');
    assert.equal(minio.stsCalls.length, 1, 'no second AssumeRole');

    asLearner = new S3Client({ endpoint: s3.endpoint, region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId!, secretAccessKey: s3.secretAccessKey!, sessionToken: s3.sessionToken! } });
    await asLearner.send(new PutObjectCommand({ Bucket: id, Key: 'hello.txt', Body: 'hi', ContentType: 'text/plain' }));
    const listed = await asLearner.send(new ListObjectsV2Command({ Bucket: id }));
    assert.deepEqual(listed.Contents?.map((object) => object.Key), ['hello.txt']);
  });

  test('files API: upload, list, download, delete on the external store', async () => {
    const id = me.learner.id;
    const bytes = randomBytes(300_000);
    const upload = await learner.api('/api/me/files?key=tp/data.bin', { method: 'PUT', raw: bytes, headers: { 'content-type': 'application/x-test' } });
    assert.equal(upload.status, 201, upload.text);
    assert.deepEqual(upload.body, { key: 'tp/data.bin', size: bytes.length });
    const stored = await minio.store.head(id, 'tp/data.bin');
    assert.ok(stored, 'in the external bucket');
    assert.equal(stored.size, bytes.length);
    assert.equal(stored.headers['content-type'], 'application/x-test');

    const root = await learner.api('/api/me/files');
    assert.equal(root.status, 200, root.text);
    assert.deepEqual(root.body.folders, ['tp/']);
    assert.deepEqual(root.body.files.map((file: { key: string }) => file.key), ['hello.txt'], 'written by the learner directly on the external S3');
    const folder = await learner.api('/api/me/files?prefix=tp/');
    assert.deepEqual(folder.body.files.map((file: { key: string; size: number }) => [file.key, file.size]), [['tp/data.bin', bytes.length]]);

    const download = await learner.download('tp/data.bin');
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-type'), 'application/x-test');
    assert.equal(download.headers.get('content-length'), String(bytes.length));
    assert.ok(download.bytes.equals(bytes), 'same bytes');
    assert.equal((await learner.api('/api/me/files/content?key=tp/missing.bin')).status, 404);

    const removed = await learner.api('/api/me/files?key=tp/data.bin', { method: 'DELETE' });
    assert.equal(removed.status, 204, removed.text);
    assert.equal(await minio.store.head(id, 'tp/data.bin'), undefined, 'gone from the external bucket');
    assert.equal((await learner.api('/api/me/files?key=tp/data.bin', { method: 'DELETE' })).status, 404);

    // A new learner uploads before anything else: their bucket is created on the way.
    const fresh = new LearnerClient(server.url);
    const put = await fresh.api('/api/me/files?key=first.txt', { method: 'PUT', raw: 'first' });
    assert.equal(put.status, 201, put.text);
    const freshId = (await fresh.me()).learner.id;
    assert.equal(await text((await minio.store.open(freshId, 'first.txt'))!.file.createReadStream()), 'first');
  });

  test('a lab gets the external endpoint and the minted credentials (and cannot reach it on the local driver); s3.object ticks', { timeout: 90_000 }, async () => {
    const id = me.learner.id;
    events = await connectLearnerEvents(server.url, learner.cookie);
    const lab = await learner.launch(labId);
    await server.sessions.get(lab.id)!.ready;
    const host = minio.endpoint.replace('http://', '');

    const env = await inLabOk(server, lab.id, 'echo "$AWS_ENDPOINT_URL|$AWS_S3_ENDPOINT|$AWS_ACCESS_KEY_ID|$AWS_BUCKET|$MC_HOST_s3"; cat ~/.s3cfg');
    const [line, ...s3cfg] = env.stdout.split('\n');
    const { s3 } = me;
    const encoded = [s3.accessKeyId!, s3.secretAccessKey!, s3.sessionToken!].map(encodeURIComponent).join(':');
    assert.equal(line, `${minio.endpoint}|${host}|${s3.accessKeyId}|${id}|http://${encoded}@${host}`);
    const config = s3cfg.join('\n');
    assert.match(config, new RegExp(`^host_base = ${host}$`, 'm'));
    assert.ok(!config.includes(s3.secretAccessKey!) && !config.includes(s3.sessionToken!), 'no keys: s3cmd takes them from the environment (it would refresh a token of its configuration from the cloud metadata address)');
    assert.match(config, /^use_https = False$/m);
    assert.equal(minio.stsCalls.length, 2, 'the launch reused the credentials (one more STS call: the fresh learner of the files test)');

    const unreachable = await inLab(server, lab.id, 'timeout 20 mc ls s3/$AWS_BUCKET', 30_000);
    assert.notEqual(unreachable.code, 0, `a local-driver lab cannot reach the external endpoint: ${unreachable.stdout}`);

    const check = () => learner.api(`/api/labs/${lab.id}/checks/uploaded`, { method: 'POST', lang: 'en' });
    const before = await check();
    assert.equal(before.status, 200, before.text);
    assert.equal(before.body.ok, false, before.text);

    // Let the poll see the lab once (it records a learner's state before announcing changes).
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const since = Date.now();
    // What a lab on another driver would do: write to the external bucket directly.
    await asLearner.send(new PutObjectCommand({ Bucket: id, Key: 'tp/result.csv', Body: 'a,b\n1,2\n', ContentType: 'text/csv' }));
    const after = await check();
    assert.equal(after.body.ok, true, `Check passes at once: ${after.text}`);
    const ticked = await events.waitFor((event) => event.lab === labId && event.check === 'uploaded', 12_000, since);
    assert.ok(ticked.at - since < 12_000, 'and ticks on its own through the poll');
    await learner.deleteLab(lab.id);
  });
});
