/**
 * S3 endpoint throughput and latency: PUT and GET of 1 KiB (200 ops) and 8 MiB (20 ops) objects
 * through @aws-sdk/client-s3, against writing (fsynced, as the store does) and reading the same
 * bytes straight to/from disk. Then listing a bucket of 100,000 keys (written in the on-disk
 * layout before the endpoint starts, so its object index is built from them as on a migration):
 * ListObjectsV2 pages of 1000 (continuation, folders, start-after), against the full scan of
 * every sidecar that listing did before the index, as a baseline. The endpoint runs in a child
 * process (as in the lab server, the client does not share its event loop). Prints tables;
 * cleans up after itself.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { listPage } from '../../server/storage/listing.ts';

const listedKeys = 100_000;
const listKey = (i: number): string => `list/${String(i % 100).padStart(3, '0')}/file-${String(i).padStart(6, '0')}.csv`;

if (process.argv[2] === '--serve') {
  // Child: the endpoint alone, credentials handed over on stdin. Imported here only: the parent
  // must not load node:sqlite (experimental in Node 22, it warns).
  const { createS3Handler, isS3Request, MemoryCredentialStore } = await import('../../server/storage/index.ts');
  const { ObjectStore } = await import('../../server/storage/object-store.ts');
  const [root, keyJson] = [process.argv[3]!, process.argv[4]!];
  const credentials = new MemoryCredentialStore();
  credentials.add(JSON.parse(keyJson));
  const started = performance.now();
  const store = new ObjectStore(root);
  await store.ready();
  const indexMs = performance.now() - started;
  const s3 = createS3Handler({ root, store, region: 'us-east-1', credentials, bucketExists: (bucket) => bucket === 'bench' });
  const server = createServer((req, res) => (isS3Request(req) ? s3(req, res) : res.writeHead(404).end()));
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port} ${Math.round(indexMs)}\n`));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
} else {
  await main();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Row {
  label: string;
  n: number;
  size: number;
  median: number;
  p95: number;
  mbps: number;
}

async function measure(label: string, n: number, size: number, op: (i: number) => Promise<unknown>): Promise<Row> {
  await op(0); // warm-up
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    times.push(performance.now() - t);
  }
  const total = (performance.now() - start) / 1000;
  times.sort((a, b) => a - b);
  return { label, n, size, median: percentile(times, 50), p95: percentile(times, 95), mbps: (n * size) / 1024 / 1024 / total };
}

/** Objects as the store lays them out (sidecar + data), as an older data directory holds them. */
async function writeListedObjects(objectsDir: string): Promise<void> {
  mkdirSync(objectsDir, { recursive: true });
  const writes: Array<Promise<void>> = [];
  for (let i = 0; i < listedKeys; i++) {
    const key = listKey(i);
    const hash = createHash('sha256').update(key).digest('hex');
    const meta = { key, size: 10, etag: '781e5e245d69b566979b86e28d23f2c7', lastModified: 1_700_000_000_000, headers: { 'content-type': 'text/csv' }, metadata: {}, data: `${hash}.0.data` };
    writes.push(writeFile(join(objectsDir, `${hash}.json`), JSON.stringify(meta)), writeFile(join(objectsDir, `${hash}.0.data`), '0123456789'));
    if (writes.length >= 512) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
}

/** One page the way listing worked before the object index: read every sidecar, sort, filter. */
async function fullScanPage(objectsDir: string, prefix: string, after: string | undefined): Promise<number> {
  const names = (await readdir(objectsDir)).filter((name) => name.endsWith('.json'));
  const metas: Array<{ key: string }> = [];
  for (let i = 0; i < names.length; i += 64) {
    metas.push(...(await Promise.all(names.slice(i, i + 64).map(async (name) => JSON.parse(await readFile(join(objectsDir, name), 'utf8')) as { key: string }))));
  }
  const sorted = metas.map((meta) => ({ ...meta, bytes: Buffer.from(meta.key, 'utf8') })).sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  const scan = (lower: Buffer, upper: Buffer, limit: number) => sorted.filter((meta) => Buffer.compare(meta.bytes, lower) >= 0 && Buffer.compare(meta.bytes, upper) < 0).slice(0, limit);
  return listPage({ scan, prefix, delimiter: '', after, maxKeys: 1000 }).contents.length;
}

interface ListingRow {
  label: string;
  n: number;
  median: number;
  p95: number;
}

function listingRow(label: string, times: number[]): ListingRow {
  const sorted = [...times].sort((a, b) => a - b);
  return { label, n: times.length, median: percentile(sorted, 50), p95: percentile(sorted, 95) };
}

async function timed(op: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await op();
  return performance.now() - started;
}

async function measureListing(s3: S3Client, objectsDir: string): Promise<ListingRow[]> {
  const walk: number[] = [];
  let token: string | undefined;
  let keys = 0;
  do {
    const started = performance.now();
    const page = await s3.send(new ListObjectsV2Command({ Bucket: 'bench', Prefix: 'list/', ContinuationToken: token }));
    walk.push(performance.now() - started);
    keys += page.KeyCount ?? 0;
    token = page.NextContinuationToken;
  } while (token);
  if (keys !== listedKeys) throw new Error(`listed ${keys} keys`);
  const folders: number[] = [];
  const startAfter: number[] = [];
  for (let i = 0; i < 20; i++) {
    folders.push(await timed(() => s3.send(new ListObjectsV2Command({ Bucket: 'bench', Prefix: 'list/', Delimiter: '/' }))));
    startAfter.push(await timed(() => s3.send(new ListObjectsV2Command({ Bucket: 'bench', Prefix: `list/${String(i).padStart(3, '0')}/`, StartAfter: listKey(50_000 + i) }))));
  }
  // The old way costs seconds a page: three pages (first, middle, last) are enough to see it.
  const baseline: number[] = [];
  for (const after of [undefined, listKey(50_000), listKey(99_000)]) baseline.push(await timed(() => fullScanPage(objectsDir, 'list/', after)));
  return [
    listingRow('whole bucket, continuation tokens', walk),
    listingRow('folders (prefix + delimiter, 100 prefixes)', folders),
    listingRow('start-after inside a folder', startAfter),
    listingRow('before the index: full sidecar scan per page', baseline),
  ];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-s3-bench-'));
  const credential = { accessKeyId: 'AKBENCH', secretAccessKey: randomBytes(20).toString('hex'), sessionToken: randomBytes(20).toString('hex'), expiresAt: Date.now() + 3600_000, learnerId: 'bench', bucket: 'bench' };
  const objectsDir = join(dir, 'data', 'buckets', 'bench', 'objects');
  await writeListedObjects(objectsDir);
  // node:sqlite (the object index) is still flagged experimental in Node 22.
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', import.meta.filename, '--serve', join(dir, 'data'), JSON.stringify(credential)], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const [port, indexMs] = await new Promise<number[]>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim().split(' ').map(Number)));
      child.once('exit', (code) => reject(new Error(`endpoint exited with ${code}`)));
    });
    const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: credential });
    const raw = join(dir, 'raw');
    await writeFile(join(dir, 'probe'), '');
    const rows: Array<[Row, Row]> = [];
    for (const [size, n] of [[1024, 200], [8 * 1024 * 1024, 20]] as const) {
      const body = randomBytes(size);
      const put = await measure(`PUT ${size === 1024 ? '1 KiB' : '8 MiB'}`, n, size, (i) => s3.send(new PutObjectCommand({ Bucket: 'bench', Key: `obj-${size}-${i}`, Body: body })));
      const diskWrite = await measure('disk write+fsync', n, size, (i) => writeFile(`${raw}-${size}-${i}`, body, { flush: true }));
      const get = await measure(`GET ${size === 1024 ? '1 KiB' : '8 MiB'}`, n, size, async (i) => {
        const got = await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: `obj-${size}-${i}` }));
        const bytes = await got.Body!.transformToByteArray();
        if (bytes.length !== size) throw new Error('short read');
      });
      const diskRead = await measure('disk read', n, size, (i) => readFile(`${raw}-${size}-${i}`));
      rows.push([put, diskWrite], [get, diskRead]);
    }
    const listing = await measureListing(s3, objectsDir);
    s3.destroy();
    const fmt = (value: number, digits = 2): string => value.toFixed(digits).padStart(9);
    console.log('S3 endpoint (@aws-sdk/client-s3, sequential, loopback) vs raw disk');
    console.log(`${'operation'.padEnd(12)}${'ops'.padStart(5)} ${'median ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'MiB/s'.padStart(9)} | ${'disk'.padEnd(17)}${'median ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'MiB/s'.padStart(9)} | ${'ratio (median)'.padStart(14)}`);
    for (const [s3Row, disk] of rows) {
      console.log(`${s3Row.label.padEnd(12)}${String(s3Row.n).padStart(5)} ${fmt(s3Row.median)} ${fmt(s3Row.p95)} ${fmt(s3Row.mbps, 1)} | ${disk.label.padEnd(17)}${fmt(disk.median)} ${fmt(disk.p95)} ${fmt(disk.mbps, 1)} | ${fmt(s3Row.median / disk.median, 1).padStart(13)}x`);
    }
    console.log(`\nListing ${listedKeys.toLocaleString('en')} keys (ListObjectsV2 through the SDK, pages of 1000); object index built from the sidecars at start in ${indexMs} ms`);
    console.log(`${'case'.padEnd(44)}${'pages'.padStart(6)} ${'median ms'.padStart(9)} ${'p95 ms'.padStart(9)}`);
    for (const row of listing) console.log(`${row.label.padEnd(44)}${String(row.n).padStart(6)} ${fmt(row.median)} ${fmt(row.p95)}`);
  } finally {
    child.stdin.end();
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
