/**
 * Signature Version 2 presigned URLs (`?AWSAccessKeyId=…&Expires=…&Signature=…`), for reading
 * only: what `aws s3 presign` (awscli v1) and older botocore produce by default. Everything
 * else must be signed with SigV4.
 */
import { createHmac } from 'node:crypto';
import type { CredentialStore } from './credentials.ts';
import { S3Error } from './errors.ts';
import { ChunkSigner, headerValue, signatureEquals, uriEncode, type Authenticated, type SignedRequest } from './sigv4.ts';

/** Query parameters that are part of the signed resource (the "sub-resources"). */
const subresources = new Set([
  'acl', 'cors', 'delete', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy', 'requestPayment',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires', 'restore', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId',
  'versioning', 'versions', 'website',
]);

export function isV2Presigned(request: SignedRequest): boolean {
  return headerValue(request.headers, 'authorization') === undefined && request.query.some(([name]) => name === 'AWSAccessKeyId');
}

export async function authenticateV2(request: SignedRequest, credentials: CredentialStore, now: number, secretEquals: (a: string, b: string) => boolean): Promise<Authenticated> {
  const get = (name: string): string | undefined => request.query.find(([key]) => key === name)?.[1];
  const accessKeyId = get('AWSAccessKeyId');
  const signature = get('Signature');
  const expires = get('Expires');
  if (!accessKeyId || !signature || !expires || !/^\d{1,12}$/.test(expires)) throw new S3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  }
  const credential = await credentials.byAccessKey(accessKeyId);
  if (!credential) throw new S3Error('InvalidAccessKeyId');

  // x-amz-* values signed as headers travel in the query (the session token does).
  const amz = new Map<string, string>();
  for (const [name, values] of request.headers) if (name.startsWith('x-amz-')) amz.set(name, values.join(','));
  for (const [name, value] of request.query) if (name.toLowerCase().startsWith('x-amz-')) amz.set(name.toLowerCase(), value);
  const amzLines = [...amz.keys()].sort().map((name) => `${name}:${amz.get(name)!.trim()}\n`).join('');
  const sub = request.query
    .filter(([name]) => subresources.has(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => (value === '' ? name : `${name}=${value}`))
    .join('&');
  const contentMd5 = get('Content-MD5') ?? get('content-md5') ?? headerValue(request.headers, 'content-md5') ?? '';
  const contentType = get('Content-Type') ?? get('content-type') ?? headerValue(request.headers, 'content-type') ?? '';

  const paths = [request.rawPath];
  try {
    const normal = request.rawPath.split('/').map((segment) => uriEncode(decodeURIComponent(segment)).replace(/%7E/g, '~')).join('/');
    if (!paths.includes(normal)) paths.push(normal);
  } catch {
    // Malformed escapes: only the raw path can match.
  }
  let matched = false;
  for (const path of paths) {
    const resource = sub ? `${path}?${sub}` : path;
    const toSign = `${request.method}\n${contentMd5}\n${contentType}\n${expires}\n${amzLines}${resource}`;
    const expected = createHmac('sha1', credential.secretAccessKey).update(toSign, 'utf8').digest('base64');
    // Base64 is case-sensitive: compare exactly, in constant time.
    if (signatureEquals(expected.toLowerCase(), signature.toLowerCase()) && expected === signature) matched = true;
  }
  if (!matched) throw new S3Error('SignatureDoesNotMatch');
  if (credential.expiresAt <= now) throw new S3Error('ExpiredToken');
  if (!secretEquals(credential.sessionToken, amz.get('x-amz-security-token') ?? '')) throw new S3Error('InvalidToken');
  if (now > Number(expires) * 1000) throw new S3Error('AccessDenied', 'Request has expired');
  return { credential, payloadHash: 'UNSIGNED-PAYLOAD', presigned: true, chunks: new ChunkSigner(Buffer.alloc(32), '', '', '') };
}
