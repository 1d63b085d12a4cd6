/**
 * How checks read a bucket's object: a SHA-256 of its bytes (refused beyond the cap, remembered
 * per object version so that rechecks after every write do not read it again), and its first
 * bytes as text for a regular expression.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { maxHashedBytes, maxPrefixBytes, objectPrefix, sha256OfObject } from '../../server/checks/object-bytes.ts';

/** A bucket in memory that counts the reads of each key. */
function bucket(objects: Record<string, { body: Buffer; etag?: string; lastModified?: number; size?: number }>) {
  const reads = new Map<string, number>();
  return {
    reads,
    objects: {
      head: async (_bucket: string, key: string) => {
        const object = objects[key];
        return object && { size: object.size ?? object.body.length, etag: object.etag ?? 'e1', lastModified: object.lastModified ?? 1, headers: {} };
      },
      read: async (_bucket: string, key: string) => {
        const object = objects[key];
        if (!object) return undefined;
        reads.set(key, (reads.get(key) ?? 0) + 1);
        // In chunks, as a file or network stream delivers them.
        const chunks = Array.from({ length: Math.ceil(object.body.length / 1000) }, (_, i) => object.body.subarray(i * 1000, (i + 1) * 1000));
        return { stream: Readable.from(chunks) };
      },
    },
  };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('the SHA-256 of an object is that of its bytes; a missing object has none; one over the cap is not read', async () => {
  const body = Buffer.from('departement,population\n35,246749\n'.repeat(100));
  const store = bucket({ 'tp/resultats.csv': { body }, huge: { body: Buffer.alloc(1), size: maxHashedBytes + 1 } });
  assert.equal(await sha256OfObject(store.objects, 'b', 'tp/resultats.csv'), sha256(body));
  assert.equal(await sha256OfObject(store.objects, 'b', 'nope'), undefined);
  assert.equal(await sha256OfObject(store.objects, 'b', 'huge'), 'too-large');
  assert.equal(store.reads.get('huge'), undefined, 'never read');
});

test('a hash is remembered per object version: the same version is read once, a rewritten one again', async () => {
  const objects = { 'diffusion/x.csv': { body: Buffer.from('a,b\n1,2\n'), etag: 'v1', lastModified: 10 } };
  const store = bucket(objects);
  const first = await sha256OfObject(store.objects, 'cache-test', 'diffusion/x.csv');
  assert.equal(await sha256OfObject(store.objects, 'cache-test', 'diffusion/x.csv'), first);
  assert.equal(store.reads.get('diffusion/x.csv'), 1);
  objects['diffusion/x.csv'] = { body: Buffer.from('a,b\n3,4\n'), etag: 'v1', lastModified: 11 };
  const second = await sha256OfObject(store.objects, 'cache-test', 'diffusion/x.csv');
  assert.equal(second, sha256(Buffer.from('a,b\n3,4\n')), 'a new modification time is a new version, even with the same etag');
  assert.equal(store.reads.get('diffusion/x.csv'), 2);
});

test('the prefix of an object is its first 64 KiB as text', async () => {
  const body = Buffer.concat([Buffer.from('departement,population\n'), Buffer.alloc(3 * maxPrefixBytes, 'x')]);
  const store = bucket({ big: { body }, small: { body: Buffer.from('code_commune\n') } });
  const prefix = await objectPrefix(store.objects, 'b', 'big');
  assert.equal(prefix?.length, maxPrefixBytes);
  assert.ok(prefix?.startsWith('departement,population\n'));
  assert.equal(await objectPrefix(store.objects, 'b', 'small'), 'code_commune\n');
  assert.equal(await objectPrefix(store.objects, 'b', 'nope'), undefined);
});
