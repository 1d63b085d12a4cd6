/**
 * Writes `<file>.br` and `<file>.gz` beside every text file of the built site, once, at the
 * highest levels (brotli 11, gzip 9): the server then sends those bytes as they are
 * (@fastify/static's `preCompressed`), which costs a file read per request where compressing on
 * the fly at those levels costs milliseconds of CPU per request (see test/bench/page-weight.ts).
 * Run by the `atelier-precompress` integration of astro.config.mjs after every `astro build`.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** What browsers receive as text: the types worth compressing (fonts in woff2 and images are already compressed). */
export const compressible = /\.(html|css|js|mjs|svg|json|xml|txt|webmanifest)$/;

const variants = [
  { ext: '.br', compress: (data: Buffer) => brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }) },
  { ext: '.gz', compress: (data: Buffer) => gzipSync(data, { level: 9 }) },
] as const;

/** Compresses the site under `dir`; returns how many files it did. A variant no smaller than the file is not kept. */
export function precompress(dir: string): number {
  let count = 0;
  for (const path of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const file = join(dir, path);
    // A variant left by an earlier build whose file is gone must not be served for it.
    const variant = variants.find((candidate) => path.endsWith(candidate.ext));
    if (variant) {
      if (!existsSync(file.slice(0, -variant.ext.length))) rmSync(file);
      continue;
    }
    if (!compressible.test(path) || !statSync(file).isFile()) continue;
    const data = readFileSync(file);
    for (const { ext, compress } of variants) {
      const packed = compress(data);
      if (packed.length < data.length) writeFileSync(file + ext, packed);
      else rmSync(file + ext, { force: true });
    }
    count += 1;
  }
  return count;
}
