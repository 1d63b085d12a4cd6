/**
 * Listing over a range scan (listing.ts) against the obvious reference (filter every key, skip
 * what was returned), on random keys with prefixes, delimiters, resumption and scopes; and the
 * scan is asked for a page's worth, not the bucket.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listPage, type KeyScan } from '../../server/storage/listing.ts';
import { compareKeys } from '../../server/storage/object-store.ts';

function arrayScan(keys: string[], calls: { rows: number } = { rows: 0 }): KeyScan<{ key: string }> {
  const sorted = [...keys].sort(compareKeys).map((key) => ({ key, bytes: Buffer.from(key, 'utf8') }));
  return (lower, upper, limit) => {
    const rows = sorted.filter((row) => Buffer.compare(row.bytes, lower) >= 0 && Buffer.compare(row.bytes, upper) < 0).slice(0, limit);
    calls.rows += rows.length;
    return rows.map(({ key }) => ({ key }));
  };
}

/** The listing S3 defines, computed the slow way. */
function reference(keys: string[], prefix: string, delimiter: string, after: string | undefined, maxKeys: number, only?: string) {
  const entries: Array<{ entry: string; isPrefix: boolean }> = [];
  for (const key of [...keys].sort(compareKeys)) {
    if (!key.startsWith(prefix) || (only !== undefined && !key.startsWith(only))) continue;
    const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const entry = at === -1 ? key : key.slice(0, at + delimiter.length);
    if (after !== undefined && (compareKeys(key, after) <= 0 || entry === after)) continue;
    if (entries.at(-1)?.entry === entry) continue;
    entries.push({ entry, isPrefix: at !== -1 });
  }
  const page = entries.slice(0, maxKeys);
  return {
    contents: page.filter((e) => !e.isPrefix).map((e) => e.entry),
    commonPrefixes: page.filter((e) => e.isPrefix).map((e) => e.entry),
    isTruncated: entries.length > maxKeys,
  };
}

test('listing pages through keys and common prefixes without repeats', () => {
  const scan = arrayScan(['a/1', 'a/2', 'b', 'c/x/1', 'c/y', 'd', 'é']);
  const seen: string[] = [];
  let after: string | undefined;
  for (let page = 0; page < 10; page++) {
    const out = listPage({ scan, prefix: '', delimiter: '/', after, maxKeys: 2 });
    seen.push(...[...out.contents.map((object) => object.key), ...out.commonPrefixes].sort(compareKeys));
    if (!out.isTruncated) break;
    after = out.last;
  }
  assert.deepEqual(seen, ['a/', 'b', 'c/', 'd', 'é']);
  const inside = listPage({ scan, prefix: 'c/', delimiter: '/', after: undefined, maxKeys: 1000 });
  assert.deepEqual([inside.contents.map((object) => object.key), inside.commonPrefixes], [['c/y'], ['c/x/']]);
});

test('listing agrees with the reference on random keys, prefixes, delimiters, resumption and scopes', () => {
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const alphabet = ['a', 'b', '/', '-', 'é', 'z', '.', '日'];
  const word = (length: number): string => Array.from({ length }, () => alphabet[random(alphabet.length)]).join('');
  for (let round = 0; round < 300; round++) {
    const keys = [...new Set(Array.from({ length: 1 + random(60) }, () => word(1 + random(6))))];
    const prefix = random(3) === 0 ? '' : word(random(3));
    const delimiter = ['', '/', '-', 'é'][random(4)]!;
    const maxKeys = random(8);
    const only = random(4) === 0 ? prefix + word(random(2)) : undefined;
    let after = random(3) === 0 ? word(1 + random(3)) : undefined;
    for (let page = 0; page < 100; page++) {
      const want = reference(keys, prefix, delimiter, after, maxKeys, only);
      const got = listPage({ scan: arrayScan(keys), prefix, delimiter, after, maxKeys, only });
      const context = JSON.stringify({ keys, prefix, delimiter, after, maxKeys, only });
      assert.deepEqual({ contents: got.contents.map((object) => object.key), commonPrefixes: got.commonPrefixes, isTruncated: got.isTruncated }, want, context);
      if (!got.isTruncated || maxKeys === 0) break;
      after = got.last;
    }
  }
});

test('a page reads about a page of keys, however many sit under one common prefix', () => {
  const keys = [...Array.from({ length: 5000 }, (_, i) => `big/${i}`), ...Array.from({ length: 50 }, (_, i) => `top-${String(i).padStart(2, '0')}`)];
  const calls = { rows: 0 };
  const out = listPage({ scan: arrayScan(keys, calls), prefix: '', delimiter: '/', after: undefined, maxKeys: 20 });
  assert.deepEqual(out.commonPrefixes, ['big/']);
  assert.equal(out.contents.length, 19);
  assert.ok(calls.rows < 100, `read ${calls.rows} rows for a page of 20`);
});
