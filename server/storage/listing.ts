/**
 * ListObjects (v1) and ListObjectsV2 over a sorted key list: prefix, delimiter (CommonPrefixes),
 * max-keys and resumption after a key or a common prefix; pure, so unit tests can cover it.
 */
import { compareKeys } from './object-store.ts';

export interface ListInput<T extends { key: string }> {
  /** Every candidate object, sorted by `compareKeys`. */
  objects: T[];
  prefix: string;
  delimiter: string;
  /** Resume strictly after this key or common prefix. */
  after: string | undefined;
  maxKeys: number;
}

export interface ListOutput<T> {
  contents: T[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned: where the next page starts. */
  last: string | undefined;
}

export function listPage<T extends { key: string }>(input: ListInput<T>): ListOutput<T> {
  const { prefix, delimiter, after, maxKeys } = input;
  const contents: T[] = [];
  const commonPrefixes: string[] = [];
  let last: string | undefined;
  let isTruncated = false;
  for (const object of input.objects) {
    if (!object.key.startsWith(prefix)) continue;
    let entry = object.key;
    let isPrefix = false;
    if (delimiter) {
      const at = object.key.indexOf(delimiter, prefix.length);
      if (at !== -1) {
        entry = object.key.slice(0, at + delimiter.length);
        isPrefix = true;
      }
    }
    if (after !== undefined && (compareKeys(object.key, after) <= 0 || (isPrefix && entry === after))) continue;
    if (isPrefix && entry === last) continue;
    if (contents.length + commonPrefixes.length >= maxKeys) {
      isTruncated = true;
      break;
    }
    if (isPrefix) commonPrefixes.push(entry);
    else contents.push(object);
    last = entry;
  }
  return { contents, commonPrefixes, isTruncated, last };
}
