/**
 * The built site (astro build → dist/), served from the lab server's own port:
 *   GET /        → 302 /fr/ or /en/ from Accept-Language (French by default)
 *   GET /<path>  → the file under dist/ (folders serve their index.html)
 *   anything else → dist/404.html with status 404 (JSON `not_found` under /api/)
 * Every response carries a Content-Security-Policy header: for pages, the policy Astro wrote in
 * their <meta> (scripts: the site's own files and the hashed inline ones), plus what only a
 * header can say (no framing); for the rest, nothing at all may load.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { ApiError, sendError } from './errors.ts';
import { languageOf } from './language.ts';

/** Where the built site gives no policy (a site built without Astro's CSP, the tests' tiny one). */
const fallbackPolicy = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'";
const nonPagePolicy = "default-src 'none'; frame-ancestors 'none'";
const metaMarker = 'http-equiv="content-security-policy" content="';

/**
 * One policy for every page: the union of the policies of the built pages' <meta> (the same
 * directives, each page's inline-script hashes), plus frame-ancestors 'none'.
 */
export function sitePolicy(siteDir: string): string {
  const directives = new Map<string, Set<string>>();
  const pages = existsSync(siteDir) ? readdirSync(siteDir, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('.html')) : [];
  for (const page of pages) {
    const html = readFileSync(join(siteDir, page), 'utf8');
    const start = html.indexOf(metaMarker);
    if (start === -1) continue;
    const end = html.indexOf('"', start + metaMarker.length);
    for (const directive of html.slice(start + metaMarker.length, end).split(';')) {
      const [name, ...values] = directive.trim().split(/\s+/);
      if (!name) continue;
      const set = directives.get(name) ?? new Set<string>();
      for (const value of values) set.add(value);
      directives.set(name, set);
    }
  }
  const policy = directives.size === 0 ? fallbackPolicy : [...directives].map(([name, values]) => [name, ...values].join(' ')).join('; ');
  return `${policy}; frame-ancestors 'none'`;
}

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
