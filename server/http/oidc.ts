/**
 * Sign-in with the school's OpenID Connect provider (optional: ATELIER_OIDC_ISSUER):
 *   GET  /auth/login?return=/fr/…  → the provider (a transaction cookie set)
 *   GET  /auth/callback            → back to `return`, signed in (server/auth/accounts.ts)
 *   POST /auth/logout              → { redirect }: the device cleared, then the provider's logout
 *   GET  /api/auth                 → { enabled, available, signedIn, account }
 * The transaction (PKCE verifier, state, nonce, return path) lives in a signed HttpOnly cookie
 * for ten minutes, on /auth/ only (on https: `__Host-` prefixed, so no sibling origin can set
 * one), and is used once. Every URL given to the provider is built
 * from the configured origin, never from Host: a login reached on another host name is first
 * sent to the configured origin, whose cookies the callback will find.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { translator, isLanguage, type Language } from '../../i18n/index.ts';
import type { LearnerStore } from '../learners/store.ts';
import { signIn, type AccountServices } from '../auth/accounts.ts';
import { ProviderUnavailable, type OidcClient, type Transaction } from '../auth/oidc.ts';
import { clearSignedIn, hostCookie, setSignedIn, signedIn } from '../auth/session.ts';
import { currentLearner, learnerCookie } from './identity.ts';
import { languageOf } from './language.ts';
import { hostOf } from './origins.ts';

export const transactionCookie = 'atelier_oidc';
const transactionMs = 10 * 60_000;

export interface OidcRoutes {
  client: OidcClient;
  /** The platform's configured origin (scheme, host, port). */
  origin: () => string;
  services: AccountServices;
}

const transactionShape = z.object({ verifier: z.string(), state: z.string(), nonce: z.string(), returnTo: z.string(), expires: z.number() }).strict();

/** A same-origin path of `origin` (path, query, fragment), or undefined. */
export function sameOriginPath(raw: unknown, origin: string): string | undefined {
  // Backslashes and control characters: browsers read `/\evil` as `//evil`.
  if (typeof raw !== 'string' || !raw.startsWith('/') || raw.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(raw) || raw.length > 1000) return undefined;
  try {
    const url = new URL(raw, origin);
    return url.origin === new URL(origin).origin ? `${url.pathname}${url.search}${url.hash}` : undefined;
  } catch {
    return undefined;
  }
}

/** The page's language from its path (/fr/…, /en/…), else the browser's. */
function languageFor(request: FastifyRequest, path: string | undefined): Language {
  const first = path?.split('/')[1];
  return isLanguage(first) ? first : languageOf(request.headers);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `Sec-Purpose: prefetch` (Chromium, Firefox), or the older `Purpose: prefetch`. */
function isPrefetch(request: FastifyRequest): boolean {
  const purpose = request.headers['sec-purpose'] ?? request.headers.purpose;
  return typeof purpose === 'string' && /(^|[\s;,])prefetch\b/i.test(purpose);
}

/** A small page saying why sign-in did not happen, with a way back. */
function problemPage(reply: FastifyReply, status: number, language: Language, key: 'unavailable' | 'failed', back: string): FastifyReply {
  const t = translator(language);
  const title = t(`signIn.${key}Title`);
  const body = `<!doctype html><html lang="${language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head><body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(t(`signIn.${key}`))}</p><p><a href="${escapeHtml(back)}">${escapeHtml(t('signIn.back'))}</a></p></main></body></html>`;
  return reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body);
}

export function registerOidcRoutes(app: FastifyInstance, store: LearnerStore, routes: OidcRoutes): void {
  const { client } = routes;
  // Path=/auth/ keeps it off every other request; `__Host-` (https) requires Path=/.
  const transactionOptions = (request: FastifyRequest) => ({ signed: true, httpOnly: true, sameSite: 'lax' as const, secure: request.protocol === 'https', path: request.protocol === 'https' ? '/' : '/auth/' });

  app.get<{ Querystring: { return?: string } }>('/auth/login', async (request, reply) => {
    const origin = routes.origin();
    if (request.host.toLowerCase() !== hostOf(origin)) return reply.redirect(`${origin}${request.url}`, 302);
    // A prefetch (Astro's router prefetches links on hover) must not start a transaction: its
    // cookie, arriving after the click's own, would replace the one the provider sends back to.
    if (isPrefetch(request)) return reply.header('cache-control', 'no-store').code(204).send();
    const returnTo = sameOriginPath(request.query.return, origin) ?? `/${languageOf(request.headers)}/`;
    const language = languageFor(request, returnTo);
    try {
      const { url, transaction } = await client.start(`${origin}/auth/callback`, returnTo);
      const value = Buffer.from(JSON.stringify({ ...transaction, expires: Date.now() + transactionMs })).toString('base64url');
      void reply.setCookie(hostCookie(request, transactionCookie), value, { ...transactionOptions(request), maxAge: transactionMs / 1000 });
      return reply.header('cache-control', 'no-store').redirect(url.href, 302);
    } catch (error) {
      if (error instanceof ProviderUnavailable) return problemPage(reply, 503, language, 'unavailable', returnTo);
      throw error;
    }
  });

  app.get('/auth/callback', async (request, reply) => {
    const origin = routes.origin();
    // Used once, whatever happens next: a replayed callback finds no transaction.
    void reply.clearCookie(hostCookie(request, transactionCookie), transactionOptions(request));
    const transaction = readTransaction(request);
    const language = languageFor(request, transaction?.returnTo);
    const back = transaction?.returnTo ?? `/${language}/`;
    // No transaction of this browser (never started here, forged, expired): login CSRF refused.
    if (!transaction) return problemPage(reply, 400, language, 'failed', back);
    if (!client.ready) return problemPage(reply, 503, language, 'unavailable', back);
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    let person;
    try {
      person = await client.finish(new URL(`${origin}/auth/callback${query}`), transaction);
    } catch (error) {
      request.log.warn({ err: error }, 'OpenID Connect callback refused');
      return problemPage(reply, 400, language, 'failed', back);
    }
    const current = await currentLearner(request, store);
    const device = current && !(await store.get(current))?.account ? current : undefined;
    const trainer = client.isTrainer(person.claims);
    const learnerId = await signIn(routes.services, person, trainer, device);
    setSignedIn(request, reply, learnerCookie, { learnerId, trainer, name: person.name });
    return reply.header('cache-control', 'no-store').redirect(transaction.returnTo, 303);
  });

  app.post('/auth/logout', async (request, reply) => {
    clearSignedIn(request, reply, learnerCookie);
    // The page's own storage and every cookie of the origin (the next person on a school PC).
    void reply.header('clear-site-data', '"cookies", "storage"');
    const home = `/${languageFor(request, sameOriginPath((request.body as { return?: unknown } | undefined)?.return, routes.origin()))}/`;
    return { redirect: client.endSessionUrl(`${routes.origin()}${home}`)?.href ?? home };
  });

  app.get('/api/auth', async (request) => {
    // currentLearner names an account's learner only while its sign-in holds.
    const id = await currentLearner(request, store);
    const account = id === undefined ? undefined : (await store.get(id))?.account;
    return {
      enabled: true,
      available: client.ready,
      signedIn: account !== undefined,
      account: account
        ? { name: account.name, email: account.email, trainer: signedIn(request)?.trainer ?? false, mergeReport: account.mergeReport ? JSON.parse(account.mergeReport) : null }
        : null,
    };
  });
}

function readTransaction(request: FastifyRequest): Transaction | undefined {
  const raw = request.cookies[hostCookie(request, transactionCookie)];
  if (!raw) return undefined;
  const { valid, value } = request.unsignCookie(raw);
  if (!valid || !value) return undefined;
  try {
    const parsed = transactionShape.safeParse(JSON.parse(Buffer.from(value, 'base64url').toString()));
    if (!parsed.success || parsed.data.expires <= Date.now()) return undefined;
    const { expires: _expires, ...transaction } = parsed.data;
    return transaction;
  } catch {
    return undefined;
  }
}

/** Without OpenID Connect: the page hides sign-in. */
export function registerNoOidcRoutes(app: FastifyInstance): void {
  app.get('/api/auth', async () => ({ enabled: false, available: false, signedIn: false, account: null }));
}
