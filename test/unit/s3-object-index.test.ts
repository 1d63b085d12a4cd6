/**
 * The object store's SQLite index against the sidecars it mirrors: usage through puts,
 * overwrites, deletes and multipart uploads; a lost index rebuilt the same; a change cut by a
 * crash between its sidecar and its index row replayed on open; crash leftovers swept; a folder
 * of the files page read as one page.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { embeddedObjects } from '../../server/storage/external.ts';
import { ObjectIndex } from '../../server/storage/object-index.ts';
import { ObjectStore } from '../../server/storage/object-store.ts';

const work = mkdtempSync(join(tmpdir(), 'atelier-s3-index-'));
after(() => rmSync(work, { recursive: true, force: true }));

const body = (size: number): NodeJS.ReadableStream[] => [Readable.from([Buffer.alloc(size, 7)])];
const info = { headers: { 'content-type': 'text/plain' }, metadata: {} };
const keysOf = async (store: ObjectStore, bucket: string): Promise<string[]> => (await store.list(bucket)).map((object) => object.key);
const sha = (key: string): string => createHash('sha256').update(key).digest('hex');

test('usage follows puts, overwrites, deletes and multipart uploads; a lost index is rebuilt the same', async () => {
  const root = join(work, 'usage');
  let store = new ObjectStore(root);
  await store.put('bucket-one', 'a', body(100), info);
  await store.put('bucket-one', 'b', body(50), info);
  await store.put('bucket-one', 'a', body(30), info);
  await store.put('bucket-two', 'x', body(1), info);
  assert.deepEqual(await store.usage('bucket-one'), { bytes: 80, objects: 2 });
  const upload = await store.createUpload('bucket-one', 'mp', info);
  const part1 = await store.putPart('bucket-one', upload.uploadId, 1, body(5 * 1024 * 1024));
  const part2 = await store.putPart('bucket-one', upload.uploadId, 2, body(10));
  await store.putPart('bucket-one', upload.uploadId, 2, body(20));
  assert.deepEqual(await store.usage('bucket-one'), { bytes: 80 + 5 * 1024 * 1024 + 20, objects: 3 }, 'parts count, a re-sent part once; the upload counts as an object');
  const aborted = await store.createUpload('bucket-one', 'gone', info);
  await store.putPart('bucket-one', aborted.uploadId, 1, body(999));
  await store.abort('bucket-one', aborted.uploadId);
  assert.deepEqual(await store.usage('bucket-one'), { bytes: 80 + 5 * 1024 * 1024 + 20, objects: 3 });
  const part2Again = (await store.listParts('bucket-one', upload.uploadId)).find((part) => part.partNumber === 2)!;
  await store.complete('bucket-one', upload.uploadId, [{ partNumber: 1, etag: part1.etag }, { partNumber: 2, etag: part2Again.etag }], 5 * 1024 * 1024);
  assert.notEqual(part2.etag, part2Again.etag);
  assert.deepEqual(await store.usage('bucket-one'), { bytes: 80 + 5 * 1024 * 1024 + 20, objects: 3 }, 'the parts became the object');
  assert.deepEqual(await store.listUploads('bucket-one'), []);
  await store.delete('bucket-one', 'b');
  await store.delete('bucket-one', 'never-was');
  const before = { keys: await keysOf(store, 'bucket-one'), usage: await store.usage('bucket-one'), other: await store.usage('bucket-two') };
  assert.deepEqual(before.keys, ['a', 'mp']);
  const pending = await store.createUpload('bucket-one', 'later', info);
  await store.putPart('bucket-one', pending.uploadId, 1, body(40));
  await store.close();

  for (const name of readdirSync(root).filter((entry) => entry.startsWith('index.db'))) unlinkSync(join(root, name));
  const messages: string[] = [];
  store = new ObjectStore(root, { log: (message) => messages.push(message) });
  assert.deepEqual(await keysOf(store, 'bucket-one'), before.keys);
  assert.deepEqual(await store.usage('bucket-one'), { bytes: before.usage.bytes + 40, objects: before.usage.objects + 1 });
  assert.deepEqual(await store.usage('bucket-two'), before.other);
  assert.deepEqual((await store.listUploads('bucket-one')).map((upload) => upload.uploadId), [pending.uploadId]);
  assert.ok(messages.some((message) => message.includes('object index built: 3 objects in 2 buckets')), messages.join(' | '));
  await store.close();
});

test('a change a crash cut between its sidecar and its index row is replayed on open', async () => {
  const root = join(work, 'crash');
  let store = new ObjectStore(root);
  await store.put('bucket', 'kept', body(10), info);
  await store.put('bucket', 'deleted', body(20), info);
  await store.close();

  // As if the process died inside a put (sidecar written, index not yet told) and inside a
  // delete (sidecar removed, index not yet told): each left only its intent.
  const index = new ObjectIndex(join(root, 'index.db'));
  index.intend('bucket', 'written');
  index.intend('bucket', 'deleted');
  index.close();
  const dir = join(root, 'buckets', 'bucket', 'objects');
  writeFileSync(join(dir, `${sha('written')}.0.data`), 'x'.repeat(30));
  writeFileSync(join(dir, `${sha('written')}.json`), JSON.stringify({ key: 'written', size: 30, etag: 'e', lastModified: 1, headers: {}, metadata: {}, data: `${sha('written')}.0.data` }));
  unlinkSync(join(dir, `${sha('deleted')}.json`));

  store = new ObjectStore(root);
  assert.deepEqual(await keysOf(store, 'bucket'), ['kept', 'written']);
  assert.deepEqual(await store.usage('bucket'), { bytes: 40, objects: 2 });
  await store.close();
  const reopened = new ObjectIndex(join(root, 'index.db'));
  assert.deepEqual(reopened.pending(), [], 'intents settled');
  reopened.close();
});

test('the crash sweep removes unreferenced data files, never an object\'s', async () => {
  const root = join(work, 'sweep');
  const store = new ObjectStore(root);
  await store.put('bucket', 'k', body(10), info);
  const dir = join(root, 'buckets', 'bucket', 'objects');
  writeFileSync(join(dir, `${sha('k')}.ffff.data`), 'orphan of k');
  writeFileSync(join(dir, `${sha('nobody')}.0.data`), 'orphan');
  await store.sweep();
  const left = readdirSync(dir).sort();
  assert.equal(left.length, 2, left.join(','));
  assert.ok(left.includes(`${sha('k')}.json`));
  const opened = await store.open('bucket', 'k');
  assert.equal(opened?.meta.size, 10);
  await opened?.file.close();
  await store.close();
});

test('a files-page folder is one page of the index: direct entries only, at most the maximum, truncated said', async () => {
  const store = new ObjectStore(join(work, 'folder'));
  const keys = [...Array.from({ length: 1003 }, (_, i) => `tp/big/f-${String(i).padStart(4, '0')}`), 'tp/a.csv', 'tp/sub/deep/x', 'top.txt'];
  for (let i = 0; i < keys.length; i += 32) await Promise.all(keys.slice(i, i + 32).map((key) => store.put('bucket', key, body(1), info)));
  const objects = embeddedObjects(store);
  const tp = await objects.folder('bucket', 'tp/', 1000);
  assert.deepEqual([tp.folders, tp.files.map((file) => file.key), tp.truncated], [['tp/big/', 'tp/sub/'], ['tp/a.csv'], false]);
  const big = await objects.folder('bucket', 'tp/big/', 1000);
  assert.equal(big.files.length, 1000);
  assert.equal(big.files.at(-1)?.key, 'tp/big/f-0999');
  assert.equal(big.truncated, true);
  await store.close();
});
