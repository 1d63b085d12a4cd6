/**
 * Raw files of "My repositories", served from the S3 origin like every learner-controlled byte:
 * the site answers `GET /api/me/repos/:repo/raw?path=` with a 303 to a short-lived link signed by
 * the server (HMAC over learner, repository, path and expiry), and the S3 origin serves
 * `/_repo/<learner>/<repo>?path=…&expires=…&signature=…` as a download, inert (content-safety.ts).
 * No bucket name starts with `_`, so these paths never meet S3's.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RepositoryStore } from '../forge/index.ts';
import { BrowseBusyError } from '../forge/index.ts';
import { keepContentInert } from '../storage/content-safety.ts';
import { translator } from '../../i18n/index.ts';
import { languageOf } from './language.ts';

export const rawPrefix = '/_repo/';

/** Life of a raw link: long enough to follow it, short enough that a leaked one is soon dead. */
export const rawLinkSeconds = 300;

/** The links' key, derived from the server's cookie key (no second key file to keep). */
export function rawLinkSecret(cookieSecret: Buffer): Buffer {
  return createHmac('sha256', cookieSecret).update('atelier raw repository links').digest();
}

function signature(secret: Buffer, learnerId: string, repo: string, path: string, expires: number): string {
  return createHmac('sha256', secret).update(`raw\n${learnerId}\n${repo}\n${path}\n${expires}`).digest('base64url');
}

/** The S3-origin link to a learner's file, valid `rawLinkSeconds` from `now`. */
export function rawLink(origin: string, secret: Buffer, learnerId: string, repo: string, path: string, now = Date.now()): string {
  const expires = Math.floor(now / 1000) + rawLinkSeconds;
  const query = new URLSearchParams({ path, expires: String(expires), signature: signature(secret, learnerId, repo, path, expires) });
  return `${origin}${rawPrefix}${learnerId}/${encodeURIComponent(repo)}?${query}`;
}

type Refusal = 'method_not_allowed' | 'raw_link_invalid' | 'raw_link_expired' | 'not_found' | 'too_many_repository_views' | 'internal';

/** A plain-text refusal in the caller's language: a learner follows these links in a browser. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: Refusal, params: Record<string, number> = {}): void {
  const message = translator(languageOf(req.headers))(`errors.${code}`, params);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${message}\n`);
}

/** Serves raw links on the S3 origin; false for any other path (S3's). */
export function createRepoRawHandler(secret: Buffer, repos: RepositoryStore, now = Date.now): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith(rawPrefix)) return false;
    keepContentInert(res);
    void (async () => {
      const parsed = new URL(url, 'http://raw.invalid');
      const [learnerId = '', repo = ''] = parsed.pathname.slice(rawPrefix.length).split('/').map((part) => {
        try {
          return decodeURIComponent(part);
        } catch {
          return '';
        }
      });
      const path = parsed.searchParams.get('path') ?? '';
      const expires = Number(parsed.searchParams.get('expires'));
      const given = Buffer.from(parsed.searchParams.get('signature') ?? '');
      const expected = Buffer.from(signature(secret, learnerId, repo, path, expires));
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(req, res, 405, 'method_not_allowed');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return refuse(req, res, 403, 'raw_link_invalid');
      if (!(expires * 1000 > now())) return refuse(req, res, 403, 'raw_link_expired');
      const blob = await repos.openFile(learnerId, repo, 'HEAD', path);
      if (!blob) return refuse(req, res, 404, 'not_found');
      const name = blob.path.split('/').pop()!;
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(blob.size),
        'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
        'cache-control': 'private, no-store',
      });
      if (req.method === 'HEAD') {
        blob.close();
        return void res.end();
      }
      res.once('close', () => blob.close());
      blob.stream.pipe(res);
    })().catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else if (error instanceof BrowseBusyError) refuse(req, res, 429, 'too_many_repository_views', { max: error.max });
      else refuse(req, res, 500, 'internal');
    });
    return true;
  };
}
