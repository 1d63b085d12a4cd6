/**
 * The built site (astro build → dist/), served from the lab server's own port:
 *   GET /        → 302 /fr/ or /en/ from Accept-Language (French by default)
 *   GET /<path>  → the file under dist/ (folders serve their index.html)
 *   anything else → dist/404.html with status 404 (JSON `not_found` under /api/)
 * Every response carries a Content-Security-Policy header: for pages, the site's (site-policy.ts);
 * for the rest, nothing at all may load.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { ApiError, sendError } from './errors.ts';
import { languageOf } from './language.ts';
import { sitePolicy } from './site-policy.ts';

const nonPagePolicy = "default-src 'none'; frame-ancestors 'none'";

export async function registerSite(app: FastifyInstance, siteDir: string): Promise<void> {
  const pagePolicy = sitePolicy(siteDir);
  app.addHook('onSend', async (_request, reply) => {
    // A 304 carries no type, and its headers replace the cached page's: it keeps the page's own.
    if (reply.statusCode === 304) return;
    const type = reply.getHeader('content-type');
    void reply.header('content-security-policy', typeof type === 'string' && type.startsWith('text/html') ? pagePolicy : nonPagePolicy);
    void reply.header('x-frame-options', 'DENY');
  });
  app.get('/', async (request, reply) => {
    return reply.header('vary', 'Accept-Language').header('cache-control', 'no-store').redirect(`/${languageOf(request.headers)}/`, 302);
  });

  const built = existsSync(siteDir);
  if (built) {
    await app.register(fastifyStatic, { root: siteDir, prefix: '/', index: ['index.html'], redirect: true, wildcard: true });
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
