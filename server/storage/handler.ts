/**
 * The S3 REST endpoint: parses a SigV4-signed, path-style request (`/<bucket>/<key>`),
 * authenticates it, applies the learner policy and runs the operation, answering with the
 * headers and XML documents S3 itself answers with.
 */
import { createHash, randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { payloadChecksum, payloadStages, PayloadVerifier } from './chunked.ts';
import { checksumElementName, checksumElements, checksumHeaders, combinedChecksum, compositeChecksum, isChecksumAlgorithm, isCombinable } from './checksums.ts';
import { checkCopySourceConditions, deleteCondition, writeCondition } from './conditions.ts';
import type { CredentialStore, S3Credential } from './credentials.ts';
import { S3Error, sendError } from './errors.ts';
import { isValidBucketName, ObjectStore, storedHeaders, type ObjectInfo, type ObjectMeta, type StoredChecksum, type UploadMeta } from './object-store.ts';
import { listScope, mayReadObject, mayWriteObject, ownsBucket } from './policy.ts';
import { RequestLimiter } from './request-limits.ts';
import { authenticate, groupHeaders, headerValue, uriEncode, type Authenticated } from './sigv4.ts';
import { refuseUnknownObjectParameters, refuseUnsupportedHeaders } from './unsupported.ts';
import { childrenNamed, childText, element, s3Namespace, xmlDeclaration, XmlDocumentSink, type XmlElement, type XmlLimits } from './xml.ts';

export interface S3HandlerOptions {
  /** Data directory: objects, multipart uploads, temporary files. */
  root: string;
  region: string;
  credentials: CredentialStore;
  /** Whether a bucket exists (for reads of other learners' `diffusion/`): an indexed lookup, called per request. */
  bucketExists: (bucket: string) => boolean | Promise<boolean>;
  /** The object store to use (shared with code that publishes files); one on `root` otherwise. */
  store?: ObjectStore;
  /** Called after every successful change of a bucket's objects (checks watch it). */
  onWrite?: (bucket: string, key: string) => void;
  /** Unexpected errors (answered as InternalError) are reported here. */
  log?: (message: string, error: unknown) => void;
  /** Clock, for tests. */
  now?: () => number;
  /** Requests one learner may have in progress; beyond, 503 SlowDown. Unlimited when absent. */
  maxConcurrentPerLearner?: number;
}

const maxKeyBytes = 1024;
const maxObjectSize = 5 * 1024 ** 3;
const maxMetadataBytes = 2048;
const minPartSize = 5 * 1024 * 1024;
const maxXmlBody = 2 * 1024 * 1024;

/**
 * True when the request carries SigV4 authentication (header or presigned query). Signature
 * Version 2 (`Authorization: AWS key:sig`, `?AWSAccessKeyId=…&Signature=…`, what older botocore
 * presigns by default) is recognised too, so that it gets an S3 error naming v4 rather than a page.
 */
export function isS3Request(req: IncomingMessage): boolean {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string' && /^AWS4-HMAC-SHA256 |^AWS [^\s:]+:/.test(authorization)) return true;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q === -1) return false;
  const query = url.slice(q + 1);
  return /(?:^|&)X-Amz-Algorithm=/.test(query) || (/(?:^|&)AWSAccessKeyId=/.test(query) && /(?:^|&)Signature=/.test(query));
}

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  bucket: string;
  key: string;
  query: Map<string, string>;
  headers: Map<string, string[]>;
  auth: Authenticated;
  credential: S3Credential;
  requestId: string;
}

function decodeComponent(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

function parseQuery(raw: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    out.push([decodeComponent(name), decodeComponent(value)]);
  }
  return out;
}

/** Keys are any Unicode up to 1 KiB; `..` segments and NUL are refused (they would mean paths). */
function checkKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > maxKeyBytes) throw new S3Error('KeyTooLong');
  if (key.includes('\u0000')) throw new S3Error('InvalidArgument', 'Object keys may not contain NUL');
  if (key.split('/').includes('..')) throw new S3Error('InvalidArgument', 'Object keys may not contain ".." segments');
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

function quoted(etag: string): string {
  return `"${etag}"`;
}

function owner(credential: S3Credential): string {
  return `<Owner>${element('ID', credential.learnerId)}${element('DisplayName', credential.learnerId)}</Owner>`;
}

function sendXml(ctx: Context, body: string, status = 200): void {
  const xml = xmlDeclaration + body;
  ctx.res.statusCode = status;
  ctx.res.setHeader('content-type', 'application/xml');
  ctx.res.setHeader('content-length', Buffer.byteLength(xml));
  ctx.res.end(xml);
}

function sendEmpty(ctx: Context, status = 200, headers: Record<string, string> = {}): void {
  ctx.res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) ctx.res.setHeader(name, value);
  if (status !== 204 && status !== 304) ctx.res.setHeader('content-length', 0);
  ctx.res.end();
}

/** The headers and user metadata an upload asks to keep. */
function objectInfo(headers: Map<string, string[]>): ObjectInfo {
  const stored: Record<string, string> = {};
  for (const name of storedHeaders) {
    let value = headerValue(headers, name);
    if (name === 'content-encoding' && value !== undefined) {
      value = value.split(',').map((token) => token.trim()).filter((token) => token && token.toLowerCase() !== 'aws-chunked').join(',');
    }
    if (value) stored[name] = value;
  }
  stored['content-type'] ??= 'binary/octet-stream';
  const metadata: Record<string, string> = {};
  let bytes = 0;
  for (const [name, values] of headers) {
    if (!name.startsWith('x-amz-meta-')) continue;
    const short = name.slice('x-amz-meta-'.length);
    const value = values.join(',');
    metadata[short] = value;
    bytes += Buffer.byteLength(short) + Buffer.byteLength(value);
  }
  if (bytes > maxMetadataBytes) throw new S3Error('MetadataTooLarge');
  return { headers: stored, metadata };
}

function declaredLength(headers: Map<string, string[]>): number | undefined {
  const value = headerValue(headers, 'x-amz-decoded-content-length') ?? headerValue(headers, 'content-length');
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Where the endpoint's request documents stop being what S3 accepts (1000 keys, 10000 parts). */
const deleteLimits: XmlLimits = { maxDepth: 8, maxElements: 1000 * 6 + 8, maxBytes: maxXmlBody };
const completeLimits: XmlLimits = { maxDepth: 8, maxElements: 10_000 * 8 + 8, maxBytes: maxXmlBody };
const bucketConfigurationLimits: XmlLimits = { maxDepth: 4, maxElements: 16, maxBytes: 64 * 1024 };

function hasBody(headers: Map<string, string[]>): boolean {
  const length = headerValue(headers, 'content-length');
  return headers.has('transfer-encoding') || (length !== undefined && length !== '0');
}

/** Reads and parses a request document (after the same verification as any payload), root checked. */
async function readXmlBody(ctx: Context, rootName: string, limits: XmlLimits, checksumHeadersDescribeBody: boolean): Promise<XmlElement> {
  const sink = new XmlDocumentSink(limits);
  await pipeline([...payloadStages(ctx.req, ctx.headers, ctx.auth, checksumHeadersDescribeBody), sink]);
  if (sink.root?.name !== rootName) throw new S3Error('MalformedXML');
  return sink.root;
}

/** The ETag S3 gives the object made of parts with these ETags: MD5 of their MD5s, `-<count>`. */
function multipartEtag(etags: string[]): string {
  const md5s = createHash('md5');
  for (const etag of etags) md5s.update(Buffer.from(etag.replace(/"/g, '').toLowerCase(), 'hex'));
  return `${md5s.digest('hex')}-${etags.length}`;
}

/** The checksum a CreateMultipartUpload asks for (`x-amz-checksum-algorithm`, `-type`). */
function uploadChecksum(headers: Map<string, string[]>): StoredChecksum | undefined {
  const algorithm = headerValue(headers, 'x-amz-checksum-algorithm')?.trim().toLowerCase();
  if (algorithm === undefined) return undefined;
  if (!isChecksumAlgorithm(algorithm)) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]');
  // As on AWS: CRCs may be either (CRC64NVME only FULL_OBJECT), SHAs only COMPOSITE.
  const type = headerValue(headers, 'x-amz-checksum-type')?.trim().toUpperCase() ?? (algorithm === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE');
  if (type !== 'COMPOSITE' && type !== 'FULL_OBJECT') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  if (type === 'FULL_OBJECT' ? !isCombinable(algorithm) : algorithm === 'crc64nvme') {
    throw new S3Error('InvalidRequest', `The ${type} checksum type cannot be used with the ${algorithm} checksum algorithm.`);
  }
  return { algorithm, value: '', type };
}

/** `/bucket/key` (or `bucket/key`) of x-amz-copy-source, optionally `?versionId=…`. */
function parseCopySource(value: string): { bucket: string; key: string } {
  let raw = value;
  const version = raw.indexOf('?versionId=');
  if (version !== -1) raw = raw.slice(0, version);
  const decoded = decodeComponent(raw).replace(/^\//, '');
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  const bucket = decoded.slice(0, slash);
  const key = decoded.slice(slash + 1);
  if (!isValidBucketName(bucket)) throw new S3Error('InvalidBucketName');
  checkKey(key);
  return { bucket, key };
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) throw new S3Error('InvalidRange', undefined, { ActualObjectSize: String(size), RangeRequested: header });
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== '' && Number(match[2]) < start) return undefined;
  if (start >= size) throw new S3Error('InvalidRange', undefined, { ActualObjectSize: String(size), RangeRequested: header });
  return { start, end };
}

export function createS3Handler(options: S3HandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const store = options.store ?? new ObjectStore(options.root);
  const limiter = options.maxConcurrentPerLearner === undefined ? undefined : new RequestLimiter(options.maxConcurrentPerLearner);
  const now = options.now ?? Date.now;
  const changed = (bucket: string, key: string): void => {
    try {
      options.onWrite?.(bucket, key);
    } catch (error) {
      options.log?.('s3: onWrite failed', error);
    }
  };

  async function knownBucket(credential: S3Credential, bucket: string): Promise<boolean> {
    return ownsBucket(credential, bucket) || (await options.bucketExists(bucket));
  }

  async function requireBucket(ctx: Context, bucket = ctx.bucket): Promise<void> {
    if (!(await knownBucket(ctx.credential, bucket))) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket });
  }

  function requireWrite(ctx: Context): void {
    if (!mayWriteObject(ctx.credential, ctx.bucket)) throw new S3Error('AccessDenied');
  }

  function requireOwn(ctx: Context): void {
    if (!ownsBucket(ctx.credential, ctx.bucket)) throw new S3Error('AccessDenied');
  }

  async function listBuckets(ctx: Context): Promise<void> {
    const bucket = ctx.credential.bucket;
    const created = await stat(join(options.root, 'buckets', bucket)).then((info) => info.birthtimeMs || info.mtimeMs, () => now());
    sendXml(
      ctx,
      `<ListAllMyBucketsResult xmlns="${s3Namespace}">${owner(ctx.credential)}<Buckets><Bucket>${element('Name', bucket)}${element('CreationDate', isoDate(created))}</Bucket></Buckets></ListAllMyBucketsResult>`,
    );
  }

  async function listObjects(ctx: Context, v2: boolean): Promise<void> {
    const q = ctx.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const encodingType = q.get('encoding-type');
    if (encodingType !== undefined && encodingType !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request');
    const maxKeysText = q.get('max-keys');
    if (maxKeysText !== undefined && !/^\d+$/.test(maxKeysText)) throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range');
    const maxKeys = Math.min(1000, maxKeysText === undefined ? 1000 : Number(maxKeysText));
    const scope = listScope(ctx.credential, ctx.bucket, prefix);
    if (!scope.allowed) throw new S3Error('AccessDenied');
    await requireBucket(ctx);

    let after: string | undefined;
    const token = q.get('continuation-token');
    if (v2 && token !== undefined) {
      const decoded = Buffer.from(token, 'base64url').toString('utf8');
      if (!token || Buffer.from(decoded, 'utf8').toString('base64url') !== token) {
        throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
      }
      after = decoded;
    } else {
      after = v2 ? q.get('start-after') : q.get('marker');
      if (after === '') after = undefined;
    }
    // S3 answers max-keys=0 with an empty page that is not truncated (so paginators stop).
    const page = maxKeys === 0
      ? { contents: [], commonPrefixes: [], isTruncated: false, last: undefined }
      : await store.listPage(ctx.bucket, { prefix, delimiter, after, maxKeys, only: scope.only });

    const encode = (value: string): string => (encodingType === 'url' ? uriEncode(value, true) : value);
    let xml = `<ListBucketResult xmlns="${s3Namespace}">${element('Name', ctx.bucket)}${element('Prefix', encode(prefix))}`;
    if (v2) {
      if (token !== undefined) xml += element('ContinuationToken', token);
      if (q.has('start-after')) xml += element('StartAfter', encode(q.get('start-after')!));
      xml += element('KeyCount', page.contents.length + page.commonPrefixes.length);
    } else {
      xml += element('Marker', encode(q.get('marker') ?? ''));
    }
    xml += element('MaxKeys', maxKeys);
    if (delimiter) xml += element('Delimiter', encode(delimiter));
    if (encodingType) xml += element('EncodingType', encodingType);
    xml += element('IsTruncated', page.isTruncated);
    if (page.isTruncated && page.last !== undefined) {
      if (v2) xml += element('NextContinuationToken', Buffer.from(page.last, 'utf8').toString('base64url'));
      else if (delimiter) xml += element('NextMarker', encode(page.last));
    }
    const withOwner = !v2 || q.get('fetch-owner') === 'true';
    for (const meta of page.contents) {
      xml += `<Contents>${element('Key', encode(meta.key))}${element('LastModified', isoDate(meta.lastModified))}${element('ETag', quoted(meta.etag))}${element('Size', meta.size)}${withOwner ? owner(ctx.credential) : ''}<StorageClass>STANDARD</StorageClass></Contents>`;
    }
    for (const common of page.commonPrefixes) xml += `<CommonPrefixes>${element('Prefix', encode(common))}</CommonPrefixes>`;
    sendXml(ctx, `${xml}</ListBucketResult>`);
  }

  function setObjectHeaders(ctx: Context, meta: ObjectMeta, whole: boolean, partsCount: number | undefined): void {
    const res = ctx.res;
    res.setHeader('etag', quoted(meta.etag));
    res.setHeader('last-modified', httpDate(meta.lastModified));
    res.setHeader('accept-ranges', 'bytes');
    for (const [name, value] of Object.entries(meta.headers)) res.setHeader(name, value);
    for (const [name, value] of Object.entries(meta.metadata)) res.setHeader(`x-amz-meta-${name}`, value);
    if (partsCount !== undefined && meta.etag.includes('-')) res.setHeader('x-amz-mp-parts-count', partsCount);
    res.setHeader('x-amz-storage-class', 'STANDARD');
    if (whole && headerValue(ctx.headers, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
      for (const [name, value] of Object.entries(checksumHeaders(meta.checksum))) res.setHeader(name, value);
    }
    // Presigned URLs may override the stored response headers.
    for (const name of ['content-type', 'content-language', 'expires', 'cache-control', 'content-disposition', 'content-encoding']) {
      const override = ctx.query.get(`response-${name}`);
      if (override !== undefined) res.setHeader(name, override);
    }
  }

  /** If-Match / If-None-Match / If-(Un)Modified-Since, as S3 evaluates them; true when answered. */
  function preconditions(ctx: Context, meta: ObjectMeta): boolean {
    const ifMatch = headerValue(ctx.headers, 'if-match');
    const ifNoneMatch = headerValue(ctx.headers, 'if-none-match');
    const ifModifiedSince = headerValue(ctx.headers, 'if-modified-since');
    const ifUnmodifiedSince = headerValue(ctx.headers, 'if-unmodified-since');
    const etagIn = (list: string): boolean => list.split(',').some((tag) => tag.trim() === '*' || tag.trim().replace(/^W\//, '').replace(/"/g, '') === meta.etag);
    const seconds = Math.floor(meta.lastModified / 1000) * 1000;
    if (ifMatch !== undefined && !etagIn(ifMatch)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    if (ifMatch === undefined && ifUnmodifiedSince !== undefined && seconds > Date.parse(ifUnmodifiedSince)) {
      throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Unmodified-Since' });
    }
    const notModified = ifNoneMatch !== undefined ? etagIn(ifNoneMatch) : ifModifiedSince !== undefined && seconds <= Date.parse(ifModifiedSince);
    if (notModified) {
      ctx.res.setHeader('etag', quoted(meta.etag));
      ctx.res.setHeader('last-modified', httpDate(meta.lastModified));
      sendEmpty(ctx, 304);
      return true;
    }
    return false;
  }

  /** The bytes of part `number` (`?partNumber=`): a part of a multipart object, the whole of a simple one. */
  function partRange(meta: ObjectMeta, number: number): { start: number; end: number; count: number } {
    const sizes = meta.parts ?? (meta.etag.includes('-') ? undefined : [meta.size]);
    if (!sizes) throw new S3Error('NotImplemented', 'The part sizes of this object were not recorded (it predates them)');
    if (number > sizes.length) throw new S3Error('InvalidPartNumber', undefined, { PartNumberRequested: String(number), ActualPartCount: String(sizes.length) });
    const start = sizes.slice(0, number - 1).reduce((sum, size) => sum + size, 0);
    return { start, end: start + sizes[number - 1]! - 1, count: sizes.length };
  }

  async function getObject(ctx: Context): Promise<void> {
    if (!mayReadObject(ctx.credential, ctx.bucket, ctx.key)) throw new S3Error('AccessDenied');
    await requireBucket(ctx);
    const opened = await store.open(ctx.bucket, ctx.key);
    if (!opened) throw new S3Error('NoSuchKey', undefined, { Key: ctx.key });
    const { meta, file } = opened;
    let streaming = false;
    try {
      if (preconditions(ctx, meta)) return;
      const rangeHeader = headerValue(ctx.headers, 'range');
      let range = parseRange(rangeHeader, meta.size);
      let partsCount: number | undefined;
      if (ctx.query.has('partNumber')) {
        if (rangeHeader !== undefined) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
        const part = partRange(meta, partNumber(ctx));
        partsCount = part.count;
        // An empty object has no byte to range over: its part 1 is answered whole.
        range = meta.size === 0 ? undefined : part;
      }
      setObjectHeaders(ctx, meta, range === undefined, partsCount);
      const res = ctx.res;
      if (range) {
        res.statusCode = 206;
        res.setHeader('content-range', `bytes ${range.start}-${range.end}/${meta.size}`);
        res.setHeader('content-length', range.end - range.start + 1);
      } else {
        res.statusCode = 200;
        res.setHeader('content-length', meta.size);
      }
      if (ctx.method === 'HEAD' || meta.size === 0) {
        res.end();
        return;
      }
      streaming = true;
      const stream = file.createReadStream({ start: range?.start ?? 0, end: range?.end ?? meta.size - 1, autoClose: true, highWaterMark: 512 * 1024 });
      await pipeline(stream, res);
    } finally {
      if (!streaming) await file.close();
    }
  }

  async function putObject(ctx: Context): Promise<void> {
    requireWrite(ctx);
    const length = declaredLength(ctx.headers);
    if (length !== undefined && length > maxObjectSize) throw new S3Error('EntityTooLarge');
    const info = objectInfo(ctx.headers);
    const condition = await writeCondition(ctx.headers, () => store.head(ctx.bucket, ctx.key));
    const stages = payloadStages(ctx.req, ctx.headers, ctx.auth);
    const withChecksum = (): ObjectInfo => {
      const computed = payloadChecksum(stages);
      return computed ? { ...info, checksum: { ...computed, type: 'FULL_OBJECT' } } : info;
    };
    const meta = await store.put(ctx.bucket, ctx.key, stages, withChecksum, length, condition);
    changed(ctx.bucket, ctx.key);
    sendEmpty(ctx, 200, { etag: quoted(meta.etag), ...checksumHeaders(meta.checksum) });
  }

  async function openCopySource(ctx: Context): Promise<{ meta: ObjectMeta; file: import('node:fs/promises').FileHandle }> {
    const source = parseCopySource(headerValue(ctx.headers, 'x-amz-copy-source')!);
    if (!mayReadObject(ctx.credential, source.bucket, source.key)) throw new S3Error('AccessDenied');
    await requireBucket(ctx, source.bucket);
    const opened = await store.open(source.bucket, source.key);
    if (!opened) throw new S3Error('NoSuchKey', undefined, { Key: source.key });
    try {
      checkCopySourceConditions(ctx.headers, opened.meta);
    } catch (error) {
      await opened.file.close();
      throw error;
    }
    if (source.bucket === ctx.bucket && source.key === ctx.key && (headerValue(ctx.headers, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase() !== 'REPLACE' && ctx.query.get('partNumber') === undefined) {
      await opened.file.close();
      throw new S3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
    }
    return opened;
  }

  async function copyObject(ctx: Context): Promise<void> {
    requireWrite(ctx);
    const condition = await writeCondition(ctx.headers, () => store.head(ctx.bucket, ctx.key));
    const { meta: source, file } = await openCopySource(ctx);
    const replace = (headerValue(ctx.headers, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase() === 'REPLACE';
    const base: ObjectInfo = replace ? objectInfo(ctx.headers) : { headers: source.headers, metadata: source.metadata };
    const stages: NodeJS.ReadableStream[] = [file.createReadStream({ autoClose: true })];
    // A checksum asked for is computed on the way; otherwise the same bytes keep the same
    // full-object checksum (a composite one describes parts the copy does not have).
    const asked = headerValue(ctx.headers, 'x-amz-checksum-algorithm')?.trim().toLowerCase();
    if (asked !== undefined) {
      if (!isChecksumAlgorithm(asked)) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported.');
      stages.push(new PayloadVerifier({ checksum: { algorithm: asked, expected: undefined } }));
    }
    const info = (): ObjectInfo => {
      const computed = payloadChecksum(stages);
      const checksum = computed ? { ...computed, type: 'FULL_OBJECT' as const } : source.checksum?.type === 'FULL_OBJECT' ? source.checksum : undefined;
      return { ...base, checksum };
    };
    const meta = await store.put(ctx.bucket, ctx.key, stages, info, source.size, condition);
    changed(ctx.bucket, ctx.key);
    sendXml(ctx, `<CopyObjectResult xmlns="${s3Namespace}">${element('LastModified', isoDate(meta.lastModified))}${element('ETag', quoted(meta.etag))}${checksumElements(meta.checksum)}</CopyObjectResult>`);
  }

  async function deleteObject(ctx: Context): Promise<void> {
    requireWrite(ctx);
    await store.delete(ctx.bucket, ctx.key, deleteCondition(headerValue(ctx.headers, 'if-match')));
    changed(ctx.bucket, ctx.key);
    sendEmpty(ctx, 204);
  }

  async function deleteObjects(ctx: Context): Promise<void> {
    requireWrite(ctx);
    const xml = await readXmlBody(ctx, 'Delete', deleteLimits, true);
    const quiet = childText(xml, 'Quiet')?.trim() === 'true';
    const objects = childrenNamed(xml, 'Object');
    if (objects.length === 0 || objects.length > 1000) throw new S3Error('MalformedXML');
    let out = `<DeleteResult xmlns="${s3Namespace}">`;
    for (const object of objects) {
      const key = childText(object, 'Key');
      if (key === undefined) throw new S3Error('MalformedXML');
      try {
        checkKey(key);
        await store.delete(ctx.bucket, key, deleteCondition(childText(object, 'ETag')?.trim()));
        changed(ctx.bucket, key);
        if (!quiet) out += `<Deleted>${element('Key', key)}</Deleted>`;
      } catch (error) {
        const s3 = error instanceof S3Error ? error : new S3Error('InternalError');
        out += `<Error>${element('Key', key)}${element('Code', s3.code)}${element('Message', s3.message)}</Error>`;
      }
    }
    sendXml(ctx, `${out}</DeleteResult>`);
  }

  async function createMultipart(ctx: Context): Promise<void> {
    requireWrite(ctx);
    const upload = await store.createUpload(ctx.bucket, ctx.key, { ...objectInfo(ctx.headers), checksum: uploadChecksum(ctx.headers) });
    if (upload.checksum) {
      ctx.res.setHeader('x-amz-checksum-algorithm', upload.checksum.algorithm.toUpperCase());
      ctx.res.setHeader('x-amz-checksum-type', upload.checksum.type);
    }
    sendXml(ctx, `<InitiateMultipartUploadResult xmlns="${s3Namespace}">${element('Bucket', ctx.bucket)}${element('Key', ctx.key)}${element('UploadId', upload.uploadId)}</InitiateMultipartUploadResult>`);
  }

  async function requireUpload(ctx: Context, uploadId: string): Promise<UploadMeta> {
    const upload = await store.upload(ctx.bucket, uploadId);
    if (!upload || upload.key !== ctx.key) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    return upload;
  }

  function partNumber(ctx: Context): number {
    const text = ctx.query.get('partNumber') ?? '';
    const number = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
    if (!(number >= 1 && number <= 10000)) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
    return number;
  }

  async function uploadPart(ctx: Context, uploadId: string): Promise<void> {
    requireWrite(ctx);
    const number = partNumber(ctx);
    const upload = await requireUpload(ctx, uploadId);
    if (headerValue(ctx.headers, 'x-amz-copy-source') !== undefined) {
      const { meta: source, file } = await openCopySource(ctx);
      let range = { start: 0, end: source.size - 1 };
      const rangeHeader = headerValue(ctx.headers, 'x-amz-copy-source-range');
      if (rangeHeader !== undefined) {
        const match = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
        if (!match || Number(match[2]) < Number(match[1]) || Number(match[2]) >= source.size) {
          await file.close();
          throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy');
        }
        range = { start: Number(match[1]), end: Number(match[2]) };
      }
      const stream = source.size === 0 ? file.createReadStream({ autoClose: true, start: 0, end: -1 }) : file.createReadStream({ autoClose: true, start: range.start, end: range.end });
      const part = await store.putPart(ctx.bucket, uploadId, number, [stream]);
      sendXml(ctx, `<CopyPartResult xmlns="${s3Namespace}">${element('LastModified', isoDate(part.lastModified))}${element('ETag', quoted(part.etag))}</CopyPartResult>`);
      return;
    }
    const length = declaredLength(ctx.headers);
    if (length !== undefined && length > maxObjectSize) throw new S3Error('EntityTooLarge');
    const stages = payloadStages(ctx.req, ctx.headers, ctx.auth);
    const algorithm = upload.checksum?.algorithm;
    const checksum = (): string | undefined => {
      const computed = payloadChecksum(stages);
      if (algorithm && computed && computed.algorithm !== algorithm) {
        throw new S3Error('InvalidRequest', `The upload was created using the ${algorithm.toUpperCase()} checksum algorithm, not ${computed.algorithm.toUpperCase()}`);
      }
      return computed?.value;
    };
    const part = await store.putPart(ctx.bucket, uploadId, number, stages, length, checksum);
    sendEmpty(ctx, 200, { etag: quoted(part.etag), ...(part.checksum && algorithm ? { [`x-amz-checksum-${algorithm}`]: part.checksum } : {}) });
  }

  async function completeMultipart(ctx: Context, uploadId: string): Promise<void> {
    requireWrite(ctx);
    const upload = await store.upload(ctx.bucket, uploadId);
    const xml = await readXmlBody(ctx, 'CompleteMultipartUpload', completeLimits, false);
    const parts = childrenNamed(xml, 'Part').map((part) => {
      const number = childText(part, 'PartNumber')?.trim() ?? '';
      const etag = childText(part, 'ETag')?.trim();
      if (!/^\d{1,5}$/.test(number) || etag === undefined) throw new S3Error('MalformedXML');
      return { partNumber: Number(number), etag, element: part };
    });
    const host = headerValue(ctx.headers, 'host') ?? 'localhost';
    const answer = (meta: ObjectMeta): void => {
      const location = `http://${host}/${ctx.bucket}/${uriEncode(ctx.key, true)}`;
      sendXml(ctx, `<CompleteMultipartUploadResult xmlns="${s3Namespace}">${element('Location', location)}${element('Bucket', ctx.bucket)}${element('Key', ctx.key)}${element('ETag', quoted(meta.etag))}${checksumElements(meta.checksum)}</CompleteMultipartUploadResult>`);
    };
    if (!upload || upload.key !== ctx.key) {
      // A retry of a completion that succeeded (its answer lost): S3 answers it again, the same.
      const current = await store.head(ctx.bucket, ctx.key);
      if (current && current.etag === multipartEtag(parts.map((part) => part.etag))) return answer(current);
      throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    }
    const condition = await writeCondition(ctx.headers, () => store.head(ctx.bucket, ctx.key));
    const checksum = await completedChecksum(ctx, upload, parts);
    const meta = await store.complete(ctx.bucket, uploadId, parts, minPartSize, checksum, condition);
    changed(ctx.bucket, ctx.key);
    answer(meta);
  }

  /**
   * The checksum of the object the listed parts make, in the upload's algorithm and type (COMPOSITE,
   * or FULL_OBJECT combined from the parts' CRCs); each part's checksum the client lists must be
   * the one it was uploaded with (InvalidPart), a whole-object value it sends must match (BadDigest).
   */
  async function completedChecksum(ctx: Context, upload: UploadMeta, parts: Array<{ partNumber: number; element: XmlElement }>): Promise<StoredChecksum | undefined> {
    const algorithm = upload.checksum?.algorithm;
    if (!algorithm) return undefined;
    const stored = new Map((await store.listParts(ctx.bucket, upload.uploadId)).map((part) => [part.partNumber, part]));
    const values: Array<{ value: string; size: number }> = [];
    for (const part of parts) {
      const value = stored.get(part.partNumber)?.checksum;
      const listed = childText(part.element, checksumElementName(algorithm))?.trim();
      if (listed !== undefined && listed !== value) throw new S3Error('InvalidPart', undefined, { PartNumber: String(part.partNumber) });
      if (value === undefined) return undefined;
      values.push({ value, size: stored.get(part.partNumber)!.size });
    }
    if (upload.checksum!.type === 'COMPOSITE') return { algorithm, value: compositeChecksum(algorithm, values.map((part) => part.value)), type: 'COMPOSITE' };
    const value = combinedChecksum(algorithm, values);
    const sent = headerValue(ctx.headers, `x-amz-checksum-${algorithm}`);
    if (sent !== undefined && sent !== value) throw new S3Error('BadDigest', `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`);
    return { algorithm, value, type: 'FULL_OBJECT' };
  }

  async function abortMultipart(ctx: Context, uploadId: string): Promise<void> {
    requireWrite(ctx);
    await requireUpload(ctx, uploadId);
    await store.abort(ctx.bucket, uploadId);
    sendEmpty(ctx, 204);
  }

  async function listParts(ctx: Context, uploadId: string): Promise<void> {
    requireWrite(ctx);
    const upload = await requireUpload(ctx, uploadId);
    const marker = Number(ctx.query.get('part-number-marker') ?? '0') || 0;
    const maxParts = Math.min(1000, Number(ctx.query.get('max-parts') ?? '1000') || 1000);
    const all = (await store.listParts(ctx.bucket, uploadId)).filter((part) => part.partNumber > marker);
    const parts = all.slice(0, maxParts);
    const truncated = all.length > parts.length;
    let xml = `<ListPartsResult xmlns="${s3Namespace}">${element('Bucket', ctx.bucket)}${element('Key', ctx.key)}${element('UploadId', uploadId)}`;
    xml += `<Initiator>${element('ID', ctx.credential.learnerId)}${element('DisplayName', ctx.credential.learnerId)}</Initiator>${owner(ctx.credential)}<StorageClass>STANDARD</StorageClass>`;
    xml += `${element('PartNumberMarker', marker)}${element('NextPartNumberMarker', parts.at(-1)?.partNumber ?? marker)}${element('MaxParts', maxParts)}${element('IsTruncated', truncated)}`;
    for (const part of parts) {
      const checksum = part.checksum && upload.checksum ? element(checksumElementName(upload.checksum.algorithm), part.checksum) : '';
      xml += `<Part>${element('PartNumber', part.partNumber)}${element('LastModified', isoDate(part.lastModified))}${element('ETag', quoted(part.etag))}${checksum}${element('Size', part.size)}</Part>`;
    }
    sendXml(ctx, `${xml}</ListPartsResult>`);
  }

  async function listMultipartUploads(ctx: Context): Promise<void> {
    requireOwn(ctx);
    const prefix = ctx.query.get('prefix') ?? '';
    const uploads = (await store.listUploads(ctx.bucket)).filter((upload) => upload.key.startsWith(prefix)).slice(0, 1000);
    let xml = `<ListMultipartUploadsResult xmlns="${s3Namespace}">${element('Bucket', ctx.bucket)}<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker>${element('Prefix', prefix)}<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>`;
    for (const upload of uploads) {
      xml += `<Upload>${element('Key', upload.key)}${element('UploadId', upload.uploadId)}<Initiator>${element('ID', ctx.credential.learnerId)}${element('DisplayName', ctx.credential.learnerId)}</Initiator>${owner(ctx.credential)}<StorageClass>STANDARD</StorageClass>${element('Initiated', isoDate(upload.initiated))}</Upload>`;
    }
    sendXml(ctx, `${xml}</ListMultipartUploadsResult>`);
  }

  function acl(ctx: Context): void {
    const grantee = `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">${element('ID', ctx.credential.learnerId)}${element('DisplayName', ctx.credential.learnerId)}</Grantee>`;
    sendXml(ctx, `<AccessControlPolicy xmlns="${s3Namespace}">${owner(ctx.credential)}<AccessControlList><Grant>${grantee}<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`);
  }

  /** Bucket configuration probes clients make: harmless, truthful answers. */
  const bucketProbes: Record<string, (ctx: Context) => void> = {
    versioning: (ctx) => sendXml(ctx, `<VersioningConfiguration xmlns="${s3Namespace}"/>`),
    acl,
    policy: () => { throw new S3Error('NoSuchBucketPolicy'); },
    lifecycle: () => { throw new S3Error('NoSuchLifecycleConfiguration'); },
    cors: () => { throw new S3Error('NoSuchCORSConfiguration'); },
    encryption: () => { throw new S3Error('ServerSideEncryptionConfigurationNotFoundError'); },
    tagging: () => { throw new S3Error('NoSuchTagSet'); },
    'object-lock': () => { throw new S3Error('ObjectLockConfigurationNotFoundError'); },
    website: () => { throw new S3Error('NoSuchWebsiteConfiguration'); },
    replication: () => { throw new S3Error('ReplicationConfigurationNotFoundError'); },
    notification: (ctx) => sendXml(ctx, `<NotificationConfiguration xmlns="${s3Namespace}"/>`),
    logging: (ctx) => sendXml(ctx, `<BucketLoggingStatus xmlns="${s3Namespace}"/>`),
    accelerate: (ctx) => sendXml(ctx, `<AccelerateConfiguration xmlns="${s3Namespace}"/>`),
    requestPayment: (ctx) => sendXml(ctx, `<RequestPaymentConfiguration xmlns="${s3Namespace}"><Payer>BucketOwner</Payer></RequestPaymentConfiguration>`),
  };

  async function bucketRoute(ctx: Context): Promise<void> {
    const q = ctx.query;
    switch (ctx.method) {
      case 'GET': {
        if (q.has('location')) {
          await requireBucket(ctx);
          const region = options.region === 'us-east-1' ? '' : options.region;
          return sendXml(ctx, `<LocationConstraint xmlns="${s3Namespace}">${region}</LocationConstraint>`);
        }
        if (q.has('uploads')) return listMultipartUploads(ctx);
        const probe = Object.keys(bucketProbes).find((name) => q.has(name));
        if (probe) {
          if (probe !== 'versioning') requireOwn(ctx);
          await requireBucket(ctx);
          return bucketProbes[probe]!(ctx);
        }
        if (q.has('list-type') && q.get('list-type') !== '2') throw new S3Error('InvalidArgument', 'Invalid List Type specified in Request');
        const known = ['list-type', 'prefix', 'delimiter', 'max-keys', 'continuation-token', 'start-after', 'marker', 'encoding-type', 'fetch-owner', 'x-id'];
        const unknown = [...q.keys()].find((name) => !known.includes(name) && !name.startsWith('X-Amz-') && !name.startsWith('x-amz-'));
        if (unknown) throw new S3Error('NotImplemented', `The ${unknown} subresource is not implemented`);
        return listObjects(ctx, q.get('list-type') === '2');
      }
      case 'HEAD': {
        if (!(await knownBucket(ctx.credential, ctx.bucket))) throw new S3Error('NoSuchBucket');
        return sendEmpty(ctx, 200, { 'x-amz-bucket-region': options.region });
      }
      case 'PUT': {
        requireOwn(ctx);
        if ([...q.keys()].some((name) => !name.startsWith('X-Amz-') && name !== 'x-id')) throw new S3Error('NotImplemented');
        if (hasBody(ctx.headers)) {
          const configuration = await readXmlBody(ctx, 'CreateBucketConfiguration', bucketConfigurationLimits, true);
          const constraint = childText(configuration, 'LocationConstraint')?.trim();
          if (constraint && constraint !== options.region) throw new S3Error('IllegalLocationConstraintException', `The ${constraint} location constraint is incompatible for the region specific endpoint this request was sent to.`);
        }
        // The learner's bucket always exists: creating it again succeeds (as us-east-1 does).
        return sendEmpty(ctx, 200, { location: `/${ctx.bucket}` });
      }
      case 'POST':
        if (q.has('delete')) return deleteObjects(ctx);
        throw new S3Error('NotImplemented');
      case 'DELETE':
        requireOwn(ctx);
        if ([...q.keys()].some((name) => !name.startsWith('X-Amz-') && name !== 'x-id')) throw new S3Error('NotImplemented');
        if (await store.hasObjects(ctx.bucket)) throw new S3Error('BucketNotEmpty', undefined, { BucketName: ctx.bucket });
        throw new S3Error('AccessDenied', 'Learner buckets cannot be deleted');
      default:
        throw new S3Error('MethodNotAllowed');
    }
  }

  async function objectRoute(ctx: Context): Promise<void> {
    const q = ctx.query;
    const uploadId = q.get('uploadId');
    refuseUnknownObjectParameters(ctx.method, q);
    switch (ctx.method) {
      case 'GET':
        if (uploadId !== undefined) return listParts(ctx, uploadId);
        if (q.has('acl')) {
          if (!mayReadObject(ctx.credential, ctx.bucket, ctx.key)) throw new S3Error('AccessDenied');
          await requireBucket(ctx);
          if (!(await store.head(ctx.bucket, ctx.key))) throw new S3Error('NoSuchKey', undefined, { Key: ctx.key });
          return acl(ctx);
        }
        if (q.has('tagging')) {
          if (!mayReadObject(ctx.credential, ctx.bucket, ctx.key)) throw new S3Error('AccessDenied');
          await requireBucket(ctx);
          if (!(await store.head(ctx.bucket, ctx.key))) throw new S3Error('NoSuchKey', undefined, { Key: ctx.key });
          return sendXml(ctx, `<Tagging xmlns="${s3Namespace}"><TagSet/></Tagging>`);
        }
        return getObject(ctx);
      case 'HEAD':
        return getObject(ctx);
      case 'PUT':
        if (uploadId !== undefined) return uploadPart(ctx, uploadId);
        if (headerValue(ctx.headers, 'x-amz-copy-source') !== undefined) return copyObject(ctx);
        return putObject(ctx);
      case 'POST':
        if (q.has('uploads')) return createMultipart(ctx);
        if (uploadId !== undefined) return completeMultipart(ctx, uploadId);
        throw new S3Error('NotImplemented');
      case 'DELETE':
        if (uploadId !== undefined) return abortMultipart(ctx, uploadId);
        return deleteObject(ctx);
      default:
        throw new S3Error('MethodNotAllowed');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const method = (req.method ?? 'GET').toUpperCase();
    let resource = '/';
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('server', 'AtelierS3');
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const rawPath = q === -1 ? url : url.slice(0, q);
      if (!rawPath.startsWith('/')) throw new S3Error('InvalidURI');
      const queryList = parseQuery(q === -1 ? '' : url.slice(q + 1));
      const headers = groupHeaders(req.rawHeaders);
      resource = decodeComponent(rawPath);
      const auth = await authenticate({ method, rawPath, query: queryList, headers }, options.credentials, now());
      if (limiter) {
        const release = limiter.acquire(auth.credential.learnerId);
        if (!release) throw new S3Error('SlowDown');
        // 'close' comes both when the response is done and when the client went away.
        res.once('close', release);
      }

      const slash = rawPath.indexOf('/', 1);
      const bucket = decodeComponent(slash === -1 ? rawPath.slice(1) : rawPath.slice(1, slash));
      const key = slash === -1 ? '' : decodeComponent(rawPath.slice(slash + 1));
      const ctx: Context = { req, res, method, bucket, key, query: new Map(queryList), headers, auth, credential: auth.credential, requestId };

      refuseUnsupportedHeaders(headers);
      if (bucket === '') {
        if (method !== 'GET') throw new S3Error('MethodNotAllowed');
        return await listBuckets(ctx);
      }
      if (!isValidBucketName(bucket)) throw new S3Error('InvalidBucketName', undefined, { BucketName: bucket });
      if (key === '') return await bucketRoute(ctx);
      checkKey(key);
      return await objectRoute(ctx);
    } catch (error) {
      const s3 = error instanceof S3Error ? error : undefined;
      // A client that hung up is not a server fault: nothing to answer, nothing to report.
      if (!s3 && ((error as NodeJS.ErrnoException).code === 'ECONNRESET' || req.errored || res.destroyed)) {
        res.destroy();
        return;
      }
      if (!s3) options.log?.(`s3: ${method} ${req.url ?? ''} failed`, error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A body we will not read: close the connection rather than read it all.
      if (!req.complete) res.setHeader('connection', 'close');
      sendError(res, s3 ?? new S3Error('InternalError'), { method, resource, requestId });
    }
  }

  return (req, res) => {
    void handle(req, res);
  };
}
