/**
 * SigV4 verification and aws-chunked decoding against the worked examples of the AWS
 * documentation ("Signature Calculations for the Authorization Header" and "Transferring
 * Payload in Multiple Chunks"), plus the listing and checksum primitives.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { payloadStages } from '../../server/storage/chunked.ts';
import { combinedChecksum, createChecksum } from '../../server/storage/checksums.ts';
import { MemoryCredentialStore } from '../../server/storage/credentials.ts';
import { S3Error } from '../../server/storage/errors.ts';
import { childrenNamed, childText, XmlDocumentSink, type XmlElement } from '../../server/storage/xml.ts';
import { authenticate, emptySha256, groupHeaders } from '../../server/storage/sigv4.ts';

const exampleKey = 'AKIAIOSFODNN7EXAMPLE';
const exampleSecret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const exampleTime = Date.UTC(2013, 4, 24, 0, 0, 0);

function store(sessionToken = ''): MemoryCredentialStore {
  const credentials = new MemoryCredentialStore();
  credentials.add({ accessKeyId: exampleKey, secretAccessKey: exampleSecret, sessionToken, expiresAt: exampleTime + 3600_000, learnerId: 'example', bucket: 'examplebucket' });
  return credentials;
}

function headers(pairs: Record<string, string>): Map<string, string[]> {
  return groupHeaders(Object.entries(pairs).flat());
}

const getObjectExample = {
  method: 'GET',
  rawPath: '/test.txt',
  query: [] as Array<[string, string]>,
  headers: headers({
    Host: 'examplebucket.s3.amazonaws.com',
    Range: 'bytes=0-9',
    'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'x-amz-date': '20130524T000000Z',
    Authorization:
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  }),
};

async function code(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof S3Error) return error.code;
    throw error;
  }
  return 'ok';
}

test('the GET Object example of the AWS documentation verifies', async () => {
  const auth = await authenticate(getObjectExample, store(), exampleTime);
  assert.equal(auth.credential.learnerId, 'example');
});

test('one changed byte anywhere is SignatureDoesNotMatch; key, token, time and expiry are checked', async () => {
  assert.equal(await code(() => authenticate({ ...getObjectExample, rawPath: '/test.txu' }, store(), exampleTime)), 'SignatureDoesNotMatch');
  const changed = new Map(getObjectExample.headers);
  changed.set('range', ['bytes=0-8']);
  assert.equal(await code(() => authenticate({ ...getObjectExample, headers: changed }, store(), exampleTime)), 'SignatureDoesNotMatch');
  assert.equal(await code(() => authenticate(getObjectExample, new MemoryCredentialStore(), exampleTime)), 'InvalidAccessKeyId');
  assert.equal(await code(() => authenticate(getObjectExample, store('a-token'), exampleTime)), 'InvalidToken');
  assert.equal(await code(() => authenticate(getObjectExample, store(), exampleTime + 16 * 60_000)), 'RequestTimeTooSkewed');
  assert.equal(await code(() => authenticate(getObjectExample, store(), exampleTime + 2 * 3600_000)), 'ExpiredToken');
});

/** The presigned GET example of the AWS documentation (examplebucket/test.txt). */
const presignedExampleQuery: Array<[string, string]> = [
  ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
  ['X-Amz-Credential', 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request'],
  ['X-Amz-Date', '20130524T000000Z'],
  ['X-Amz-Expires', '86400'],
  ['X-Amz-SignedHeaders', 'host'],
  ['X-Amz-Signature', 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404'],
];

test('the presigned URL example of the AWS documentation verifies, and expires', async () => {
  const query = presignedExampleQuery;
  const request = { method: 'GET', rawPath: '/test.txt', query, headers: headers({ Host: 'examplebucket.s3.amazonaws.com' }) };
  const credentials = store();
  credentials.byAccessKey(exampleKey)!.expiresAt = exampleTime + 7 * 86400_000;
  assert.equal((await authenticate(request, credentials, exampleTime + 3600_000)).presigned, true);
  assert.equal(await code(() => authenticate(request, credentials, exampleTime + 86401_000)), 'AccessDenied');
  const tampered = query.map(([name, value]): [string, string] => [name, name === 'X-Amz-Signature' ? `b${value.slice(1)}` : value]);
  assert.equal(await code(() => authenticate({ ...request, query: tampered }, credentials, exampleTime + 3600_000)), 'SignatureDoesNotMatch');
});

async function detail(fn: () => unknown, name: string): Promise<string | undefined> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof S3Error) return error.details[name];
    throw error;
  }
  return undefined;
}

test('x-amz-* headers the signature does not cover are refused (HeadersNotSigned), header auth and presigned', async () => {
  const withMeta = new Map(getObjectExample.headers);
  withMeta.set('x-amz-meta-added', ['after signing']);
  const meta = { ...getObjectExample, headers: withMeta };
  assert.equal(await code(() => authenticate(meta, store(), exampleTime)), 'AccessDenied');
  assert.equal(await detail(() => authenticate(meta, store(), exampleTime), 'HeadersNotSigned'), 'x-amz-meta-added');

  const query = presignedExampleQuery;
  const presigned = (extra: Record<string, string>) => ({ method: 'GET', rawPath: '/test.txt', query, headers: headers({ Host: 'examplebucket.s3.amazonaws.com', ...extra }) });
  const copy = presigned({ 'x-amz-copy-source': 'examplebucket/private.txt', 'X-Amz-Acl': 'public-read' });
  assert.equal(await detail(() => authenticate(copy, store(), exampleTime), 'HeadersNotSigned'), 'x-amz-copy-source, x-amz-acl');
  // As on AWS, x-amz-content-sha256 may travel unsigned.
  assert.equal((await authenticate(presigned({ 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), store(), exampleTime)).presigned, true);
});

test('a request dated by the HTTP Date header (no x-amz-date) verifies; the Date must be signed', async () => {
  const date = 'Fri, 24 May 2013 00:00:00 GMT';
  const host = 'examplebucket.s3.amazonaws.com';
  const canonical = `GET\n/test.txt\n\ndate:${date}\nhost:${host}\nx-amz-content-sha256:${emptySha256}\n\ndate;host;x-amz-content-sha256\n${emptySha256}`;
  const scope = '20130524/us-east-1/s3/aws4_request';
  let key: Buffer = createHmac('sha256', `AWS4${exampleSecret}`).update('20130524').digest();
  for (const part of ['us-east-1', 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(`AWS4-HMAC-SHA256\n20130524T000000Z\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`).digest('hex');
  const request = (signedHeaders: string, sentDate = date) => ({
    method: 'GET',
    rawPath: '/test.txt',
    query: [] as Array<[string, string]>,
    headers: headers({ Host: host, Date: sentDate, 'x-amz-content-sha256': emptySha256, Authorization: `AWS4-HMAC-SHA256 Credential=${exampleKey}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}` }),
  });
  assert.equal((await authenticate(request('date;host;x-amz-content-sha256'), store(), exampleTime)).credential.learnerId, 'example');
  assert.equal(await code(() => authenticate(request('date;host;x-amz-content-sha256', 'Fri, 24 May 2013 00:00:01 GMT'), store(), exampleTime)), 'SignatureDoesNotMatch');
  assert.equal(await code(() => authenticate(request('host;x-amz-content-sha256'), store(), exampleTime)), 'AccessDenied');
  assert.equal(await code(() => authenticate(request('date;host;x-amz-content-sha256', '24 May 2013 00:00:00'), store(), exampleTime)), 'AccessDenied');
  assert.equal(await code(() => authenticate(request('date;host;x-amz-content-sha256'), store(), exampleTime + 16 * 60_000)), 'RequestTimeTooSkewed');
});

/** The chunked upload example: 66560 bytes of 'a' in chunks of 65536, 1024 and 0. */
function chunkedExample(tamper?: (signatures: string[]) => void): { request: Parameters<typeof authenticate>[0]; body: Buffer } {
  const signatures = [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ];
  tamper?.(signatures);
  const body = Buffer.concat([
    Buffer.from(`10000;chunk-signature=${signatures[0]}\r\n`),
    Buffer.alloc(65536, 'a'),
    Buffer.from(`\r\n400;chunk-signature=${signatures[1]}\r\n`),
    Buffer.alloc(1024, 'a'),
    Buffer.from(`\r\n0;chunk-signature=${signatures[2]}\r\n\r\n`),
  ]);
  const request = {
    method: 'PUT',
    rawPath: '/examplebucket/chunkObject.txt',
    query: [] as Array<[string, string]>,
    headers: headers({
      Host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      Authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'Content-Encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'Content-Length': String(body.length),
    }),
  };
  return { request, body };
}

async function decode(request: Parameters<typeof authenticate>[0], body: Buffer, chunkSize = 1000): Promise<Buffer> {
  const auth = await authenticate(request, store(), exampleTime);
  const parts: Buffer[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += chunkSize) pieces.push(body.subarray(i, i + chunkSize));
  const sink = new Writable({ write(chunk: Buffer, _encoding, callback) { parts.push(chunk); callback(); } });
  await pipeline([...payloadStages(Readable.from(pieces), request.headers, auth), sink]);
  return Buffer.concat(parts);
}

test('the signed chunked upload example decodes to its payload, whatever the network split', async () => {
  const { request, body } = chunkedExample();
  for (const split of [1, 7, 1000, 70000]) {
    const payload = await decode(request, body, split);
    assert.equal(payload.length, 66560);
    assert.ok(payload.every((byte) => byte === 0x61));
  }
});

test('a changed chunk signature or chunk byte fails the signed chunked upload', async () => {
  const bad = chunkedExample((signatures) => { signatures[1] = `1${signatures[1]!.slice(1)}`; });
  await assert.rejects(decode(bad.request, bad.body), (error: unknown) => error instanceof S3Error && error.code === 'SignatureDoesNotMatch');
  const { request, body } = chunkedExample();
  const changed = Buffer.from(body);
  changed[200] = 0x62;
  await assert.rejects(decode(request, changed), (error: unknown) => error instanceof S3Error && error.code === 'SignatureDoesNotMatch');
  await assert.rejects(decode(request, body.subarray(0, body.length - 40)), (error: unknown) => error instanceof S3Error);
});

test('an unsigned trailer body is unframed and its CRC32 checked', async () => {
  const payload = Buffer.from('hello, trailer world');
  const crc = createChecksum('crc32');
  crc.update(payload);
  const frame = (checksum: string): Buffer => Buffer.from(`${payload.length.toString(16)}\r\n${payload.toString()}\r\n0\r\nx-amz-checksum-crc32:${checksum}\r\n\r\n`);
  const auth = { credential: store().byAccessKey(exampleKey)!, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', presigned: false, chunks: undefined as never };
  const hdrs = headers({ 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-decoded-content-length': String(payload.length) });
  const run = async (body: Buffer): Promise<Buffer> => {
    const parts: Buffer[] = [];
    const sink = new Writable({ write(chunk: Buffer, _encoding, callback) { parts.push(chunk); callback(); } });
    await pipeline([...payloadStages(Readable.from([body]), hdrs, auth), sink]);
    return Buffer.concat(parts);
  };
  assert.deepEqual(await run(frame(crc.digest())), payload);
  await assert.rejects(run(frame('AAAAAA==')), (error: unknown) => error instanceof S3Error && error.code === 'BadDigest');
});

test('checksums match their published check values', () => {
  const expected = { crc32: 'cbf43926', crc32c: 'e3069283', crc64nvme: 'ae8b14860a799888' } as const;
  for (const [name, hex] of Object.entries(expected)) {
    const checksum = createChecksum(name as keyof typeof expected);
    checksum.update(Buffer.from('123456789'));
    assert.equal(Buffer.from(checksum.digest(), 'base64').toString('hex'), hex, name);
  }
});

test('CRC combination gives the checksum of the concatenation (FULL_OBJECT multipart checksums)', () => {
  const parts = [randomBytes(70_000), randomBytes(0), randomBytes(1), randomBytes(5000), randomBytes(70_000)];
  for (const algorithm of ['crc32', 'crc32c', 'crc64nvme'] as const) {
    const whole = createChecksum(algorithm);
    for (const part of parts) whole.update(part);
    const each = parts.map((part) => {
      const checksum = createChecksum(algorithm);
      checksum.update(part);
      return { value: checksum.digest(), size: part.length };
    });
    assert.equal(combinedChecksum(algorithm, each), whole.digest(), algorithm);
    assert.notEqual(combinedChecksum(algorithm, each.slice(1)), whole.digest(), algorithm);
  }
});

/** Feeds `pieces` to an XmlDocumentSink; the root, or the S3 error code it failed with. */
async function parsed(pieces: Array<string | Buffer>, limits = { maxDepth: 8, maxElements: 100, maxBytes: 4096 }): Promise<XmlElement | string> {
  const sink = new XmlDocumentSink(limits);
  try {
    await pipeline(Readable.from(pieces.map((piece) => Buffer.from(piece))), sink);
    return sink.root!;
  } catch (error) {
    if (error instanceof S3Error) return error.code;
    throw error;
  }
}

test('request documents: namespaces, entities, CDATA, a BOM and UTF-8 split across chunks parse; DOCTYPE, limits and bad XML are MalformedXML', async () => {
  const key = Buffer.from('<Key>été</Key>');
  const split = key.indexOf(0xc3) + 1;
  const root = await parsed([Buffer.from([0xef, 0xbb, 0xbf]), '<?xml version="1.0"?><s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><Object>', key.subarray(0, split), key.subarray(split), '</Object><Object><Key><![CDATA[<a&b>]]>&amp;&#x41;</Key></Object></s3:Delete>']);
  assert.ok(typeof root !== 'string', String(root));
  assert.equal(root.name, 'Delete');
  assert.deepEqual(childrenNamed(root, 'Object').map((object) => childText(object, 'Key')), ['été', '<a&b>&A']);
  for (const bad of [
    '<!DOCTYPE d [<!ENTITY e "x">]><Delete><Key>&e;</Key></Delete>',
    '<Delete><Key>&undefined;</Key></Delete>',
    '<Delete><Key>',
    '<Delete></Delete><Delete/>',
    'text',
    '',
    `<a>${'<b>'.repeat(8)}`,
    `<a>${'<b/>'.repeat(100)}</a>`,
    `<a>${'x'.repeat(5000)}</a>`,
  ]) {
    assert.equal(await parsed([bad]), 'MalformedXML', bad.slice(0, 40));
  }
});

