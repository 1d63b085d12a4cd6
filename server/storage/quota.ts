/**
 * Per-bucket quotas: total bytes (objects and parts of uploads in progress) and count (objects
 * and uploads in progress).
 * Usage at rest comes from the index; bytes still streaming in are reserved here as they
 * arrive, so concurrent uploads of one learner cannot together pass the limit, and an upload is
 * cut as soon as it would (not after it has filled the disk).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from './errors.ts';
import type { Usage } from './object-index.ts';

export interface BucketLimits {
  maxBytes: number;
  maxObjects: number;
}

export type QuotaKind = 'bytes' | 'objects';

const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 10737418240 → "10 GiB" (for messages people read). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : Number(value.toFixed(1))} ${units[unit]}`;
}

/**
 * A refused write: S3 clients print its code and message; the files API maps it to a
 * localized error from `kind`, `maximum` and `used`.
 */
export class QuotaExceededError extends S3Error {
  readonly kind: QuotaKind;
  readonly maximum: number;
  readonly used: number;

  constructor(kind: QuotaKind, maximum: number, used: number) {
    super(
      'QuotaExceeded',
      kind === 'bytes'
        ? `Bucket quota exceeded: at most ${formatBytes(maximum)} per bucket (multipart uploads in progress count), ${formatBytes(used)} used`
        : `Bucket quota exceeded: at most ${maximum} objects per bucket (multipart uploads in progress count), ${used} stored`,
      { Quota: kind, Maximum: String(maximum), Usage: String(used) },
    );
    this.kind = kind;
    this.maximum = maximum;
    this.used = used;
  }
}

/** One write's claim on its bucket's quota; `release` once the index counts the result (or it failed). */
export interface Reservation {
  /** Refuses at once when `bytes` (a declared length) cannot fit. */
  expect(bytes: number): void;
  /** A pass-through stage that reserves what flows through it and fails when over the quota. */
  guard(): Transform;
  release(): void;
}

const unlimited: Reservation = {
  expect: () => undefined,
  guard: () => new Transform({ transform: (chunk, _encoding, callback) => callback(null, chunk) }),
  release: () => undefined,
};

export class QuotaMeter {
  readonly #limits: (bucket: string) => BucketLimits | undefined;
  readonly #usage: (bucket: string) => Usage;
  /** Bytes and new objects of writes in flight, per bucket, and how many writes hold the entry. */
  readonly #inflight = new Map<string, Usage & { holders: number }>();

  constructor(limits: (bucket: string) => BucketLimits | undefined, usage: (bucket: string) => Usage) {
    this.#limits = limits;
    this.#usage = usage;
  }

  /**
   * Opens a reservation for a write to `bucket`. `credit`: bytes the write replaces (the object
   * or part it overwrites); `newObject`: whether it adds a key (checked against the count now).
   */
  reserve(bucket: string, { credit, newObject }: { credit: number; newObject: boolean }): Reservation {
    const limits = this.#limits(bucket);
    if (!limits) return unlimited;
    const inflight = this.#inflight.get(bucket) ?? { bytes: 0, objects: 0, holders: 0 };
    if (newObject) {
      const objects = this.#usage(bucket).objects + inflight.objects;
      if (objects >= limits.maxObjects) throw new QuotaExceededError('objects', limits.maxObjects, objects);
      inflight.objects += 1;
    }
    inflight.holders += 1;
    this.#inflight.set(bucket, inflight);
    let reserved = 0;
    let released = false;
    // What the bucket holds or is receiving besides this write (what a refusal reports)…
    const others = (): number => this.#usage(bucket).bytes + inflight.bytes - reserved;
    // …and what it would hold with this write, the bytes it replaces given back.
    const total = (): number => others() + reserved - credit;
    const release = (): void => {
      if (released) return;
      released = true;
      inflight.bytes -= reserved;
      if (newObject) inflight.objects -= 1;
      inflight.holders -= 1;
      if (inflight.holders === 0) this.#inflight.delete(bucket);
    };
    return {
      expect: (bytes) => {
        if (total() + bytes > limits.maxBytes) throw new QuotaExceededError('bytes', limits.maxBytes, others());
      },
      guard: () =>
        new Transform({
          transform: (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) => {
            if (released) return callback(null, chunk);
            reserved += chunk.length;
            inflight.bytes += chunk.length;
            if (total() > limits.maxBytes) return callback(new QuotaExceededError('bytes', limits.maxBytes, others()));
            callback(null, chunk);
          },
        }),
      release,
    };
  }
}
