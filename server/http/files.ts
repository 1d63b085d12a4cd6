/**
 * "My files": the learner's own bucket from the browser, through the same object store as the
 * S3 endpoint (so what the page shows is what `mc ls` shows in the lab): the embedded one, or
 * the external S3 (reached with the lab server's admin credentials).
 *   GET    /api/me/files?prefix=        → { bucket, prefix, folders, files }
 *   GET    /api/me/files/content?key=   → 303 to a presigned download of the object on the S3 origin
 *   GET    /api/me/files/link?key=      → { url, size, contentType }: a presigned link there, for previews
 *   PUT    /api/me/files?key=           → upload (raw body); a key ending in `/` makes an empty folder
 *                                          (a zero-byte marker, which `mc ls` shows as the folder)
 *   DELETE /api/me/files?key=
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { LearnerObjects } from '../storage/external.ts';
import type { LearnerStore } from '../learners/store.ts';
import { presignedDownload } from '../storage/presign.ts';
import type { StorageInfo } from './me.ts';
import { ApiError, parseWith } from './errors.ts';
import { ensureLearner, requireLearner } from './identity.ts';
import { languageOf } from './language.ts';

/** Object keys as S3 allows them, minus what would only confuse a file browser. */
const objectKey = z
  .string()
  .min(1)
  .max(1024)
  .refine((key) => !key.includes('\0') && !key.startsWith('/') && !key.split('/').some((part) => part === '..' || part === '.'), {
    message: 'not a valid object key',
  });
const prefix = z.union([z.literal(''), objectKey.refine((value) => value.endsWith('/'), { message: 'a folder ends with /' })]);

/** Life of a download link: long enough to follow it, short enough that a leaked one is soon dead. */
export const downloadLinkSeconds = 300;

/** Entries of a folder the page shows (more: `truncated`, and `mc ls` from a lab). */
const maxFolderEntries = 1000;

/** Uploads from the page; bigger files belong in `mc cp` from a lab. */
export const maxUploadBytes = 512 * 1024 * 1024;

export function registerFileRoutes(
  app: FastifyInstance,
  store: LearnerStore,
  objects: LearnerObjects,
  storage: StorageInfo,
  onWrite: (learnerId: string) => void,
): void {
  app.get<{ Querystring: { prefix?: string } }>('/api/me/files', async (request, reply) => {
    const bucket = await ensureLearner(request, reply, store);
    const wanted = parseWith(prefix, request.query.prefix ?? '', languageOf(request.headers), 'prefix');
    // One folder, as a page of the index: never every object of a full bucket per request.
    const folder = await objects.folder(bucket, wanted, maxFolderEntries);
    // A folder's own marker (`Initiation/`, made by "New folder") is the folder, not a file in it.
    const files = folder.files.filter((object) => object.key !== wanted).map((object) => ({ key: object.key, size: object.size, lastModified: new Date(object.lastModified).toISOString() }));
    return { bucket, prefix: wanted, folders: folder.folders, files, truncated: folder.truncated };
  });

  // Learner bytes never come from the site's origin: the page's link leads to the S3 origin,
  // signed with the learner's own keys (new keys end the link too).
  const signedLink = async (request: FastifyRequest<{ Querystring: { key?: string } }>) => {
    const bucket = await requireLearner(request, store);
    const key = parseWith(objectKey, request.query.key, languageOf(request.headers), 'key');
    const meta = await objects.head(bucket, key);
    if (!meta) throw new ApiError('not_found');
    const url = await presignedDownload({
      endpoint: storage.endpointFor(request),
      region: storage.region,
      credentials: await storage.credentialsFor(bucket),
      bucket,
      key,
      expiresIn: downloadLinkSeconds,
    });
    return { url, size: meta.size, contentType: meta.headers['content-type'] ?? 'application/octet-stream' };
  };

  app.get<{ Querystring: { key?: string } }>('/api/me/files/content', async (request, reply) => {
    const { url } = await signedLink(request);
    return reply.header('cache-control', 'no-store').redirect(url, 303);
  });

  // Previews read the bytes they need (a CSV's first rows, a Parquet footer) from the S3 origin
  // with Range requests on this link: the site's origin never carries them.
  app.get<{ Querystring: { key?: string } }>('/api/me/files/link', async (request) => signedLink(request));

  // Uploads stream straight to the object store: no body parser buffers them.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.put<{ Querystring: { key?: string } }>('/api/me/files', { bodyLimit: maxUploadBytes }, async (request, reply) => {
      const bucket = await ensureLearner(request, reply, store);
      const key = parseWith(objectKey, request.query.key, languageOf(request.headers), 'key');
      const length = Number(request.headers['content-length'] ?? NaN);
      if (!(length <= maxUploadBytes)) throw new ApiError('too_large');
      if (key.endsWith('/') && length !== 0) throw new ApiError('bad_request', { field: 'key', problem: 'a folder holds no bytes' }, 'key');
      const type = request.headers['content-type'] ?? 'application/octet-stream';
      const meta = await objects.put(bucket, key, request.raw, type, length);
      onWrite(bucket);
      return reply.code(201).send({ key, size: meta.size });
    });
  });

  app.delete<{ Querystring: { key?: string } }>('/api/me/files', async (request, reply) => {
    const bucket = await requireLearner(request, store);
    const key = parseWith(objectKey, request.query.key, languageOf(request.headers), 'key');
    if (!(await objects.head(bucket, key))) throw new ApiError('not_found');
    await objects.delete(bucket, key);
    onWrite(bucket);
    return reply.code(204).send();
  });
}
