/**
 * ListObjects (v1) and ListObjectsV2 over an ordered key range: prefix, delimiter
 * (CommonPrefixes), max-keys and resumption after a key or a common prefix. The keys come from
 * `scan` (the index's range query), so a page costs what it returns, not the bucket's size: a
 * common prefix is emitted once and the scan jumps past every key under it. Pure otherwise, so
 * unit tests can drive it over an array.
 */

/** Keys with `lower <= key < upper` (UTF-8 bytes), in S3 order, at most `limit`. */
export type KeyScan<T extends { key: string }> = (lower: Buffer, upper: Buffer, limit: number) => T[];

export interface ListInput<T extends { key: string }> {
  scan: KeyScan<T>;
  prefix: string;
  delimiter: string;
  /** Resume strictly after this key or common prefix. */
  after: string | undefined;
  maxKeys: number;
  /** Only keys under this prefix are visible (a learner listing another's `diffusion/`). */
  only?: string | undefined;
}

export interface ListOutput<T> {
  contents: T[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned: where the next page starts. */
  last: string | undefined;
}

/** UTF-8 never holds 0xFF: a bound above every key. */
const top = Buffer.from([0xff]);

/** The smallest byte string greater than every string starting with `prefix` (`top` for ''). */
export function prefixEnd(prefix: Buffer): Buffer {
  if (prefix.length === 0) return top;
  const end = Buffer.from(prefix);
  // UTF-8 bytes are below 0xFF, so incrementing the last one never carries.
  end[end.length - 1]! += 1;
  return end;
}

/** The smallest byte string greater than `value`. */
function justAfter(value: Buffer): Buffer {
  return Buffer.concat([value, Buffer.from([0])]);
}

export function listPage<T extends { key: string }>(input: ListInput<T>): ListOutput<T> {
  const { scan, prefix, delimiter, after, maxKeys } = input;
  // listScope guarantees one of `prefix` and `only` starts with the other: the longer bounds the range.
  const range = Buffer.from(input.only !== undefined && input.only.length > prefix.length ? input.only : prefix, 'utf8');
  const upper = prefixEnd(range);
  let lower: Buffer = range;
  if (after !== undefined) {
    const resume = justAfter(Buffer.from(after, 'utf8'));
    if (Buffer.compare(resume, lower) > 0) lower = resume;
  }
  const contents: T[] = [];
  const commonPrefixes: string[] = [];
  let last: string | undefined;
  // One more than the page needs tells whether it is truncated. With a delimiter, a batch may end
  // at its first row (a common prefix, then a jump): start small after each jump, grow while
  // rows are plain keys, so a page of folders does not read a thousand keys under each.
  const full = Math.min(1000, maxKeys + 1);
  const small = Math.min(full, 16);
  let batch = delimiter ? small : full;
  for (;;) {
    const rows = scan(lower, upper, batch);
    let next: Buffer | undefined;
    for (const object of rows) {
      let entry = object.key;
      let isPrefix = false;
      if (delimiter) {
        const at = object.key.indexOf(delimiter, prefix.length);
        if (at !== -1) {
          entry = object.key.slice(0, at + delimiter.length);
          isPrefix = true;
        }
      }
      if (isPrefix && entry === after) {
        next = prefixEnd(Buffer.from(entry, 'utf8'));
        break;
      }
      if (contents.length + commonPrefixes.length >= maxKeys) return { contents, commonPrefixes, isTruncated: true, last };
      last = entry;
      if (isPrefix) {
        commonPrefixes.push(entry);
        next = prefixEnd(Buffer.from(entry, 'utf8'));
        break;
      }
      contents.push(object);
    }
    if (next === undefined) {
      if (rows.length < batch) break;
      next = justAfter(Buffer.from(rows.at(-1)!.key, 'utf8'));
      batch = Math.min(full, batch * 2);
    } else {
      batch = delimiter ? small : full;
    }
    if (Buffer.compare(next, upper) >= 0) break;
    lower = next;
  }
  return { contents, commonPrefixes, isTruncated: false, last };
}
