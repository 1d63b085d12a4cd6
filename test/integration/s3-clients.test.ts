/**
 * The embedded S3 endpoint with the real clients a learner types into a lab: Debian's `aws`
 * (awscli), `s3cmd`, boto3 (python3) and the labs' `mc` (labs/tools/mc). Each does the
 * allowed things (own bucket, others' diffusion/) and is refused the rest with the exact S3 code.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LAB_PYTHON_DIR } from '../../server/drivers/local/sandbox-args.ts';
import { createS3Handler, isS3Request, MemoryCredentialStore, type S3Credential } from '../../server/storage/index.ts';

const region = 'us-east-1';
const mc = join(import.meta.dirname, '..', '..', 'labs', 'tools', 'mc');
let host = '';
let endpoint = '';
let workDir = '';
let close: () => Promise<void> = async () => {};
const credentials = new MemoryCredentialStore();
let alice: S3Credential;
let bob: S3Credential;
let expired: S3Credential;
let small = '';
let big = '';
let bigSha = '';

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'atelier-s3-clients-'));
  alice = credentials.issue('alice', 'learner-alice');
  bob = credentials.issue('bob', 'learner-bob');
  expired = credentials.add({ ...credentials.issue('carol', 'learner-carol'), expiresAt: Date.now() - 1000 });
  const s3 = createS3Handler({ root: join(workDir, 'data'), region, credentials, bucketExists: (bucket) => ['learner-alice', 'learner-bob', 'learner-carol'].includes(bucket), log: (message, error) => console.error(message, error) });
  const server = createServer((req, res) => (isS3Request(req) ? s3(req, res) : res.writeHead(404).end('site')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  endpoint = `http://${host}`;
  close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });

  const asBob = new S3Client({ endpoint, region, forcePathStyle: true, credentials: bob });
  await asBob.send(new PutObjectCommand({ Bucket: bob.bucket, Key: 'diffusion/airports.csv', Body: 'code,name\nCDG,Paris\n' }));
  await asBob.send(new PutObjectCommand({ Bucket: bob.bucket, Key: 'private/secret.txt', Body: 'not for alice' }));
  asBob.destroy();

  small = join(workDir, 'data.csv');
  writeFileSync(small, 'a,b\n1,2\n');
  big = join(workDir, 'big.bin');
  const bytes = randomBytes(9 * 1024 * 1024 + 321);
  writeFileSync(big, bytes);
  bigSha = sha256(bytes);
  mkdirSync(join(workDir, 'home'));
});

after(async () => {
  await close();
  rmSync(workDir, { recursive: true, force: true });
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

type Who = Pick<S3Credential, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>;

/** The environment a lab shell gets (DESIGN.md, "Labs"). */
function labEnv(who: Who): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: join(workDir, 'home'),
    LANG: 'C.UTF-8',
    AWS_ACCESS_KEY_ID: who.accessKeyId,
    AWS_SECRET_ACCESS_KEY: who.secretAccessKey,
    AWS_SESSION_TOKEN: who.sessionToken,
    AWS_DEFAULT_REGION: region,
    AWS_S3_ENDPOINT: host,
    AWS_EC2_METADATA_DISABLED: 'true',
    MC_HOST_s3: `http://${encodeURIComponent(who.accessKeyId)}:${encodeURIComponent(who.secretAccessKey)}:${encodeURIComponent(who.sessionToken)}@${host}`,
  };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { env, cwd: workDir, timeout: 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(result: Run, what: string): string {
  assert.equal(result.code, 0, `${what}: ${result.stderr}`);
  return result.stdout;
}

function refused(result: Run, code: string, what: string): void {
  assert.notEqual(result.code, 0, `${what} should fail`);
  assert.ok(result.stderr.includes(code), `${what}: expected ${code} in ${result.stderr}`);
  assert.ok(!result.stderr.includes('Traceback'), `${what}: ${result.stderr}`);
}

async function tamperedStatus(url: string): Promise<[number, string]> {
  // SigV4 (X-Amz-Signature=hex) or SigV2 (Signature=base64) URLs: change one character.
  const [whole, name, signature] = /(X-Amz-Signature=|[?&]Signature=)([^&]+)/.exec(url)!;
  const changed = signature!.slice(0, 5) + (signature![5] === 'a' ? 'b' : 'a') + signature!.slice(6);
  const response = await fetch(url.replace(whole, `${name}${changed}`));
  return [response.status, /<Code>(\w+)<\/Code>/.exec(await response.text())?.[1] ?? ''];
}

test('aws (awscli): cp/ls/rm, multipart, copy, presign, others\' diffusion; refusals by code', async () => {
  const aws = (who: Who, ...args: string[]): Promise<Run> => run('aws', ['--endpoint-url', endpoint, ...args], labEnv(who));
  ok(await aws(alice, 's3', 'cp', small, `s3://${alice.bucket}/aws/data.csv`), 'upload');
  ok(await aws(alice, 's3', 'cp', big, `s3://${alice.bucket}/aws/big.bin`), 'multipart upload');
  const listing = ok(await aws(alice, 's3', 'ls', `s3://${alice.bucket}/aws/`), 'ls');
  assert.match(listing, /\s9437505 big\.bin/);
  assert.match(listing, /\s8 data\.csv/);
  ok(await aws(alice, 's3', 'cp', `s3://${alice.bucket}/aws/big.bin`, join(workDir, 'aws-big.bin')), 'download');
  assert.equal(sha256(readFileSync(join(workDir, 'aws-big.bin'))), bigSha);
  ok(await aws(alice, 's3', 'cp', `s3://${alice.bucket}/aws/big.bin`, `s3://${alice.bucket}/aws/big-copy.bin`), 'multipart copy');
  ok(await aws(alice, 's3', 'cp', `s3://${alice.bucket}/aws/big-copy.bin`, join(workDir, 'aws-copy.bin')), 'download copy');
  assert.equal(sha256(readFileSync(join(workDir, 'aws-copy.bin'))), bigSha);
  ok(await aws(alice, 's3', 'rm', `s3://${alice.bucket}/aws/big-copy.bin`), 'rm');
  assert.doesNotMatch(ok(await aws(alice, 's3', 'ls', `s3://${alice.bucket}/aws/`), 'ls'), /big-copy/);
  const head = JSON.parse(ok(await aws(alice, 's3api', 'head-object', '--bucket', alice.bucket, '--key', 'aws/data.csv'), 'head-object')) as { ContentLength: number };
  assert.equal(head.ContentLength, 8);

  assert.equal(ok(await aws(alice, 's3', 'cp', `s3://${bob.bucket}/diffusion/airports.csv`, '-'), 'read diffusion'), 'code,name\nCDG,Paris\n');
  assert.match(ok(await aws(alice, 's3', 'ls', `s3://${bob.bucket}/diffusion/`), 'ls diffusion'), /airports\.csv/);

  // awscli v1 presigns with Signature Version 2: accepted for reading.
  const url = ok(await aws(alice, 's3', 'presign', `s3://${alice.bucket}/aws/data.csv`, '--expires-in', '300'), 'presign').trim();
  assert.match(url, /AWSAccessKeyId=/);
  assert.equal(await (await fetch(url)).text(), 'a,b\n1,2\n');
  assert.deepEqual(await tamperedStatus(url), [403, 'SignatureDoesNotMatch']);

  refused(await aws(alice, 's3api', 'get-object', '--bucket', bob.bucket, '--key', 'private/secret.txt', join(workDir, 'stolen')), '(AccessDenied)', 'read private');
  refused(await aws(alice, 's3', 'cp', small, `s3://${bob.bucket}/diffusion/evil.csv`), '(AccessDenied)', 'write diffusion');
  refused(await aws(expired, 's3api', 'list-objects-v2', '--bucket', expired.bucket), '(ExpiredToken)', 'expired');
  refused(await aws({ ...alice, accessKeyId: 'AKFORGED0000000000' }, 's3', 'ls', `s3://${alice.bucket}/`), '(InvalidAccessKeyId)', 'forged key');
  refused(await aws({ ...alice, secretAccessKey: 'not-the-secret' }, 's3', 'ls', `s3://${alice.bucket}/`), '(SignatureDoesNotMatch)', 'wrong secret');
  refused(await aws({ ...alice, sessionToken: bob.sessionToken }, 's3', 'ls', `s3://${alice.bucket}/`), '(InvalidToken)', 'wrong token');
  refused(await aws(alice, 's3api', 'put-object', '--bucket', alice.bucket, '--key', '../escape.txt', '--body', small), '(InvalidArgument)', 'traversal');
});

test('s3cmd: put/ls/get/cp/del/info, multipart, others\' diffusion; refusals by code', async () => {
  const config = (who: Who, name: string): string => {
    const path = join(workDir, `${name}.s3cfg`);
    writeFileSync(path, [
      '[default]',
      `access_key = ${who.accessKeyId}`,
      `secret_key = ${who.secretAccessKey}`,
      `access_token = ${who.sessionToken}`,
      `host_base = ${host}`,
      `host_bucket = ${host}`,
      'use_https = False',
      'signature_v2 = False',
      `bucket_location = ${region}`,
      '',
    ].join('\n'));
    return path;
  };
  const env = { PATH: process.env.PATH, HOME: join(workDir, 'home'), LANG: 'C.UTF-8' };
  const mine = config(alice, 'alice');
  const s3cmd = (cfg: string, ...args: string[]): Promise<Run> => run('s3cmd', ['-c', cfg, '--no-progress', ...args], env);
  ok(await s3cmd(mine, 'put', small, `s3://${alice.bucket}/s3cmd/data.csv`), 'put');
  ok(await s3cmd(mine, 'put', '--multipart-chunk-size-mb=5', big, `s3://${alice.bucket}/s3cmd/big.bin`), 'multipart put');
  const listing = ok(await s3cmd(mine, 'ls', `s3://${alice.bucket}/s3cmd/`), 'ls');
  assert.match(listing, /9437505\s+s3:\/\/learner-alice\/s3cmd\/big\.bin/);
  assert.match(ok(await s3cmd(mine, 'ls', `s3://${alice.bucket}/`), 'ls root'), /DIR\s+s3:\/\/learner-alice\/s3cmd\//);
  ok(await s3cmd(mine, 'get', '--force', `s3://${alice.bucket}/s3cmd/big.bin`, join(workDir, 's3cmd-big.bin')), 'get');
  assert.equal(sha256(readFileSync(join(workDir, 's3cmd-big.bin'))), bigSha);
  ok(await s3cmd(mine, 'cp', `s3://${alice.bucket}/s3cmd/data.csv`, `s3://${alice.bucket}/s3cmd/copy.csv`), 'cp');
  assert.match(ok(await s3cmd(mine, 'info', `s3://${alice.bucket}/s3cmd/copy.csv`), 'info'), /File size: 8/);
  ok(await s3cmd(mine, 'del', `s3://${alice.bucket}/s3cmd/copy.csv`), 'del');
  assert.doesNotMatch(ok(await s3cmd(mine, 'ls', `s3://${alice.bucket}/s3cmd/`), 'ls'), /copy\.csv/);
  assert.match(ok(await s3cmd(mine, 'ls', `s3://${bob.bucket}/diffusion/`), 'ls diffusion'), /airports\.csv/);
  ok(await s3cmd(mine, 'get', '--force', `s3://${bob.bucket}/diffusion/airports.csv`, join(workDir, 's3cmd-airports.csv')), 'get diffusion');
  assert.equal(readFileSync(join(workDir, 's3cmd-airports.csv'), 'utf8'), 'code,name\nCDG,Paris\n');

  refused(await s3cmd(mine, 'ls', `s3://${bob.bucket}/private/`), '(AccessDenied)', 'list private');
  // s3cmd does not read the error document of a GET: only the status shows.
  const stolen = await s3cmd(mine, 'get', '--force', `s3://${bob.bucket}/private/secret.txt`, join(workDir, 's3cmd-stolen'));
  refused(stolen, '403', 'read private');
  refused(await s3cmd(mine, 'put', small, `s3://${bob.bucket}/diffusion/evil.csv`), '(AccessDenied)', 'write diffusion');
  refused(await s3cmd(config(expired, 'expired'), 'ls', `s3://${expired.bucket}/`), '(ExpiredToken)', 'expired');
  refused(await s3cmd(config({ ...alice, accessKeyId: 'AKFORGED0000000000' }, 'forged'), 'ls', `s3://${alice.bucket}/`), '(InvalidAccessKeyId)', 'forged key');
  refused(await s3cmd(config({ ...alice, secretAccessKey: 'not-the-secret' }, 'badsecret'), 'ls', `s3://${alice.bucket}/`), '(SignatureDoesNotMatch)', 'wrong secret');
  refused(await s3cmd(config({ ...alice, sessionToken: bob.sessionToken }, 'badtoken'), 'ls', `s3://${alice.bucket}/`), '(InvalidToken)', 'wrong token');
});

const boto3Script = String.raw`
import json, os, sys, hashlib, urllib.request, urllib.error
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
cfg = json.loads(sys.argv[1])
def client(who):
    return boto3.client('s3', endpoint_url='http://' + os.environ['AWS_S3_ENDPOINT'], region_name=os.environ['AWS_DEFAULT_REGION'],
        aws_access_key_id=who[0], aws_secret_access_key=who[1], aws_session_token=who[2],
        config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
out = {}
def code(name, fn):
    try:
        fn()
        out[name] = 'ok'
    except ClientError as e:
        out[name] = e.response['Error']['Code']
    except urllib.error.HTTPError as e:
        out[name] = '%d %s' % (e.code, e.read().decode().split('<Code>')[-1].split('</Code>')[0])
# The tutorial's way: credentials from the environment.
s3 = boto3.client('s3', endpoint_url='http://' + os.environ['AWS_S3_ENDPOINT'])
mine, theirs = cfg['mine'], cfg['theirs']
s3.put_object(Bucket=mine, Key='boto3/data.csv', Body=b'x,y\n3,4\n', ContentType='text/csv', Metadata={'who': 'alice'})
s3.upload_file(cfg['big'], mine, 'boto3/big.bin', Config=TransferConfig(multipart_threshold=5*1024*1024, multipart_chunksize=5*1024*1024))
s3.download_file(mine, 'boto3/big.bin', cfg['big'] + '.boto3')
out['big_sha'] = hashlib.sha256(open(cfg['big'] + '.boto3', 'rb').read()).hexdigest()
head = s3.head_object(Bucket=mine, Key='boto3/data.csv')
out['head'] = [head['ContentLength'], head['ContentType'], head['Metadata']]
s3.copy_object(Bucket=mine, Key='boto3/copy.csv', CopySource={'Bucket': mine, 'Key': 'boto3/data.csv'})
out['copy'] = s3.get_object(Bucket=mine, Key='boto3/copy.csv')['Body'].read().decode()
out['range'] = s3.get_object(Bucket=mine, Key='boto3/data.csv', Range='bytes=4-6')['Body'].read().decode()
s3.delete_object(Bucket=mine, Key='boto3/copy.csv')
page = s3.list_objects_v2(Bucket=mine, Prefix='boto3/', Delimiter='/')
out['keys'] = [o['Key'] for o in page.get('Contents', [])]
out['diffusion'] = s3.get_object(Bucket=theirs, Key='diffusion/airports.csv')['Body'].read().decode()
out['diffusion_list'] = [o['Key'] for o in s3.list_objects_v2(Bucket=theirs, Prefix='diffusion/').get('Contents', [])]
# botocore 1.29 presigns with Signature Version 2 unless told s3v4: accepted for reading.
v2 = s3.generate_presigned_url('get_object', Params={'Bucket': mine, 'Key': 'boto3/data.csv'}, ExpiresIn=300)
out['presign_v2'] = urllib.request.urlopen(v2).read().decode() if 'AWSAccessKeyId=' in v2 else 'not v2'
code('presign_v2_tampered', lambda: urllib.request.urlopen(v2.replace('Signature=', 'Signature=A')))
url = client([cfg['key'], cfg['secret'], cfg['token']]).generate_presigned_url('get_object', Params={'Bucket': mine, 'Key': 'boto3/data.csv'}, ExpiresIn=300)
out['presigned'] = url
out['presigned_body'] = urllib.request.urlopen(url).read().decode()
code('read_private', lambda: s3.get_object(Bucket=theirs, Key='private/secret.txt'))
code('write_diffusion', lambda: s3.put_object(Bucket=theirs, Key='diffusion/evil.csv', Body=b'x'))
code('delete_diffusion', lambda: s3.delete_object(Bucket=theirs, Key='diffusion/airports.csv'))
code('expired', lambda: client(cfg['expired']).list_objects_v2(Bucket=cfg['expired_bucket']))
code('forged', lambda: client(['AKFORGED0000000000', 'x', cfg['token']]).list_objects_v2(Bucket=mine))
code('bad_secret', lambda: client([cfg['key'], 'not-the-secret', cfg['token']]).list_objects_v2(Bucket=mine))
code('bad_token', lambda: client([cfg['key'], cfg['secret'], 'not-the-token']).list_objects_v2(Bucket=mine))
code('traversal', lambda: s3.put_object(Bucket=mine, Key='../../escape.txt', Body=b'x'))
print(json.dumps(out))
`;

test('boto3 (python3): the tutorial\'s calls, multipart transfer, presign; refusals by code', async () => {
  const args = JSON.stringify({
    mine: alice.bucket,
    theirs: bob.bucket,
    big,
    expired: [expired.accessKeyId, expired.secretAccessKey, expired.sessionToken],
    expired_bucket: expired.bucket,
    key: alice.accessKeyId,
    secret: alice.secretAccessKey,
    token: alice.sessionToken,
  });
  const out = JSON.parse(ok(await run('/usr/bin/python3', ['-c', boto3Script, args], labEnv(alice)), 'boto3 script')) as Record<string, unknown>;
  assert.equal(out.big_sha, bigSha);
  assert.deepEqual(out.head, [8, 'text/csv', { who: 'alice' }]);
  assert.equal(out.copy, 'x,y\n3,4\n');
  assert.equal(out.range, '3,4');
  assert.deepEqual(out.keys, ['boto3/big.bin', 'boto3/data.csv']);
  assert.equal(out.diffusion, 'code,name\nCDG,Paris\n');
  assert.deepEqual(out.diffusion_list, ['diffusion/airports.csv']);
  assert.equal(out.presigned_body, 'x,y\n3,4\n');
  assert.equal(out.presign_v2, 'x,y\n3,4\n');
  assert.equal(out.presign_v2_tampered, '403 SignatureDoesNotMatch');
  assert.deepEqual(await tamperedStatus(String(out.presigned)), [403, 'SignatureDoesNotMatch']);
  assert.deepEqual(
    [out.read_private, out.write_diffusion, out.delete_diffusion, out.expired, out.forged, out.bad_secret, out.bad_token, out.traversal],
    ['AccessDenied', 'AccessDenied', 'AccessDenied', 'ExpiredToken', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'InvalidArgument'],
  );
});

/** The protocol edges as current boto3 (the labs' Python environment) meets them. */
const boto3EdgesScript = String.raw`
import base64, hashlib, json, os, sys
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
cfg = json.loads(sys.argv[1])
s3 = boto3.client('s3', endpoint_url='http://' + os.environ['AWS_S3_ENDPOINT'], region_name=os.environ['AWS_DEFAULT_REGION'],
    config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
b = cfg['bucket']
out = {}
def code(fn):
    try:
        fn()
        return 'ok'
    except ClientError as e:
        return '%s %s' % (e.response['ResponseMetadata']['HTTPStatusCode'], e.response['Error']['Code'])
out['create'] = code(lambda: s3.put_object(Bucket=b, Key='edges/once.txt', Body=b'first', IfNoneMatch='*'))
out['create_again'] = code(lambda: s3.put_object(Bucket=b, Key='edges/once.txt', Body=b'second', IfNoneMatch='*'))
once = s3.head_object(Bucket=b, Key='edges/once.txt')['ETag']
out['copy_if_none_match'] = code(lambda: s3.copy_object(Bucket=b, Key='edges/copy.txt', CopySource={'Bucket': b, 'Key': 'edges/once.txt'}, CopySourceIfNoneMatch=once))
out['copy_if_match'] = code(lambda: s3.copy_object(Bucket=b, Key='edges/copy.txt', CopySource={'Bucket': b, 'Key': 'edges/once.txt'}, CopySourceIfMatch=once))
put = s3.put_object(Bucket=b, Key='edges/sha.txt', Body=b'hello', ChecksumAlgorithm='SHA256')
head = s3.head_object(Bucket=b, Key='edges/sha.txt', ChecksumMode='ENABLED')
out['sha256'] = [put.get('ChecksumSHA256'), head.get('ChecksumSHA256'), base64.b64encode(hashlib.sha256(b'hello').digest()).decode()]
plain = s3.put_object(Bucket=b, Key='edges/default.txt', Body=b'hello')
out['default'] = [plain.get('ChecksumCRC32'), s3.head_object(Bucket=b, Key='edges/default.txt', ChecksumMode='ENABLED').get('ChecksumCRC32')]
out['validated_get'] = s3.get_object(Bucket=b, Key='edges/default.txt', ChecksumMode='ENABLED')['Body'].read().decode()
five = 5 * 1024 * 1024
s3.upload_file(cfg['big'], b, 'edges/big.bin', Config=TransferConfig(multipart_threshold=five, multipart_chunksize=five))
big = s3.head_object(Bucket=b, Key='edges/big.bin', ChecksumMode='ENABLED')
out['big_checksum'] = [big.get('ChecksumType'), big.get('ChecksumCRC32', '').split('-')[-1]]
part = s3.get_object(Bucket=b, Key='edges/big.bin', PartNumber=2)
out['part2'] = [part['ResponseMetadata']['HTTPStatusCode'], part['PartsCount'], part['ContentLength'], part['ContentRange']]
path = os.path.join(os.environ['HOME'], 'big.copy')
s3.download_file(b, 'edges/big.bin', path)
out['big_sha'] = hashlib.sha256(open(path, 'rb').read()).hexdigest()
zero = s3.list_objects_v2(Bucket=b, Prefix='edges/', MaxKeys=0)
out['max_keys_0'] = [zero['KeyCount'], zero['IsTruncated'], 'Contents' in zero]
s3.put_object(Bucket=b, Key='edges/odd name+é.txt', Body=b'x')
out['keys_v2'] = [o['Key'] for o in s3.list_objects_v2(Bucket=b, Prefix='edges/odd')['Contents']]
out['prefixes_v1'] = [p['Prefix'] for p in s3.list_objects(Bucket=b, Prefix='edges/', Delimiter='+')['CommonPrefixes']]
mpu = s3.create_multipart_upload(Bucket=b, Key='edges/retry.bin')
p1 = s3.upload_part(Bucket=b, Key='edges/retry.bin', UploadId=mpu['UploadId'], PartNumber=1, Body=b'x' * 100)
parts = {'Parts': [{'PartNumber': 1, 'ETag': p1['ETag']}]}
first = s3.complete_multipart_upload(Bucket=b, Key='edges/retry.bin', UploadId=mpu['UploadId'], MultipartUpload=parts)
again = s3.complete_multipart_upload(Bucket=b, Key='edges/retry.bin', UploadId=mpu['UploadId'], MultipartUpload=parts)
out['retry'] = [again['ResponseMetadata']['HTTPStatusCode'], again['ETag'] == first['ETag']]
out['tagging'] = code(lambda: s3.put_object(Bucket=b, Key='edges/tagged.txt', Body=b'x', Tagging='a=b'))
out['sse'] = code(lambda: s3.put_object(Bucket=b, Key='edges/sse.txt', Body=b'x', ServerSideEncryption='aws:kms'))
print(json.dumps(out))
`;

test('boto3 of the labs\' Python environment: conditional writes, checksums, parts, listing edges, a repeated completion, 501s', async () => {
  const args = JSON.stringify({ bucket: alice.bucket, big });
  const out = JSON.parse(ok(await run(join(LAB_PYTHON_DIR, 'bin', 'python3'), ['-c', boto3EdgesScript, args], labEnv(alice)), 'boto3 edges script')) as Record<string, unknown>;
  assert.deepEqual([out.create, out.create_again], ['ok', '412 PreconditionFailed']);
  assert.deepEqual([out.copy_if_none_match, out.copy_if_match], ['412 PreconditionFailed', 'ok']);
  const [putSha, headSha, ownSha] = out.sha256 as string[];
  assert.deepEqual([putSha, headSha], [ownSha, ownSha]);
  const [putCrc, headCrc] = out.default as string[];
  assert.ok(putCrc && putCrc === headCrc, `botocore's default CRC32 is kept: ${JSON.stringify(out.default)}`);
  assert.equal(out.validated_get, 'hello');
  assert.deepEqual(out.big_checksum, ['COMPOSITE', '2']);
  assert.deepEqual(out.part2, [206, 2, 9 * 1024 * 1024 + 321 - 5 * 1024 * 1024, `bytes ${5 * 1024 * 1024}-${9 * 1024 * 1024 + 320}/${9 * 1024 * 1024 + 321}`]);
  assert.equal(out.big_sha, bigSha);
  assert.deepEqual(out.max_keys_0, [0, false, false]);
  assert.deepEqual(out.keys_v2, ['edges/odd name+é.txt']);
  assert.deepEqual(out.prefixes_v1, ['edges/odd name+']);
  assert.deepEqual(out.retry, [200, true]);
  assert.deepEqual([out.tagging, out.sse], ['501 NotImplemented', '501 NotImplemented']);
});

test('mc (labs/tools/mc): the tutorial commands with MC_HOST_s3, MinIO-like output; refusals by code', async () => {
  const as = (who: Who, ...args: string[]): Promise<Run> => run(mc, args, labEnv(who));
  const line = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\]\s+\S+ STANDARD (.+)$/;

  assert.match(ok(await as(alice, 'ls', 's3'), 'ls buckets'), /^\[.+ UTC\]\s+0B learner-alice\/$/m);
  ok(await as(alice, 'mb', `s3/${alice.bucket}`), 'mb own bucket');
  ok(await as(alice, 'cp', small, `s3/${alice.bucket}/initiation/data.csv`), 'cp up');
  ok(await as(alice, 'cp', big, `s3/${alice.bucket}/initiation/`), 'cp big into folder');
  const listing = ok(await as(alice, 'ls', `s3/${alice.bucket}/initiation`), 'ls folder').trim().split('\n');
  assert.deepEqual(listing.map((entry) => line.exec(entry)?.[1]), ['big.bin', 'data.csv']);
  assert.match(listing[0]!, /\]\s+9\.0MiB STANDARD big\.bin$/);
  assert.match(ok(await as(alice, 'ls', `s3/${alice.bucket}`), 'ls bucket'), /^\[.+ UTC\]\s+0B initiation\/$/m);
  assert.match(ok(await as(alice, 'ls', '-r', `s3/${alice.bucket}`), 'ls -r'), /STANDARD initiation\/data\.csv$/m);
  assert.equal(ok(await as(alice, 'cat', `s3/${alice.bucket}/initiation/data.csv`), 'cat'), 'a,b\n1,2\n');
  ok(await as(alice, 'cp', `s3/${alice.bucket}/initiation/big.bin`, join(workDir, 'mc-big.bin')), 'cp down');
  assert.equal(sha256(readFileSync(join(workDir, 'mc-big.bin'))), bigSha);
  ok(await as(alice, 'cp', '-r', `s3/${alice.bucket}/initiation/`, `s3/${alice.bucket}/backup/`), 'cp -r s3 to s3');
  assert.equal(ok(await as(alice, 'cat', `s3/${alice.bucket}/backup/data.csv`), 'cat copy'), 'a,b\n1,2\n');
  const stat = ok(await as(alice, 'stat', `s3/${alice.bucket}/initiation/data.csv`), 'stat');
  assert.match(stat, /^Name\s+: data\.csv$/m);
  assert.match(stat, /^Size\s+: 8 B/m);
  assert.match(stat, /Content-Type: text\/csv/);
  refused(await as(alice, 'rm', '-r', `s3/${alice.bucket}/backup`), '--force', 'rm -r without --force');
  assert.match(ok(await as(alice, 'rm', '-r', '--force', `s3/${alice.bucket}/backup`), 'rm -r --force'), /Removed `s3\/learner-alice\/backup\/data\.csv`\./);
  ok(await as(alice, 'rm', `s3/${alice.bucket}/initiation/big.bin`), 'rm');
  assert.doesNotMatch(ok(await as(alice, 'ls', '-r', `s3/${alice.bucket}`), 'ls after rm'), /backup\/|initiation\/big\.bin/);

  assert.deepEqual(ok(await as(alice, 'ls', `s3/${bob.bucket}/diffusion`), 'ls diffusion').trim().split('\n').map((entry) => line.exec(entry)?.[1]), ['airports.csv']);
  assert.match(ok(await as(alice, 'ls', `s3/${bob.bucket}`), 'ls their bucket'), /^\[.+\]\s+0B diffusion\/\n$/);
  assert.equal(ok(await as(alice, 'cat', `s3/${bob.bucket}/diffusion/airports.csv`), 'cat diffusion'), 'code,name\nCDG,Paris\n');
  ok(await as(alice, 'cp', `s3/${bob.bucket}/diffusion/airports.csv`, `s3/${alice.bucket}/from-bob.csv`), 'copy from diffusion');

  const share = ok(await as(alice, 'share', 'download', '--expire', '2h', `s3/${alice.bucket}/initiation/data.csv`), 'share download');
  assert.match(share, /^Expire: 0 days 2 hours 0 minutes 0 seconds$/m);
  const url = /^Share: (\S+)$/m.exec(share)![1]!;
  assert.match(url, /X-Amz-Expires=7200/);
  assert.equal(await (await fetch(url)).text(), 'a,b\n1,2\n');
  assert.deepEqual(await tamperedStatus(url), [403, 'SignatureDoesNotMatch']);

  const configDir = join(workDir, 'mc-config');
  ok(await run(mc, ['--config-dir', configDir, 'alias', 'set', 'lab', endpoint, alice.accessKeyId, alice.secretAccessKey], { PATH: process.env.PATH, HOME: workDir }), 'alias set');
  assert.match(ok(await run(mc, ['-C', configDir, 'alias', 'ls'], { PATH: process.env.PATH, HOME: workDir }), 'alias ls'), new RegExp(`^lab\\n  URL       : ${endpoint}$`, 'm'));
  assert.match(ok(await as(alice, 'alias', 'ls', 's3'), 'alias ls env'), new RegExp(`URL       : ${endpoint}`));

  refused(await as(alice, 'cat', `s3/${bob.bucket}/private/secret.txt`), 'AccessDenied', 'read private');
  refused(await as(alice, 'cp', `s3/${bob.bucket}/private/secret.txt`, join(workDir, 'stolen')), 'AccessDenied', 'download private');
  refused(await as(alice, 'ls', `s3/${bob.bucket}/private`), 'AccessDenied', 'list private');
  refused(await as(alice, 'cp', small, `s3/${bob.bucket}/diffusion/evil.csv`), 'AccessDenied', 'write diffusion');
  refused(await as(alice, 'rm', `s3/${bob.bucket}/diffusion/airports.csv`), 'AccessDenied', 'rm diffusion');
  refused(await as(alice, 'mb', 's3/another-bucket'), 'AccessDenied', 'mb other');
  refused(await as(expired, 'ls', `s3/${expired.bucket}`), 'ExpiredToken', 'expired');
  refused(await as({ ...alice, accessKeyId: 'AKFORGED0000000000' }, 'ls', `s3/${alice.bucket}`), 'InvalidAccessKeyId', 'forged key');
  refused(await as({ ...alice, secretAccessKey: 'not-the-secret' }, 'ls', `s3/${alice.bucket}`), 'SignatureDoesNotMatch', 'wrong secret');
  refused(await as({ ...alice, sessionToken: bob.sessionToken }, 'ls', `s3/${alice.bucket}`), 'InvalidToken', 'wrong token');
  refused(await as(alice, 'cp', small, `s3/${alice.bucket}/../escape.txt`), 'InvalidArgument', 'traversal');
  refused(await as(alice, 'cat', `s3/${alice.bucket}/no/such/key`), 'NoSuchKey', 'missing key');
  refused(await as(alice, 'frobnicate'), 'not a recognized command', 'unknown command');
  refused(await as(alice, 'cp', join(workDir, 'nope.txt'), `s3/${alice.bucket}/x`), 'No such file', 'missing local file');
});
