/**
 * Objects on disk. A bucket is a directory; an object is a data file plus a JSON sidecar, both
 * named from the SHA-256 of the key, so no key can name a path outside its bucket whatever it
 * contains. Writes go to a temporary file (fsynced), which is renamed into place; the sidecar,
 * written the same way, is the commit point: a crash leaves either the old object or the new
 * one, never half of one (at worst an unreferenced data file, removed by `sweep`).
 *
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
import { S3Error } from './errors.ts';

/** Headers kept from the upload and answered on GET/HEAD. */
export const storedHeaders = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires'] as const;

export interface ObjectInfo {
  /** Stored response headers (content-type, …), lower-case names. */
  headers: Record<string, string>;
  /** User metadata, names without the `x-amz-meta-` prefix, lower case. */
  metadata: Record<string, string>;
}

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

export class ObjectStore {
  readonly #root: string;
  readonly #tmp: string;
  readonly #locks = new Map<string, Promise<unknown>>();
  #ready: Promise<void> | undefined;

  constructor(root: string) {
    this.#root = root;
    this.#tmp = join(root, '.tmp');
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

  /** Moves a spooled file into place as `key` and commits its sidecar. */
  async #commit(bucket: string, key: string, spooled: { path: string; size: number }, etag: string, info: ObjectInfo): Promise<ObjectMeta> {
    const dir = this.#objectsDir(bucket);
    const hash = keyHash(key);
    await mkdir(dir, { recursive: true });
    return this.#exclusive(`${bucket}/${hash}`, async () => {
      const data = `${hash}.${newId()}.data`;
      const meta: ObjectMeta = { key, size: spooled.size, etag, lastModified: Date.now(), headers: info.headers, metadata: info.metadata, data };
      const sidecar = join(dir, `${hash}.json`);
      const previous = await this.#readJson<ObjectMeta>(sidecar);
      try {
        await rename(spooled.path, join(dir, data));
        await this.#writeJson(sidecar, meta);
      } catch (error) {
        await rm(spooled.path, { force: true });
        await rm(join(dir, data), { force: true });
        throw error;
      }
      if (previous && previous.data !== data) await rm(join(dir, previous.data), { force: true });
      return meta;
    });
  }

  /** Writes an object from a stream (the request's verified payload, or another object). */
  async put(bucket: string, key: string, stages: NodeJS.ReadableStream[], info: ObjectInfo): Promise<ObjectMeta> {
    const spooled = await this.#spool(stages);
    return this.#commit(bucket, key, spooled, spooled.md5.toString('hex'), info);
  }

  async head(bucket: string, key: string): Promise<ObjectMeta | undefined> {
    return this.#readJson<ObjectMeta>(join(this.#objectsDir(bucket), `${keyHash(key)}.json`));
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

  async delete(bucket: string, key: string): Promise<void> {
    const dir = this.#objectsDir(bucket);
    const hash = keyHash(key);
    await this.#exclusive(`${bucket}/${hash}`, async () => {
      const meta = await this.#readJson<ObjectMeta>(join(dir, `${hash}.json`));
      if (!meta) return;
      await rm(join(dir, `${hash}.json`), { force: true });
      await rm(join(dir, meta.data), { force: true });
    });
  }

  /** Every object of the bucket, sorted as S3 lists them. */
  async list(bucket: string): Promise<ObjectMeta[]> {
    const dir = this.#objectsDir(bucket);
    let names: string[];
    try {
      names = (await readdir(dir)).filter((name) => name.endsWith('.json'));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const metas: ObjectMeta[] = [];
    for (let i = 0; i < names.length; i += 64) {
      const batch = await Promise.all(names.slice(i, i + 64).map((name) => this.#readJson<ObjectMeta>(join(dir, name))));
      for (const meta of batch) if (meta) metas.push(meta);
    }
    const sortKeys = new Map(metas.map((meta) => [meta, Buffer.from(meta.key, 'utf8')]));
    return metas.sort((a, b) => Buffer.compare(sortKeys.get(a)!, sortKeys.get(b)!));
  }

  async hasObjects(bucket: string): Promise<boolean> {
    try {
      return (await readdir(this.#objectsDir(bucket))).some((name) => name.endsWith('.json'));
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  // Multipart uploads.

  async createUpload(bucket: string, key: string, info: ObjectInfo): Promise<UploadMeta> {
    const uploadId = newId();
    const dir = this.#uploadDir(bucket, uploadId);
    await mkdir(dir, { recursive: true });
    const upload: UploadMeta = { uploadId, key, initiated: Date.now(), headers: info.headers, metadata: info.metadata };
    await this.#writeJson(join(dir, 'upload.json'), upload);
    return upload;
  }

  async upload(bucket: string, uploadId: string): Promise<UploadMeta | undefined> {
    if (!uploadIdPattern.test(uploadId)) return undefined;
    return this.#readJson<UploadMeta>(join(this.#uploadDir(bucket, uploadId), 'upload.json'));
  }

  async listUploads(bucket: string): Promise<UploadMeta[]> {
    let ids: string[];
    try {
      ids = await readdir(join(this.#bucketDir(bucket), 'uploads'));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const uploads = await Promise.all(ids.filter((id) => uploadIdPattern.test(id)).map((id) => this.upload(bucket, id)));
    return uploads.filter((upload): upload is UploadMeta => upload !== undefined).sort((a, b) => compareKeys(a.key, b.key) || a.initiated - b.initiated);
  }

  async putPart(bucket: string, uploadId: string, partNumber: number, stages: NodeJS.ReadableStream[]): Promise<PartMeta> {
    const dir = this.#uploadDir(bucket, uploadId);
    if (!(await this.upload(bucket, uploadId))) throw new S3Error('NoSuchUpload');
    const spooled = await this.#spool(stages);
    return this.#exclusive(`${bucket}/upload/${uploadId}/${partNumber}`, async () => {
      const part: PartMeta = { partNumber, etag: spooled.md5.toString('hex'), size: spooled.size, lastModified: Date.now(), data: `${partNumber}.${newId()}.part` };
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
      if (previous) await rm(join(dir, previous.data), { force: true });
      return part;
    });
  }

  async listParts(bucket: string, uploadId: string): Promise<PartMeta[]> {
    const dir = this.#uploadDir(bucket, uploadId);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => /^\d+\.json$/.test(name));
    const parts = await Promise.all(names.map((name) => this.#readJson<PartMeta>(join(dir, name))));
    return parts.filter((part): part is PartMeta => part !== undefined).sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Assembles the listed parts into the object; checks ETags, order and minimum part size. */
  async complete(bucket: string, uploadId: string, requested: Array<{ partNumber: number; etag: string }>, minPartSize: number): Promise<ObjectMeta> {
    const upload = await this.upload(bucket, uploadId);
    if (!upload) throw new S3Error('NoSuchUpload');
    const dir = this.#uploadDir(bucket, uploadId);
    return this.#exclusive(`${bucket}/upload/${uploadId}/complete`, async () => {
      if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part');
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
      const meta = await this.#commit(bucket, upload.key, { path: output, size }, `${md5s.digest('hex')}-${parts.length}`, upload);
      await rm(dir, { recursive: true, force: true });
      return meta;
    });
  }

  async abort(bucket: string, uploadId: string): Promise<boolean> {
    if (!(await this.upload(bucket, uploadId))) return false;
    await rm(this.#uploadDir(bucket, uploadId), { recursive: true, force: true });
    return true;
  }

  /**
   * Removes what a crash can leave behind: temporary files and data files no sidecar names.
   * Runs by itself before the first write; one process per data directory.
   */
  async sweep(): Promise<void> {
    await rm(this.#tmp, { recursive: true, force: true });
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
      const referenced = new Set<string>();
      for (const name of names.filter((entry) => entry.endsWith('.json'))) {
        const meta = await this.#readJson<ObjectMeta>(join(dir, name)).catch(() => undefined);
        if (meta) referenced.add(meta.data);
      }
      for (const name of names) {
        if (name.endsWith('.data') && !referenced.has(name)) await unlink(join(dir, name)).catch(() => undefined);
      }
    }
  }
}
