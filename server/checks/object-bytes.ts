/**
 * The bytes of a bucket's object as checks compare them: a SHA-256 of the whole object (bounded:
 * a check must not read gigabytes) or its first bytes as text, for a regular expression. Hashes
 * are remembered per object version (etag, size, modification time): every write to a bucket
 * reruns its learner's s3.object checks, and a learner writing in a loop must not make the
 * server read the same large objects again and again.
 */
import { createHash } from 'node:crypto';
import type { LearnerEvidence } from './types.ts';

/** Objects larger than this are not hashed by a check. */
export const maxHashedBytes = 64 * 1024 * 1024;
/** Bytes of an object a `contains` expression is applied to. */
export const maxPrefixBytes = 64 * 1024;

type Objects = LearnerEvidence['objects'];

/** Hashes of object versions already read; the oldest is forgotten beyond this many. */
const rememberedHashes = 1_000;
const hashes = new Map<string, string>();

function remember(version: string, hash: string): string {
  hashes.delete(version);
  hashes.set(version, hash);
  if (hashes.size > rememberedHashes) hashes.delete(hashes.keys().next().value!);
  return hash;
}

/** Hex SHA-256 of the object, 'too-large' beyond maxHashedBytes, undefined when there is no such object. */
export async function sha256OfObject(objects: Objects, bucket: string, key: string): Promise<string | 'too-large' | undefined> {
  const meta = await objects.head(bucket, key);
  if (!meta) return undefined;
  if (meta.size > maxHashedBytes) return 'too-large';
  const version = [bucket, key, meta.etag, meta.size, meta.lastModified].join('\0');
  const known = hashes.get(version);
  if (known) return known;
  const object = await objects.read(bucket, key);
  if (!object) return undefined;
  const hash = createHash('sha256');
  let read = 0;
  for await (const chunk of object.stream as AsyncIterable<Buffer>) {
    read += chunk.length;
    // The object may have grown between HEAD and GET.
    if (read > maxHashedBytes) {
      object.stream.destroy();
      return 'too-large';
    }
    hash.update(chunk);
  }
  // What was read is remembered under the version HEAD saw only if it still has that size.
  const digest = hash.digest('hex');
  return read === meta.size ? remember(version, digest) : digest;
}

/** The object's first maxPrefixBytes as UTF-8 text, undefined when there is no such object. */
export async function objectPrefix(objects: Objects, bucket: string, key: string): Promise<string | undefined> {
  const object = await objects.read(bucket, key);
  if (!object) return undefined;
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of object.stream as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    length += chunk.length;
    if (length >= maxPrefixBytes) break;
  }
  object.stream.destroy();
  return Buffer.concat(chunks).subarray(0, maxPrefixBytes).toString('utf8');
}
