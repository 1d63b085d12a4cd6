/**
 * The additional checksums S3 clients send (`x-amz-checksum-<algorithm>`, as a header or an
 * aws-chunked trailer): CRC32 (the AWS SDKs' default), CRC32C, CRC64NVME, SHA1, SHA256.
 * Each is computed incrementally on the way to disk and compared base64 to base64.
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { StoredChecksum } from './object-store.ts';
import { element } from './xml.ts';

export interface Checksum {
  update(chunk: Buffer): void;
  /** Base64 of the big-endian digest, as S3 transmits it. */
  digest(): string;
}

export const checksumAlgorithms = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof checksumAlgorithms)[number];

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (checksumAlgorithms as readonly string[]).includes(name);
}

class Crc32 implements Checksum {
  #value = 0;
  update(chunk: Buffer): void {
    // Node's crc32 answers 0 for some empty buffers (randomBytes(0)) whatever the running value.
    if (chunk.length === 0) return;
    this.#value = crc32(chunk, this.#value);
  }
  digest(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.#value >>> 0);
    return out.toString('base64');
  }
}

const crc32cTable = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    table[i] = crc >>> 0;
  }
  return table;
})();

class Crc32c implements Checksum {
  #crc = 0xffffffff;
  update(chunk: Buffer): void {
    let crc = this.#crc;
    for (let i = 0; i < chunk.length; i++) crc = (crc >>> 8) ^ crc32cTable[(crc ^ chunk[i]!) & 0xff]!;
    this.#crc = crc;
  }
  digest(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.#crc ^ 0xffffffff) >>> 0);
    return out.toString('base64');
  }
}

/** CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5), as two 32-bit halves for speed. */
const crc64Tables = (() => {
  const poly = 0x9a6c9329ac4bc9b5n;
  const hi = new Uint32Array(256);
  const lo = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = BigInt(i);
    for (let bit = 0; bit < 8; bit++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
    hi[i] = Number(crc >> 32n);
    lo[i] = Number(crc & 0xffffffffn);
  }
  return { hi, lo };
})();

class Crc64Nvme implements Checksum {
  #hi = 0xffffffff;
  #lo = 0xffffffff;
  update(chunk: Buffer): void {
    let hi = this.#hi;
    let lo = this.#lo;
    const tableHi = crc64Tables.hi;
    const tableLo = crc64Tables.lo;
    for (let i = 0; i < chunk.length; i++) {
      const index = (lo ^ chunk[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ tableLo[index]!;
      hi = (hi >>> 8) ^ tableHi[index]!;
    }
    this.#hi = hi >>> 0;
    this.#lo = lo >>> 0;
  }
  digest(): string {
    const out = Buffer.alloc(8);
    out.writeUInt32BE((this.#hi ^ 0xffffffff) >>> 0, 0);
    out.writeUInt32BE((this.#lo ^ 0xffffffff) >>> 0, 4);
    return out.toString('base64');
  }
}

class Digest implements Checksum {
  readonly #hash: Hash;
  constructor(algorithm: string) {
    this.#hash = createHash(algorithm);
  }
  update(chunk: Buffer): void {
    this.#hash.update(chunk);
  }
  digest(): string {
    return this.#hash.digest('base64');
  }
}

export function createChecksum(algorithm: ChecksumAlgorithm): Checksum {
  switch (algorithm) {
    case 'crc32': return new Crc32();
    case 'crc32c': return new Crc32c();
    case 'crc64nvme': return new Crc64Nvme();
    case 'sha1': return new Digest('sha1');
    case 'sha256': return new Digest('sha256');
  }
}

const elementNames: Record<ChecksumAlgorithm, string> = {
  crc32: 'ChecksumCRC32',
  crc32c: 'ChecksumCRC32C',
  crc64nvme: 'ChecksumCRC64NVME',
  sha1: 'ChecksumSHA1',
  sha256: 'ChecksumSHA256',
};

/** `ChecksumCRC32`…: the element naming an algorithm's value in S3 documents. */
export function checksumElementName(algorithm: ChecksumAlgorithm): string {
  return elementNames[algorithm];
}

/** The elements announcing a stored checksum in a result document (`<ChecksumCRC32>…`, `<ChecksumType>`). */
export function checksumElements(checksum: StoredChecksum | undefined): string {
  if (!checksum?.value) return '';
  return `${element(checksumElementName(checksum.algorithm), checksum.value)}${element('ChecksumType', checksum.type)}`;
}

/** The response headers announcing a stored checksum. */
export function checksumHeaders(checksum: StoredChecksum | undefined): Record<string, string> {
  if (!checksum?.value) return {};
  return { [`x-amz-checksum-${checksum.algorithm}`]: checksum.value, 'x-amz-checksum-type': checksum.type };
}

/**
 * A multipart object's COMPOSITE checksum, as S3 computes it: the checksum of the concatenated
 * binary checksums of its parts, then `-<number of parts>`.
 */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partValues: string[]): string {
  const checksum = createChecksum(algorithm);
  for (const value of partValues) checksum.update(Buffer.from(value, 'base64'));
  return `${checksum.digest()}-${partValues.length}`;
}

/**
 * CRC combination (zlib's crc32_combine, generalised to the reflected CRCs S3 offers): the CRC of
 * A‖B from crc(A), crc(B) and B's length, without reading the bytes again. That is how a
 * FULL_OBJECT checksum of a multipart object is had from its parts' checksums; zlib exposes no
 * combine function to Node, so it is written here, on BigInt so one code serves 32 and 64 bits.
 */
const crcParameters: Partial<Record<ChecksumAlgorithm, { width: bigint; poly: bigint }>> = {
  crc32: { width: 32n, poly: 0xedb88320n },
  crc32c: { width: 32n, poly: 0x82f63b78n },
  crc64nvme: { width: 64n, poly: 0x9a6c9329ac4bc9b5n },
};

export function isCombinable(algorithm: ChecksumAlgorithm): boolean {
  return crcParameters[algorithm] !== undefined;
}

/** a·b modulo the polynomial, both in the reflected representation. */
function multiplyModP(a: bigint, b: bigint, width: bigint, poly: bigint): bigint {
  let m = 1n << (width - 1n);
  let product = 0n;
  while (m !== 0n) {
    if (a & m) product ^= b;
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ poly : b >> 1n;
  }
  return product;
}

/** x^(8·bytes) modulo the polynomial: shifting a CRC past `bytes` zero bytes. */
function shiftOperator(bytes: number, width: bigint, poly: bigint): bigint {
  let result = 1n << (width - 1n);
  let square = 1n << (width - 2n); // x^1
  let exponent = BigInt(bytes) * 8n;
  while (exponent > 0n) {
    if (exponent & 1n) result = multiplyModP(square, result, width, poly);
    square = multiplyModP(square, square, width, poly);
    exponent >>= 1n;
  }
  return result;
}

/** The FULL_OBJECT checksum of consecutive parts given their own checksums and sizes. */
export function combinedChecksum(algorithm: ChecksumAlgorithm, parts: Array<{ value: string; size: number }>): string {
  const parameters = crcParameters[algorithm];
  if (!parameters) throw new Error(`${algorithm} checksums cannot be combined`);
  const { width, poly } = parameters;
  const bytes = Number(width / 8n);
  // Parts mostly share one size: its operator is computed once.
  const operators = new Map<number, bigint>();
  let crc: bigint | undefined;
  for (const part of parts) {
    const value = BigInt(`0x${Buffer.from(part.value, 'base64').toString('hex') || '0'}`);
    if (crc === undefined) {
      crc = value;
      continue;
    }
    let operator = operators.get(part.size);
    if (operator === undefined) {
      operator = shiftOperator(part.size, width, poly);
      operators.set(part.size, operator);
    }
    crc = multiplyModP(operator, crc, width, poly) ^ value;
  }
  return Buffer.from((crc ?? 0n).toString(16).padStart(bytes * 2, '0'), 'hex').toString('base64');
}
