/**
 * Objects on disk. A bucket is a directory; an object is a data file plus a JSON sidecar, both
 * named from the SHA-256 of the key, so no key can name a path outside its bucket whatever it
 * contains. Writes go to a temporary file (fsynced), which is renamed into place; the sidecar,
 * written the same way, is the commit point: a crash leaves either the old object or the new
 * one, never half of one (at worst an unreferenced data file, removed by `sweep`).
 *
 * Listings, usage and multipart bookkeeping read the index (`object-index.ts`, `<root>/index.db`),
 * changed with every commit and rebuilt from the sidecars when missing. Writes to a bucket with
 * limits go through its quota (`quota.ts`); uploads left incomplete past `multipartTtl` are
 * aborted by a timer, a few per tick.
 *
 *   <root>/index.db                                the index (SQLite)
 *   <root>/.tmp/…                                  in-flight writes
 *   <root>/buckets/<bucket>/objects/<sha>.json     sidecar: key, size, ETag, headers, metadata
 *   <root>/buckets/<bucket>/objects/<sha>.<id>.data
 *   <root>/buckets/<bucket>/uploads/<uploadId>/    multipart: upload.json, <n>.json, <n>.<id>.part
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ChecksumAlgorithm } from './checksums.ts';
import { S3Error } from './errors.ts';
import { listPage, prefixEnd, type ListOutput } from './listing.ts';
import { ObjectIndex, type IndexedObject, type IndexedUpload, type Usage } from './object-index.ts';
import { QuotaMeter, type BucketLimits, type Reservation } from './quota.ts';
import { periodic, type Periodic } from '../periodic.ts';

export type { IndexedObject, IndexedUpload, Usage } from './object-index.ts';
export type { BucketLimits } from './quota.ts';

/** Headers kept from the upload and answered on GET/HEAD. */
export const storedHeaders = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires'] as const;

export interface ObjectInfo {
  /** Stored response headers (content-type, …), lower-case names. */
  headers: Record<string, string>;
  /** User metadata, names without the `x-amz-meta-` prefix, lower case. */
  metadata: Record<string, string>;
  /** The additional checksum (x-amz-checksum-*); on an upload, the algorithm asked for (value ''). */
  checksum?: StoredChecksum | undefined;
  /** Multipart objects: each part's size, in order (for GET ?partNumber=). */
  parts?: number[] | undefined;
}

export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64, as S3 transmits it (`…-<parts>` for a composite checksum). */
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/** Checked against the current object (or none) at the commit point of a conditional write; throws to refuse. */
export type WriteCondition = (current: ObjectMeta | undefined) => void;

export interface ObjectMeta extends ObjectInfo {
  key: string;
  size: number;
  /** Without quotes: an MD5 in hex, or `<md5 of md5s>-<parts>` for multipart objects. */
  etag: string;
  /** Epoch ms. */
  lastModified: number;
  /** The data file's name in the objects directory. */
  data: string;
}

export interface UploadMeta extends ObjectInfo {
  uploadId: string;
  key: string;
  initiated: number;
}

export interface PartMeta {
  partNumber: number;
  etag: string;
  /** Base64 additional checksum of the part, in the upload's algorithm. */
  checksum?: string | undefined;
  size: number;
  lastModified: number;
  data: string;
}

const bucketName = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export function isValidBucketName(name: string): boolean {
  return bucketName.test(name) && !name.includes('..');
}

const uploadIdPattern = /^[0-9a-f]{32}$/;

function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function newId(): string {
  return randomBytes(16).toString('hex');
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Passes bytes through, computing their MD5 and counting them. */
class Md5Counter extends Transform {
  readonly hash: Hash = createHash('md5');
  size = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }
}

/** S3 sorts keys by their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function indexed(meta: ObjectMeta): IndexedObject {
  return { key: meta.key, size: meta.size, etag: meta.etag, lastModified: meta.lastModified, contentType: meta.headers['content-type'], data: meta.data };
}

export interface ListRequest {
  prefix: string;
  delimiter: string;
  /** Resume strictly after this key or common prefix. */
  after: string | undefined;
  maxKeys: number;
  /** Only keys under this prefix are visible. */
  only?: string | undefined;
}

export interface ObjectStoreOptions {
  /** A bucket's quota; undefined: unlimited (the trainers' shared bucket). */
  limits?: (bucket: string) => BucketLimits | undefined;
  /** Milliseconds after which an incomplete multipart upload is aborted; never when absent. */
  multipartTtl?: number;
  /** Period of that sweep (ms); 60 s when absent. */
  sweepIntervalMs?: number;
  /** Progress of an index rebuild (a data directory from before the index, or a lost index). */
  log?: (message: string) => void;
  now?: () => number;
}

/** Uploads aborted per sweep tick: bounded work, whatever piled up. */
const uploadsPerSweep = 16;
/** Sidecars read at once while rebuilding the index. */
const rebuildBatch = 256;

export class ObjectStore {
  readonly #root: string;
  readonly #tmp: string;
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #options: ObjectStoreOptions;
  readonly #now: () => number;
  #ready: Promise<void> | undefined;
  #index: Promise<ObjectIndex> | undefined;
  #quota: QuotaMeter | undefined;
  /** The multipart sweep, when uploads expire. */
  readonly #sweeper: Periodic<number> | undefined;
  #closed = false;

  constructor(root: string, options: ObjectStoreOptions = {}) {
    this.#root = root;
    this.#tmp = join(root, '.tmp');
    this.#options = options;
    this.#now = options.now ?? Date.now;
    if (options.multipartTtl !== undefined) {
      const ttl = options.multipartTtl;
      this.#sweeper = periodic(options.sweepIntervalMs ?? 60_000, () => this.#sweepExpired(ttl), (error) => options.log?.(`s3: multipart sweep failed: ${String(error)}`));
    }
  }

  /** Opens (and if needed rebuilds) the index; the server awaits it before serving. */
  async ready(): Promise<void> {
    await this.#idx();
  }

  #idx(): Promise<ObjectIndex> {
    this.#index ??= this.#openIndex();
    return this.#index;
  }

  async #openIndex(): Promise<ObjectIndex> {
    await mkdir(this.#root, { recursive: true });
    const index = new ObjectIndex(join(this.#root, 'index.db'));
    try {
      if (index.current) await this.#replay(index);
      else await this.#rebuild(index);
    } catch (error) {
      index.close();
      throw error;
    }
    this.#quota = new QuotaMeter(this.#options.limits ?? (() => undefined), (bucket) => index.usage(bucket));
    return index;
  }

  /** Settles the changes a crash interrupted, from what their sidecars say now. */
  async #replay(index: ObjectIndex): Promise<void> {
    for (const { bucket, key } of index.pending()) {
      const meta = isValidBucketName(bucket) ? await this.#readJson<ObjectMeta>(this.#sidecar(bucket, key)).catch(() => undefined) : undefined;
      if (meta?.key === key) index.put(bucket, indexed(meta));
      else index.remove(bucket, key);
    }
  }

  /** Builds the index from the sidecars and upload directories on disk. */
  async #rebuild(index: ObjectIndex): Promise<void> {
    const log = this.#options.log ?? (() => undefined);
    const started = this.#now();
    index.reset();
    const buckets = (await readdir(join(this.#root, 'buckets')).catch(() => [] as string[])).filter(isValidBucketName);
    if (buckets.length > 0) log(`s3: building the object index of ${buckets.length} buckets`);
    let objects = 0;
    let nextReport = 10_000;
    for (const bucket of buckets) {
      const dir = this.#objectsDir(bucket);
      const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.json'));
      for (let i = 0; i < names.length; i += rebuildBatch) {
        const metas = await Promise.all(names.slice(i, i + rebuildBatch).map((name) => this.#readJson<ObjectMeta>(join(dir, name)).catch(() => undefined)));
        const batch = metas.filter((meta): meta is ObjectMeta => typeof meta?.key === 'string').map((meta) => ({ bucket, object: indexed(meta) }));
        index.load({ objects: batch, uploads: [], parts: [] });
        objects += batch.length;
        if (objects >= nextReport) {
          log(`s3: object index: ${objects} objects so far`);
          nextReport += 10_000;
        }
      }
      const ids = (await readdir(join(this.#bucketDir(bucket), 'uploads')).catch(() => [] as string[])).filter((id) => uploadIdPattern.test(id));
      for (const uploadId of ids) {
        const upload = await this.upload(bucket, uploadId).catch(() => undefined);
        if (!upload) continue;
        const parts = await this.listParts(bucket, uploadId);
        index.load({
          objects: [],
          uploads: [{ bucket, uploadId, key: upload.key, initiated: upload.initiated }],
          parts: parts.map((part) => ({ bucket, uploadId, partNumber: part.partNumber, size: part.size })),
        });
      }
    }
    index.markCurrent();
    if (buckets.length > 0) log(`s3: object index built: ${objects} objects in ${buckets.length} buckets, ${this.#now() - started} ms`);
  }

  /** Stops the multipart sweep and closes the index. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#sweeper?.stop();
    const index = await this.#index?.catch(() => undefined);
    this.#index = undefined;
    index?.close();
  }

  #bucketDir(bucket: string): string {
    if (!isValidBucketName(bucket)) throw new S3Error('InvalidBucketName');
    return join(this.#root, 'buckets', bucket);
  }

  #objectsDir(bucket: string): string {
    return join(this.#bucketDir(bucket), 'objects');
  }

  #uploadDir(bucket: string, uploadId: string): string {
    if (!uploadIdPattern.test(uploadId)) throw new S3Error('NoSuchUpload');
    return join(this.#bucketDir(bucket), 'uploads', uploadId);
  }

  #sidecar(bucket: string, key: string): string {
    return join(this.#objectsDir(bucket), `${keyHash(key)}.json`);
  }

  /** The quota claim of a write (a no-op for unlimited buckets). */
  async #reserve(bucket: string, claim: { credit: number; newObject: boolean }, expected: number | undefined): Promise<Reservation> {
    await this.#idx();
    const reservation = this.#quota!.reserve(bucket, claim);
    try {
      if (expected !== undefined) reservation.expect(expected);
    } catch (error) {
      reservation.release();
      throw error;
    }
    return reservation;
  }

  /** Before the first write of this process: clear what a crash left, then make the temp dir. */
  async #tmpFile(suffix = ''): Promise<string> {
    this.#ready ??= this.sweep().then(() => mkdir(this.#tmp, { recursive: true })).then(() => undefined);
    await this.#ready;
    return join(this.#tmp, `${newId()}${suffix}`);
  }

  /** Runs `task` alone for `name` (within this process): overwrite, delete and commit of one key. */
  async #exclusive<T>(name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(() => undefined, () => undefined);
    this.#locks.set(name, settled);
    try {
      return await run;
    } finally {
      if (this.#locks.get(name) === settled) this.#locks.delete(name);
    }
  }

  /** Streams `stages` (source first) to a temporary file; returns its path, MD5 and size. */
  async #spool(stages: NodeJS.ReadableStream[]): Promise<{ path: string; md5: Buffer; size: number }> {
    const path = await this.#tmpFile();
    const counter = new Md5Counter();
    try {
      // `flush` fsyncs before close: an acknowledged object survives a power cut.
      await pipeline([...stages, counter, createWriteStream(path, { flush: true })]);
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    return { path, md5: counter.hash.digest(), size: counter.size };
  }

  async #writeJson(path: string, value: unknown): Promise<void> {
    const tmp = await this.#tmpFile('.json');
    await writeFile(tmp, JSON.stringify(value), { flush: true });
    await rename(tmp, path);
  }

  async #readJson<T>(path: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as T;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Moves a spooled file into place as `key`, commits its sidecar, then records it in the index
   * (`record`: a plain put, or the completion of a multipart upload).
   */
  async #commit(
    bucket: string,
    key: string,
    spooled: { path: string; size: number },
    etag: string,
    info: ObjectInfo,
    record: (index: ObjectIndex, object: IndexedObject) => void = (index, object) => index.put(bucket, object),
    condition?: WriteCondition,
  ): Promise<ObjectMeta> {
    const dir = this.#objectsDir(bucket);
    const hash = keyHash(key);
    const index = await this.#idx();
    await mkdir(dir, { recursive: true });
    return this.#exclusive(`${bucket}/${hash}`, async () => {
      const data = `${hash}.${newId()}.data`;
      const meta: ObjectMeta = { key, size: spooled.size, etag, lastModified: this.#now(), headers: info.headers, metadata: info.metadata, checksum: info.checksum, parts: info.parts, data };
      const sidecar = join(dir, `${hash}.json`);
      const previous = await this.#readJson<ObjectMeta>(sidecar);
      index.intend(bucket, key);
      try {
        condition?.(previous);
        await rename(spooled.path, join(dir, data));
        await this.#writeJson(sidecar, meta);
      } catch (error) {
        await rm(spooled.path, { force: true });
        await rm(join(dir, data), { force: true });
        if (previous) index.put(bucket, indexed(previous));
        else index.remove(bucket, key);
        throw error;
      }
      record(index, indexed(meta));
      if (previous && previous.data !== data) await rm(join(dir, previous.data), { force: true });
      return meta;
    });
  }

  /**
   * Writes an object from a stream (the request's verified payload, or another object), within
   * the bucket's quota; `expectedSize` (a declared length) lets an oversized write be refused
   * before any byte is read. `info` may be given as a function, called once the payload is in (a
   * checksum sent as a trailer is known only then); `condition` makes the write conditional.
   */
  async put(bucket: string, key: string, stages: NodeJS.ReadableStream[], info: ObjectInfo | (() => ObjectInfo), expectedSize?: number, condition?: WriteCondition): Promise<ObjectMeta> {
    const existing = (await this.#idx()).get(bucket, key);
    const reservation = await this.#reserve(bucket, { credit: existing?.size ?? 0, newObject: !existing }, expectedSize);
    try {
      const spooled = await this.#spool([...stages, reservation.guard()]);
      return await this.#commit(bucket, key, spooled, spooled.md5.toString('hex'), typeof info === 'function' ? info() : info, undefined, condition);
    } finally {
      reservation.release();
    }
  }

  async head(bucket: string, key: string): Promise<ObjectMeta | undefined> {
    return this.#readJson<ObjectMeta>(this.#sidecar(bucket, key));
  }

  /** The object's sidecar and an open handle on its data (stable even if overwritten meanwhile). */
  async open(bucket: string, key: string): Promise<{ meta: ObjectMeta; file: FileHandle } | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const meta = await this.head(bucket, key);
      if (!meta) return undefined;
      try {
        return { meta, file: await open(join(this.#objectsDir(bucket), meta.data), 'r') };
      } catch (error) {
        if (!isNotFound(error)) throw error;
        // Overwritten between reading the sidecar and opening the data: read again.
      }
    }
    throw new S3Error('InternalError', 'The object changed too often while being read');
  }

  /** `condition` (an S3 conditional delete) is checked against the object at the commit point. */
  async delete(bucket: string, key: string, condition?: WriteCondition): Promise<void> {
    const dir = this.#objectsDir(bucket);
    const hash = keyHash(key);
    const index = await this.#idx();
    await this.#exclusive(`${bucket}/${hash}`, async () => {
      const meta = await this.#readJson<ObjectMeta>(join(dir, `${hash}.json`));
      condition?.(meta);
      if (!meta) return;
      index.intend(bucket, key);
      await rm(join(dir, `${hash}.json`), { force: true });
      index.remove(bucket, key);
      await rm(join(dir, meta.data), { force: true });
    });
  }

  /** One page of a listing (see listing.ts), from the index. */
  async listPage(bucket: string, request: ListRequest): Promise<ListOutput<IndexedObject>> {
    this.#bucketDir(bucket);
    const index = await this.#idx();
    return listPage({ ...request, scan: (lower, upper, limit) => index.scan(bucket, lower, upper, limit) });
  }

  /** Every object of the bucket, sorted as S3 lists them. */
  async list(bucket: string): Promise<IndexedObject[]> {
    this.#bucketDir(bucket);
    return (await this.#idx()).scan(bucket, Buffer.alloc(0), prefixEnd(Buffer.alloc(0)), Number.MAX_SAFE_INTEGER);
  }

  async hasObjects(bucket: string): Promise<boolean> {
    this.#bucketDir(bucket);
    return (await this.#idx()).hasObjects(bucket);
  }

  /** Bytes (uploads in progress included) and objects the bucket holds. */
  async usage(bucket: string): Promise<Usage> {
    this.#bucketDir(bucket);
    return (await this.#idx()).usage(bucket);
  }

  // Multipart uploads.

  async createUpload(bucket: string, key: string, info: ObjectInfo): Promise<UploadMeta> {
    const uploadId = newId();
    const dir = this.#uploadDir(bucket, uploadId);
    const index = await this.#idx();
    // An upload in progress counts as an object until it completes (or is aborted or swept).
    (await this.#reserve(bucket, { credit: 0, newObject: true }, undefined)).release();
    await mkdir(dir, { recursive: true });
    const upload: UploadMeta = { uploadId, key, initiated: this.#now(), headers: info.headers, metadata: info.metadata, checksum: info.checksum };
    await this.#writeJson(join(dir, 'upload.json'), upload);
    index.addUpload({ bucket, uploadId, key, initiated: upload.initiated });
    return upload;
  }

  async upload(bucket: string, uploadId: string): Promise<UploadMeta | undefined> {
    if (!uploadIdPattern.test(uploadId)) return undefined;
    return this.#readJson<UploadMeta>(join(this.#uploadDir(bucket, uploadId), 'upload.json'));
  }

  /** Uploads in progress, by key then age. */
  async listUploads(bucket: string): Promise<IndexedUpload[]> {
    this.#bucketDir(bucket);
    return (await this.#idx()).uploads(bucket);
  }

  /** `checksum` (called once the payload is in) gives the part's additional checksum, if any. */
  async putPart(bucket: string, uploadId: string, partNumber: number, stages: NodeJS.ReadableStream[], expectedSize?: number, checksum?: () => string | undefined): Promise<PartMeta> {
    const dir = this.#uploadDir(bucket, uploadId);
    if (!(await this.upload(bucket, uploadId))) throw new S3Error('NoSuchUpload');
    const index = await this.#idx();
    const reservation = await this.#reserve(bucket, { credit: index.partSize(bucket, uploadId, partNumber), newObject: false }, expectedSize);
    try {
      const spooled = await this.#spool([...stages, reservation.guard()]);
      return await this.#exclusive(`${bucket}/upload/${uploadId}/${partNumber}`, async () => {
        const part: PartMeta = { partNumber, etag: spooled.md5.toString('hex'), checksum: checksum?.(), size: spooled.size, lastModified: this.#now(), data: `${partNumber}.${newId()}.part` };
        const sidecar = join(dir, `${partNumber}.json`);
        const previous = await this.#readJson<PartMeta>(sidecar);
        try {
          await rename(spooled.path, join(dir, part.data));
          await this.#writeJson(sidecar, part);
        } catch (error) {
          await rm(spooled.path, { force: true });
          // Aborted meanwhile: the upload directory is gone.
          if (isNotFound(error)) throw new S3Error('NoSuchUpload');
          throw error;
        }
        if (!index.putPart(bucket, uploadId, partNumber, part.size)) {
          // Aborted or swept between the write and now: nothing may count this part any more.
          await rm(dir, { recursive: true, force: true });
          throw new S3Error('NoSuchUpload');
        }
        if (previous) await rm(join(dir, previous.data), { force: true });
        return part;
      });
    } finally {
      reservation.release();
    }
  }

  async listParts(bucket: string, uploadId: string): Promise<PartMeta[]> {
    const dir = this.#uploadDir(bucket, uploadId);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => /^\d+\.json$/.test(name));
    const parts = await Promise.all(names.map((name) => this.#readJson<PartMeta>(join(dir, name))));
    return parts.filter((part): part is PartMeta => part !== undefined).sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Assembles the listed parts into the object; checks ETags, order and minimum part size. */
  /** `checksum` is the object's (computed by the caller from the parts'); `condition` makes it conditional. */
  async complete(bucket: string, uploadId: string, requested: Array<{ partNumber: number; etag: string }>, minPartSize: number, checksum?: StoredChecksum, condition?: WriteCondition): Promise<ObjectMeta> {
    const upload = await this.upload(bucket, uploadId);
    if (!upload) throw new S3Error('NoSuchUpload');
    const dir = this.#uploadDir(bucket, uploadId);
    return this.#exclusive(`${bucket}/upload/${uploadId}/complete`, async () => {
      if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part');
      // Nothing to check against the quota: the parts' bytes and the upload's place in the count
      // become the object's.
      const stored = new Map((await this.listParts(bucket, uploadId)).map((part) => [part.partNumber, part]));
      const parts: PartMeta[] = [];
      let previousNumber = 0;
      for (const [index, want] of requested.entries()) {
        if (want.partNumber <= previousNumber) throw new S3Error('InvalidPartOrder');
        previousNumber = want.partNumber;
        const part = stored.get(want.partNumber);
        if (!part || part.etag !== want.etag.replace(/"/g, '').toLowerCase()) throw new S3Error('InvalidPart');
        if (index < requested.length - 1 && part.size < minPartSize) {
          throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(part.size), MinSizeAllowed: String(minPartSize), PartNumber: String(part.partNumber) });
        }
        parts.push(part);
      }
      const output = await this.#tmpFile();
      const md5s = createHash('md5');
      let size = 0;
      try {
        const sink = createWriteStream(output, { flush: true });
        for (const part of parts) {
          md5s.update(Buffer.from(part.etag, 'hex'));
          size += part.size;
          const handle = await open(join(dir, part.data), 'r');
          await pipeline(handle.createReadStream(), sink, { end: false });
        }
        await new Promise<void>((resolve, reject) => sink.end((error?: Error | null) => (error ? reject(error) : resolve())));
      } catch (error) {
        await rm(output, { force: true });
        throw error;
      }
      const info: ObjectInfo = { headers: upload.headers, metadata: upload.metadata, checksum, parts: parts.map((part) => part.size) };
      const meta = await this.#commit(bucket, upload.key, { path: output, size }, `${md5s.digest('hex')}-${parts.length}`, info, (idx, object) => idx.completeUpload(bucket, uploadId, object), condition);
      await rm(dir, { recursive: true, force: true });
      return meta;
    });
  }

  async abort(bucket: string, uploadId: string): Promise<boolean> {
    if (!(await this.upload(bucket, uploadId))) return false;
    const index = await this.#idx();
    index.removeUpload(bucket, uploadId);
    await rm(this.#uploadDir(bucket, uploadId), { recursive: true, force: true });
    return true;
  }

  /**
   * Aborts up to `uploadsPerSweep` uploads initiated more than `multipartTtl` ago (their bytes
   * leave the quota); returns how many. The timer calls it; one sweep runs at a time.
   */
  sweepUploads(): Promise<number> {
    if (!this.#sweeper || this.#closed) return Promise.resolve(0);
    return this.#sweeper.run();
  }

  async #sweepExpired(ttl: number): Promise<number> {
    const index = await this.#idx();
    const expired = index.uploadsBefore(this.#now() - ttl, uploadsPerSweep);
    for (const upload of expired) {
      index.removeUpload(upload.bucket, upload.uploadId);
      if (isValidBucketName(upload.bucket)) await rm(this.#uploadDir(upload.bucket, upload.uploadId), { recursive: true, force: true });
    }
    return expired.length;
  }

  /**
   * Removes what a crash can leave behind: temporary files and data files no sidecar names.
   * Runs by itself before the first write; one process per data directory. The index says which
   * data files are referenced; the sidecar of any other one is read before it goes.
   */
  async sweep(): Promise<void> {
    await rm(this.#tmp, { recursive: true, force: true });
    const index = await this.#idx();
    let buckets: string[];
    try {
      buckets = await readdir(join(this.#root, 'buckets'));
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    for (const bucket of buckets.filter(isValidBucketName)) {
      const dir = this.#objectsDir(bucket);
      const names = await readdir(dir).catch(() => [] as string[]);
      const referenced = index.dataFiles(bucket);
      for (const name of names) {
        if (!name.endsWith('.data') || referenced.has(name)) continue;
        const owner = await this.#readJson<ObjectMeta>(join(dir, `${name.slice(0, name.indexOf('.'))}.json`)).catch(() => undefined);
        if (owner?.data !== name) await unlink(join(dir, name)).catch(() => undefined);
      }
    }
  }
}
