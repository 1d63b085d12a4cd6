/**
 * Compression of dynamic responses (the API's JSON, error pages) with @fastify/compress: brotli
 * or gzip above 1 KiB, at brotli quality 4 (about gzip's CPU cost for smaller output; 11, zlib's
 * default, costs milliseconds per response). The built site is not compressed here: its files
 * are compressed once at build time (site/build/precompress.ts) and sent as they are, and the
 * plugin leaves any response that already has a Content-Encoding alone.
 * Forge (git smart HTTP compresses its own packs), S3 and socket.io never reach fastify (see
 * server/app.ts's serverFactory), so they are never compressed by us.
 */
import compress from '@fastify/compress';
import type { FastifyInstance } from 'fastify';
import { constants } from 'node:zlib';

export async function registerCompression(app: FastifyInstance): Promise<void> {
  await app.register(compress, {
    global: true,
    encodings: ['br', 'gzip'],
    threshold: 1024,
    brotliOptions: { params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT } },
    // Request bodies are never inflated: a small compressed body must not become a large one.
    globalDecompression: false,
  });
}
