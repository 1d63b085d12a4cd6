/**
 * AWS Signature Version 4 verification, for the Authorization header and presigned URLs, with
 * the S3 specifics: the payload hash line is the `x-amz-content-sha256` value as sent (a hex
 * digest or one of the streaming/unsigned sentinels), paths are encoded once, and aws-chunked
 * bodies chain chunk signatures from the request's seed signature (see `ChunkSigner`).
 * Every comparison of secrets or signatures is constant-time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { CredentialStore, S3Credential } from './credentials.ts';
import { S3Error } from './errors.ts';
import { authenticateV2, isV2Presigned } from './sigv2.ts';

export const algorithm = 'AWS4-HMAC-SHA256';
export const emptySha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const maxSkewMs = 15 * 60_000;
const maxPresignSeconds = 7 * 24 * 3600;

/** What verification needs from an HTTP request, already split and decoded. */
export interface SignedRequest {
  method: string;
  /** The path exactly as received (still percent-encoded), without the query. */
  rawPath: string;
  /** Decoded query parameters, in order. */
  query: Array<[string, string]>;
  /** Lower-cased header name → values in arrival order (Node's `rawHeaders`, grouped). */
  headers: Map<string, string[]>;
}

export interface Authenticated {
  credential: S3Credential;
  /** `x-amz-content-sha256` as signed: a hex digest, UNSIGNED-PAYLOAD or a STREAMING-… mode. */
  payloadHash: string;
  presigned: boolean;
  /** For aws-chunked bodies: the chunk signatures chain from here. */
  chunks: ChunkSigner;
}

export function headerValue(headers: Map<string, string[]>, name: string): string | undefined {
  const values = headers.get(name);
  return values === undefined ? undefined : values.join(',');
}

export function groupHeaders(rawHeaders: string[]): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const list = headers.get(name);
    if (list) list.push(rawHeaders[i + 1]!);
    else headers.set(name, [rawHeaders[i + 1]!]);
  }
  return headers;
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX (UTF-8). */
export function uriEncode(value: string, keepSlash = false): string {
  const encoded = encodeURIComponent(value).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? encoded.replace(/%2F/g, '/') : encoded;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

const signingKeys = new Map<string, Buffer>();
function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${date}\u0000${region}\u0000${service}\u0000${secret}`;
  let key = signingKeys.get(cacheKey);
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
    if (signingKeys.size > 2000) signingKeys.clear();
    signingKeys.set(cacheKey, key);
  }
  return key;
}

/** Constant-time equality of two hex signatures (a wrong length is simply unequal). */
export function signatureEquals(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given.toLowerCase(), 'utf8');
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

function secretEquals(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b) && expected.length === given.length;
}

/** `20261123T100000Z` → epoch ms, or NaN. */
export function parseAmzDate(value: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return NaN;
  const [, y, mo, d, h, mi, s] = match;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}

interface Scope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

function parseCredential(value: string, error: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError'): Scope {
  const parts = value.split('/');
  if (parts.length < 5 || parts.at(-1) !== 'aws4_request') throw new S3Error(error, `Malformed credential scope: ${value}`);
  const [date, region, service] = parts.slice(-4, -1) as [string, string, string];
  if (!/^\d{8}$/.test(date)) throw new S3Error(error, `Malformed credential date: ${date}`);
  if (service !== 's3') throw new S3Error(error, `The credential scope service must be s3, not ${service}`);
  return { accessKeyId: parts.slice(0, -4).join('/'), date, region, service };
}

function canonicalQuery(query: Array<[string, string]>, skipSignature: boolean): string {
  return query
    .filter(([name]) => !(skipSignature && name === 'X-Amz-Signature'))
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function canonicalHeaders(headers: Map<string, string[]>, signed: string[]): string {
  return signed
    .map((name) => `${name}:${(headers.get(name) ?? []).map((value) => value.trim().replace(/\s+/g, ' ')).join(',')}\n`)
    .join('');
}

/**
 * The canonical URIs a client may have signed: S3's own encoding of the decoded path (what the
 * AWS SDKs and botocore produce), then the path exactly as it arrived (clients that encode a
 * little differently still sign what they send).
 */
function canonicalUris(rawPath: string): string[] {
  const uris: string[] = [];
  try {
    uris.push(rawPath.split('/').map((segment) => uriEncode(decodeURIComponent(segment))).join('/'));
  } catch {
    // Malformed escapes: only the raw form can match.
  }
  if (!uris.includes(rawPath)) uris.push(rawPath);
  return uris;
}

/** Signs the chunks of an aws-chunked body, chaining from the request's seed signature. */
export class ChunkSigner {
  readonly #key: Buffer;
  readonly #amzDate: string;
  readonly #scope: string;
  #previous: string;

  constructor(key: Buffer, amzDate: string, scope: string, seedSignature: string) {
    this.#key = key;
    this.#amzDate = amzDate;
    this.#scope = scope;
    this.#previous = seedSignature;
  }

  /** Checks the signature of the next chunk (given its SHA-256 in hex) and moves the chain on. */
  verifyChunk(chunkSha256Hex: string, signature: string): boolean {
    const expected = hmac(this.#key, `AWS4-HMAC-SHA256-PAYLOAD\n${this.#amzDate}\n${this.#scope}\n${this.#previous}\n${emptySha256}\n${chunkSha256Hex}`).toString('hex');
    this.#previous = expected;
    return signatureEquals(expected, signature);
  }

  /** Checks the trailer signature over the canonical trailer headers (`name:value\n` each). */
  verifyTrailer(canonicalTrailers: string, signature: string): boolean {
    const expected = hmac(this.#key, `AWS4-HMAC-SHA256-TRAILER\n${this.#amzDate}\n${this.#scope}\n${this.#previous}\n${sha256Hex(canonicalTrailers)}`).toString('hex');
    return signatureEquals(expected, signature);
  }
}

const imfFixdate = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The signing time of a header-authenticated request, as `x-amz-date` writes it: `x-amz-date`, or
 * else the HTTP `Date` header (RFC 7231 form), as AWS accepts. Whichever dates it must be signed.
 */
function requestDate(headers: Map<string, string[]>, signedHeaders: string[]): string {
  const amzDate = headerValue(headers, 'x-amz-date');
  if (amzDate) return amzDate;
  const date = headerValue(headers, 'date')?.trim();
  const match = date === undefined ? null : imfFixdate.exec(date);
  if (!match) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (!signedHeaders.includes('date')) throw new S3Error('AccessDenied', 'The Date header must be signed');
  const [, day, month, year, hours, minutes, seconds] = match;
  return `${year}${String(months.indexOf(month!) + 1).padStart(2, '0')}${day}T${hours}${minutes}${seconds}Z`;
}

/**
 * AWS refuses any `x-amz-*` header the signature does not cover: otherwise whoever holds a
 * presigned URL (or replays a signed request) could add `x-amz-copy-source`, `x-amz-acl`,
 * metadata… and have them obeyed. `x-amz-content-sha256` is exempt, as on AWS: in header
 * authentication its value is the canonical request's payload line anyway.
 */
function requireAmzHeadersSigned(headers: Map<string, string[]>, signedHeaders: string[]): void {
  const unsigned = [...headers.keys()].filter((name) => name.startsWith('x-amz-') && name !== 'x-amz-content-sha256' && !signedHeaders.includes(name));
  if (unsigned.length > 0) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: unsigned.join(', ') });
  }
}

interface ParsedAuth {
  scope: Scope;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  presigned: boolean;
  expiresSeconds: number;
  sessionToken: string | undefined;
  payloadHash: string;
}

function parseHeaderAuth(request: SignedRequest, authorization: string): ParsedAuth {
  if (!authorization.startsWith(`${algorithm} `)) throw new S3Error('AuthorizationHeaderMalformed', 'Unsupported authorization type');
  const fields = new Map<string, string>();
  for (const part of authorization.slice(algorithm.length + 1).split(',')) {
    const trimmed = part.trim();
    const eq = trimmed.indexOf('=');
    if (eq > 0) fields.set(trimmed.slice(0, eq), trimmed.slice(eq + 1));
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) throw new S3Error('AuthorizationHeaderMalformed');
  const amzDate = requestDate(request.headers, signedHeaders.split(';'));
  const payloadHash = headerValue(request.headers, 'x-amz-content-sha256');
  if (!payloadHash) throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  return {
    scope: parseCredential(credential, 'AuthorizationHeaderMalformed'),
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate,
    presigned: false,
    expiresSeconds: 0,
    sessionToken: headerValue(request.headers, 'x-amz-security-token'),
    payloadHash,
  };
}

function parseQueryAuth(request: SignedRequest): ParsedAuth {
  const get = (name: string): string | undefined => request.query.find(([key]) => key === name)?.[1];
  if (get('X-Amz-Algorithm') !== algorithm) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const credential = get('X-Amz-Credential');
  const signedHeaders = get('X-Amz-SignedHeaders');
  const signature = get('X-Amz-Signature');
  const amzDate = get('X-Amz-Date');
  const expires = get('X-Amz-Expires');
  if (!credential || !signedHeaders || !signature || !amzDate || !expires) {
    throw new S3Error('AuthorizationQueryParametersError', 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  }
  const expiresSeconds = /^\d{1,7}$/.test(expires) ? Number(expires) : NaN;
  if (!(expiresSeconds >= 1 && expiresSeconds <= maxPresignSeconds)) {
    throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be between 1 and 604800 seconds');
  }
  return {
    scope: parseCredential(credential, 'AuthorizationQueryParametersError'),
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate,
    presigned: true,
    expiresSeconds,
    sessionToken: get('X-Amz-Security-Token'),
    payloadHash: headerValue(request.headers, 'x-amz-content-sha256') ?? 'UNSIGNED-PAYLOAD',
  };
}

/**
 * Verifies the request's signature and returns who made it; throws the S3 error a real endpoint
 * would answer (InvalidAccessKeyId, ExpiredToken, SignatureDoesNotMatch, RequestTimeTooSkewed, …).
 */
export async function authenticate(request: SignedRequest, credentials: CredentialStore, now = Date.now()): Promise<Authenticated> {
  const authorization = headerValue(request.headers, 'authorization');
  if (isV2Presigned(request)) return authenticateV2(request, credentials, now, secretEquals);
  if (authorization?.startsWith('AWS ')) {
    throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  }
  const parsed = authorization !== undefined ? parseHeaderAuth(request, authorization) : parseQueryAuth(request);

  const time = parseAmzDate(parsed.amzDate);
  if (Number.isNaN(time)) throw new S3Error('AccessDenied', 'X-Amz-Date is not a valid ISO 8601 basic timestamp');
  if (parsed.amzDate.slice(0, 8) !== parsed.scope.date) {
    throw new S3Error(parsed.presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed', 'The credential date does not match X-Amz-Date');
  }
  if (!parsed.signedHeaders.includes('host')) throw new S3Error('AccessDenied', 'The host header must be signed');
  requireAmzHeadersSigned(request.headers, parsed.signedHeaders);

  const credential = await credentials.byAccessKey(parsed.scope.accessKeyId);
  if (!credential) throw new S3Error('InvalidAccessKeyId');

  const key = signingKey(credential.secretAccessKey, parsed.scope.date, parsed.scope.region, parsed.scope.service);
  const scope = `${parsed.scope.date}/${parsed.scope.region}/${parsed.scope.service}/aws4_request`;
  const query = canonicalQuery(request.query, parsed.presigned);
  const headers = canonicalHeaders(request.headers, parsed.signedHeaders);
  let matched = false;
  for (const uri of canonicalUris(request.rawPath)) {
    const canonical = `${request.method}\n${uri}\n${query}\n${headers}\n${parsed.signedHeaders.join(';')}\n${parsed.payloadHash}`;
    const stringToSign = `${algorithm}\n${parsed.amzDate}\n${scope}\n${sha256Hex(canonical)}`;
    if (signatureEquals(hmac(key, stringToSign).toString('hex'), parsed.signature)) matched = true;
  }
  if (!matched) throw new S3Error('SignatureDoesNotMatch');

  // The signature is the credential's: now its validity and the request's time.
  if (credential.expiresAt <= now) throw new S3Error('ExpiredToken');
  // A credential without a session token (a permanent key) must be used without one.
  if (!secretEquals(credential.sessionToken, parsed.sessionToken ?? '')) throw new S3Error('InvalidToken');
  if (parsed.presigned) {
    if (time - now > maxSkewMs) throw new S3Error('AccessDenied', 'Request is not valid yet');
    if (now > time + parsed.expiresSeconds * 1000) throw new S3Error('AccessDenied', 'Request has expired');
  } else if (Math.abs(now - time) > maxSkewMs) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      RequestTime: parsed.amzDate,
      ServerTime: new Date(now).toISOString(),
      MaxAllowedSkewMilliseconds: String(maxSkewMs),
    });
  }

  return {
    credential,
    payloadHash: parsed.payloadHash,
    presigned: parsed.presigned,
    chunks: new ChunkSigner(key, parsed.amzDate, scope, parsed.signature.toLowerCase()),
  };
}
