/**
 * S3 endpoint throughput and latency: PUT and GET of 1 KiB (200 ops) and 8 MiB (20 ops) objects
 * through @aws-sdk/client-s3, against writing (fsynced, as the store does) and reading the same
 * bytes straight to/from disk. The endpoint runs in a child process (as in the lab server, the
 * client does not share its event loop). Prints a table; cleans up after itself.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createS3Handler, isS3Request, MemoryCredentialStore } from '../../server/storage/index.ts';

if (process.argv[2] === '--serve') {
  // Child: the endpoint alone, credentials handed over on stdin.
  const [root, keyJson] = [process.argv[3]!, process.argv[4]!];
  const credentials = new MemoryCredentialStore();
  credentials.add(JSON.parse(keyJson));
  const s3 = createS3Handler({ root, region: 'us-east-1', credentials, bucketExists: (bucket) => bucket === 'bench' });
  const server = createServer((req, res) => (isS3Request(req) ? s3(req, res) : res.writeHead(404).end()));
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-s3-bench-'));
  const credential = { accessKeyId: 'AKBENCH', secretAccessKey: randomBytes(20).toString('hex'), sessionToken: randomBytes(20).toString('hex'), expiresAt: Date.now() + 3600_000, learnerId: 'bench', bucket: 'bench' };
  const child = spawn(process.execPath, [import.meta.filename, '--serve', join(dir, 'data'), JSON.stringify(credential)], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
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
    s3.destroy();
    const fmt = (value: number, digits = 2): string => value.toFixed(digits).padStart(9);
    console.log('S3 endpoint (@aws-sdk/client-s3, sequential, loopback) vs raw disk');
    console.log(`${'operation'.padEnd(12)}${'ops'.padStart(5)} ${'median ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'MiB/s'.padStart(9)} | ${'disk'.padEnd(17)}${'median ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'MiB/s'.padStart(9)} | ${'ratio (median)'.padStart(14)}`);
    for (const [s3Row, disk] of rows) {
      console.log(`${s3Row.label.padEnd(12)}${String(s3Row.n).padStart(5)} ${fmt(s3Row.median)} ${fmt(s3Row.p95)} ${fmt(s3Row.mbps, 1)} | ${disk.label.padEnd(17)}${fmt(disk.median)} ${fmt(disk.p95)} ${fmt(disk.mbps, 1)} | ${fmt(s3Row.median / disk.median, 1).padStart(13)}x`);
    }
  } finally {
    child.stdin.end();
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
