/**
 * An external S3 (MinIO, or AWS) in place of the embedded endpoint. The lab server talks to it
 * with admin credentials (path-style), for its own pages and checks, through the same small
 * object API it uses on the embedded `ObjectStore` (`LearnerObjects`, below). Learners get
 * temporary credentials minted with STS AssumeRole at the same endpoint (as MinIO serves STS),
 * restricted by the inline session policy of `session-policy.ts`: the effective rights of such
 * a credential are the admin's intersected with that policy.
 *
 * MinIO: use a dedicated user with s3:* (not the root user) as "admin"; RoleArn is ignored.
 * AWS: give `roleArn` (a role the admin may assume, allowing s3:* on the learner buckets) and
 * `stsEndpoint` if STS is not at `endpoint`; DurationSeconds is capped by the role's maximum.
 */
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient, type AssumeRoleCommandOutput } from '@aws-sdk/client-sts';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectStore } from './object-store.ts';
import { sessionPolicyText, type SessionPolicyOptions } from './session-policy.ts';

export { maxSessionPolicyLength, sessionPolicy, sessionPolicyText, type SessionPolicyOptions } from './session-policy.ts';

/** What the server's pages and checks read of an object, whichever store holds it. */
export interface ObjectSummary {
  key: string;
  size: number;
  /** Without quotes. */
  etag: string;
  /** Epoch ms. */
  lastModified: number;
  /** Only from head/read: a listing does not carry the content type. */
  headers: { 'content-type'?: string };
}

export interface Folder {
  /** Sub-folders (`prefix` + name + `/`) and files, in S3 key order. */
  folders: string[];
  files: ObjectSummary[];
  /** More entries than `max`: only the first ones are here. */
  truncated: boolean;
}

/** The object operations the lab server itself needs on learner buckets. */
export interface LearnerObjects {
  head(bucket: string, key: string): Promise<ObjectSummary | undefined>;
  /** Every object of the bucket, in S3 key order; [] when the bucket does not exist yet. */
  list(bucket: string): Promise<ObjectSummary[]>;
  /** One folder as a file browser shows it: what is directly under `prefix`, at most `max` (≤ 1000) entries. */
  folder(bucket: string, prefix: string, max: number): Promise<Folder>;
  /** The object's data as a stream, for downloads; undefined when missing. */
  read(bucket: string, key: string): Promise<{ meta: ObjectSummary; stream: Readable } | undefined>;
  /** `size`, when known, lets a write over the bucket's quota be refused before its body is read. */
  put(bucket: string, key: string, body: Readable | Buffer | string, contentType: string, size?: number): Promise<ObjectSummary>;
  /** Succeeds when the object is already gone. */
  delete(bucket: string, key: string): Promise<void>;
}

/** The same API over the embedded store, so callers can hold either. */
export function embeddedObjects(store: ObjectStore): LearnerObjects {
  const summary = (meta: { key: string; size: number; etag: string; lastModified: number; headers: Record<string, string> }): ObjectSummary => ({
    key: meta.key,
    size: meta.size,
    etag: meta.etag,
    lastModified: meta.lastModified,
    headers: meta.headers['content-type'] === undefined ? {} : { 'content-type': meta.headers['content-type'] },
  });
  return {
    head: async (bucket, key) => {
      const meta = await store.head(bucket, key);
      return meta && summary(meta);
    },
    list: async (bucket) => (await store.list(bucket)).map(({ key, size, etag, lastModified }) => ({ key, size, etag, lastModified, headers: {} })),
    folder: async (bucket, prefix, max) => {
      const page = await store.listPage(bucket, { prefix, delimiter: '/', after: undefined, maxKeys: max });
      const files = page.contents.map(({ key, size, etag, lastModified }) => ({ key, size, etag, lastModified, headers: {} }));
      return { folders: page.commonPrefixes, files, truncated: page.isTruncated };
    },
    read: async (bucket, key) => {
      const found = await store.open(bucket, key);
      return found && { meta: summary(found.meta), stream: found.file.createReadStream() };
    },
    put: async (bucket, key, body, contentType, size) => {
      const source = typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body;
      return summary(await store.put(bucket, key, [source], { headers: { 'content-type': contentType }, metadata: {} }, size));
    },
    delete: (bucket, key) => store.delete(bucket, key),
  };
}

export interface LearnerS3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface ExternalS3Options {
  /** S3 endpoint, e.g. `http://minio:9000`; STS is asked there too unless `stsEndpoint`. */
  endpoint: string;
  region: string;
  adminAccessKeyId: string;
  adminSecretAccessKey: string;
  /** Required by AWS; MinIO ignores it. */
  roleArn?: string;
  /** Lifetime of minted learner credentials: 900 (STS minimum) to 43200. */
  durationSeconds: number;
  stsEndpoint?: string;
  /** See `SessionPolicyOptions.otherBuckets`. */
  policy?: SessionPolicyOptions;
  /** ListObjectsV2 page size (tests); 1000 otherwise. */
  listPageSize?: number;
  now?: () => number;
}

/** A failed call to the external S3 or its STS: names the operation, the target and the S3 code. */
export class ExternalS3Error extends Error {
  readonly operation: string;
  /** The S3/STS error code (`AccessDenied`, `NoSuchBucket`, …) or the network error's name. */
  readonly code: string;
  readonly status: number | undefined;
  constructor(operation: string, target: string, cause: unknown) {
    const error = cause as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } } | undefined;
    const code = error?.Code ?? error?.name ?? 'Error';
    const status = error?.$metadata?.httpStatusCode;
    super(`external S3: ${operation} ${target} failed: ${code}${status ? ` (HTTP ${status})` : ''}${error?.message && error.message !== code ? `: ${error.message}` : ''}`, { cause });
    this.name = 'ExternalS3Error';
    this.operation = operation;
    this.code = code;
    this.status = status;
  }
}

function codeOf(error: unknown): string | undefined {
  const e = error as { name?: string; Code?: string } | undefined;
  return e?.Code ?? e?.name;
}

/** HEAD answers 404 without a body: the SDK calls that `NotFound`. */
const missing = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket']);

const unquote = (etag: string | undefined) => (etag ?? '').replaceAll('"', '');

/** Counts what passes. (Not `size`: lib-storage would take that for the body's length.) */
class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

export class ExternalS3 implements LearnerObjects {
  readonly #s3: S3Client;
  readonly #sts: STSClient;
  readonly #options: ExternalS3Options;
  readonly #now: () => number;
  readonly #ensured = new Set<string>();
  readonly #credentials = new Map<string, Promise<LearnerS3Credentials>>();

  constructor(options: ExternalS3Options) {
    const { endpoint, region, adminAccessKeyId, adminSecretAccessKey, durationSeconds } = options;
    if (!/^https?:\/\/[^/]+\/?$/.test(endpoint)) throw new Error(`external S3: endpoint must be http(s)://host[:port], got ${JSON.stringify(endpoint)}`);
    if (!adminAccessKeyId || !adminSecretAccessKey) throw new Error('external S3: admin access key and secret are required');
    if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43_200) {
      throw new Error(`external S3: durationSeconds must be an integer from 900 to 43200, got ${durationSeconds}`);
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const credentials = { accessKeyId: adminAccessKeyId, secretAccessKey: adminSecretAccessKey };
    this.#s3 = new S3Client({
      endpoint,
      region,
      credentials,
      forcePathStyle: true,
      // S3-compatible servers vary in their support of the SDK's default CRC trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.#sts = new STSClient({ endpoint: options.stsEndpoint ?? endpoint, region, credentials });
  }

  /** Learner credentials for the learner's bucket (named after the learner), from STS. */
  async mintCredentials(learnerId: string): Promise<LearnerS3Credentials> {
    const policy = sessionPolicyText(learnerId, this.#options.policy);
    let output: AssumeRoleCommandOutput;
    try {
      output = await this.#sts.send(
        new AssumeRoleCommand({
          RoleArn: this.#options.roleArn,
          RoleSessionName: `atelier-${learnerId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64),
          DurationSeconds: this.#options.durationSeconds,
          Policy: policy,
        }),
      );
    } catch (error) {
      throw new ExternalS3Error('AssumeRole', `for ${learnerId}`, error);
    }
    const c = output.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new ExternalS3Error('AssumeRole', `for ${learnerId}`, { name: 'IncompleteCredentials', message: 'the answer carries no complete Credentials' });
    }
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiresAt: c.Expiration.getTime() };
  }

  /**
   * What a lab launch should call: the learner's bucket exists, and credentials are reused
   * while at least a quarter of their life is left (as the embedded store does); concurrent
   * calls share one STS request. Kept in memory only: a restart mints anew.
   */
  async credentialsFor(learnerId: string): Promise<LearnerS3Credentials> {
    const cached = this.#credentials.get(learnerId);
    if (cached) {
      const current = await cached.catch(() => undefined);
      if (current && current.expiresAt - this.#now() > (this.#options.durationSeconds * 1000) / 4) return current;
      if (this.#credentials.get(learnerId) !== cached) return this.credentialsFor(learnerId);
    }
    const minted = this.ensureBucket(learnerId).then(() => this.mintCredentials(learnerId));
    this.#credentials.set(learnerId, minted);
    minted.catch(() => {
      if (this.#credentials.get(learnerId) === minted) this.#credentials.delete(learnerId);
    });
    return minted;
  }

  /** Creates the bucket unless it exists (owned by the admin); remembered for this process. */
  async ensureBucket(bucket: string): Promise<void> {
    if (this.#ensured.has(bucket)) return;
    const { region } = this.#options;
    try {
      await this.#s3.send(
        new CreateBucketCommand({
          Bucket: bucket,
          ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
        }),
      );
    } catch (error) {
      if (codeOf(error) !== 'BucketAlreadyOwnedByYou') throw new ExternalS3Error('CreateBucket', bucket, error);
    }
    this.#ensured.add(bucket);
  }

  async head(bucket: string, key: string): Promise<ObjectSummary | undefined> {
    try {
      const out = await this.#s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return {
        key,
        size: out.ContentLength ?? 0,
        etag: unquote(out.ETag),
        lastModified: out.LastModified?.getTime() ?? 0,
        headers: out.ContentType === undefined ? {} : { 'content-type': out.ContentType },
      };
    } catch (error) {
      if (missing.has(codeOf(error) ?? '')) return undefined;
      throw new ExternalS3Error('HeadObject', `${bucket}/${key}`, error);
    }
  }

  async list(bucket: string): Promise<ObjectSummary[]> {
    const objects: ObjectSummary[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.#s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: this.#options.listPageSize ?? 1000, ContinuationToken: token }));
      } catch (error) {
        if (codeOf(error) === 'NoSuchBucket') return [];
        throw new ExternalS3Error('ListObjectsV2', bucket, error);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        objects.push({ key: object.Key, size: object.Size ?? 0, etag: unquote(object.ETag), lastModified: object.LastModified?.getTime() ?? 0, headers: {} });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  async folder(bucket: string, prefix: string, max: number): Promise<Folder> {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await this.#s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', MaxKeys: max }));
    } catch (error) {
      if (codeOf(error) === 'NoSuchBucket') return { folders: [], files: [], truncated: false };
      throw new ExternalS3Error('ListObjectsV2', bucket, error);
    }
    const files = (page.Contents ?? [])
      .filter((object) => object.Key !== undefined)
      .map((object) => ({ key: object.Key!, size: object.Size ?? 0, etag: unquote(object.ETag), lastModified: object.LastModified?.getTime() ?? 0, headers: {} }));
    const folders = (page.CommonPrefixes ?? []).map((common) => common.Prefix).filter((name): name is string => name !== undefined);
    return { folders, files, truncated: page.IsTruncated === true };
  }

  async read(bucket: string, key: string): Promise<{ meta: ObjectSummary; stream: Readable } | undefined> {
    let out: GetObjectCommandOutput;
    try {
      out = await this.#s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (missing.has(codeOf(error) ?? '')) return undefined;
      throw new ExternalS3Error('GetObject', `${bucket}/${key}`, error);
    }
    if (!(out.Body instanceof Readable)) throw new ExternalS3Error('GetObject', `${bucket}/${key}`, { name: 'NoBody', message: 'the answer has no readable body' });
    return {
      meta: {
        key,
        size: out.ContentLength ?? 0,
        etag: unquote(out.ETag),
        lastModified: out.LastModified?.getTime() ?? 0,
        headers: out.ContentType === undefined ? {} : { 'content-type': out.ContentType },
      },
      stream: out.Body,
    };
  }

  /** Streams the body up: one PUT when small, a multipart upload (aborted on failure) otherwise. */
  async put(bucket: string, key: string, body: Readable | Buffer | string, contentType: string): Promise<ObjectSummary> {
    const counter = new ByteCounter();
    const source = typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body;
    pipeline(source, counter, () => {
      // Errors reach the upload through `counter`, which pipeline destroys with them.
    });
    try {
      const upload = new Upload({ client: this.#s3, params: { Bucket: bucket, Key: key, Body: counter, ContentType: contentType }, leavePartsOnError: false });
      const out = await upload.done();
      return { key, size: counter.bytes, etag: unquote(out.ETag), lastModified: this.#now(), headers: { 'content-type': contentType } };
    } catch (error) {
      source.destroy();
      throw new ExternalS3Error('PutObject', `${bucket}/${key}`, error);
    }
  }

  async delete(bucket: string, key: string): Promise<void> {
    try {
      await this.#s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (missing.has(codeOf(error) ?? '')) return;
      throw new ExternalS3Error('DeleteObject', `${bucket}/${key}`, error);
    }
  }

  close(): void {
    this.#s3.destroy();
    this.#sts.destroy();
  }
}
