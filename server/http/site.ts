/**
 * The built site (astro build → dist/), served from the lab server's own port:
 *   GET /        → 302 /fr/ or /en/ from Accept-Language (French by default)
 *   GET /<path>  → the file under dist/ (folders serve their index.html)
 *   anything else → dist/404.html with status 404 (JSON `not_found` under /api/)
 * Every response carries a Content-Security-Policy header: for pages, the site's (site-policy.ts);
 * for the rest, nothing at all may load.
 * Delivery: the brotli or gzip copy the build wrote beside each text file (site/build/precompress.ts)
 * when the browser accepts it (`Vary: Accept-Encoding`); hashed assets (`/_astro/…`, their name
 * changes with their content) cached for a year as immutable; everything else (pages, fonts and
 * images under their own names) revalidated on every use (`no-cache` and an ETag: a 304 when unchanged).
 */
import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { ApiError, sendError } from './errors.ts';
import { languageOf } from './language.ts';
import { sitePolicy } from './site-policy.ts';

const nonPagePolicy = "default-src 'none'; frame-ancestors 'none'";
export const immutableCaching = 'public, max-age=31536000, immutable';
export const revalidateCaching = 'no-cache';

/** Cache-Control for a file of the built site, by its path under it. */
export function cachingFor(relativePath: string): string {
  return relativePath.startsWith('_astro/') ? immutableCaching : revalidateCaching;
}

export async function registerSite(
  app: FastifyInstance,
  siteDir: string,
  mediaOrigins: (request: FastifyRequest) => string[] = () => [],
  frameOrigins: () => string[] = () => [],
): Promise<void> {
  // Per set of media and frame origins (the S3 and service origins are known once the server
  // listens): one hashing of dist/.
  const policies = new Map<string, string>();
  const policyFor = (request: FastifyRequest): string => {
    const origins = mediaOrigins(request);
    const frames = frameOrigins();
    const key = `${origins.join(' ')}|${frames.join(' ')}`;
    if (!policies.has(key)) policies.set(key, sitePolicy(siteDir, origins, frames));
    return policies.get(key)!;
  };
  app.addHook('onSend', async (request, reply) => {
    // A 304 carries no type, and its headers replace the cached page's: it keeps the page's own.
    if (reply.statusCode === 304) return;
    const type = reply.getHeader('content-type');
    void reply.header('content-security-policy', typeof type === 'string' && type.startsWith('text/html') ? policyFor(request) : nonPagePolicy);
    void reply.header('x-frame-options', 'DENY');
  });
  app.get('/', async (request, reply) => {
    return reply.header('vary', 'Accept-Language').header('cache-control', 'no-store').redirect(`/${languageOf(request.headers)}/`, 302);
  });

  const built = existsSync(siteDir);
  if (built) {
    await app.register(fastifyStatic, {
      root: siteDir,
      prefix: '/',
      index: ['index.html'],
      redirect: true,
      wildcard: true,
      preCompressed: true,
      cacheControl: false,
      // The 404 page keeps the no-store its handler set.
      setHeaders: (reply, path) => {
        if (!reply.hasHeader('cache-control')) void reply.header('cache-control', cachingFor(relative(siteDir, path).split(sep).join('/')));
      },
    });
  } else {
    app.log.warn(`no built site in ${siteDir}: run \`npm run build\`; only the API is served`);
  }
  const notFoundPage = join(siteDir, '404.html');

  app.setNotFoundHandler((request, reply) => {
    const page = request.method === 'GET' || request.method === 'HEAD';
    if (!page || request.url.startsWith('/api/') || !built || !existsSync(notFoundPage)) {
      return sendError(request, reply, new ApiError('not_found'));
    }
    return reply.code(404).header('cache-control', 'no-store').sendFile('404.html');
  });
}
