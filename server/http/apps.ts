/**
 * The labs' service origins (services/app-origins.ts), served on the lab server's port beside the
 * platform and S3, told apart by Host. A request there reaches the lab's service only with the
 * service origin's own cookie, which a hand-off ticket from the dock sets (services/handoff.ts),
 * and the service then asks its own password (the note's), as on the datalab. HTTP and WebSockets
 * are proxied with http-proxy-3 (the proxy JupyterHub's configurable-http-proxy uses) to the
 * service's Unix socket inside the lab, through the driver.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Sessions, Session } from '../labs/sessions.ts';
import type { AppOrigins } from '../services/app-origins.ts';
import type { Handoff, ServiceGrant } from '../services/handoff.ts';
import { LabServices, ServiceError } from '../services/lab-services.ts';
import type { OpenableKind } from '../services/catalog.ts';
import { requestHost } from './origins.ts';
import { languageOf } from './language.ts';
import { translator } from '../../i18n/index.ts';
// XML's escaping is HTML's for text and attribute values.
import { escapeXml } from '../storage/xml.ts';

/** The service origin's cookie: the grant (lab, service, learner), HMAC-signed. */
export const serviceCookie = 'atelier_service';
/** The path that trades a hand-off ticket for the cookie; no service uses it. */
export const openPath = '/.atelier/open';
/** Activity on a service keeps its lab from the idle reaper; noted at most this often. */
const touchEveryMs = 10_000;

export interface AppsGatewayOptions {
  sessions: Sessions;
  services: LabServices;
  /** Known once the server listens (the default names its port). */
  origins: () => AppOrigins;
  handoff: Handoff;
  /** The platform's origins (space-separated), the only pages allowed to frame a service (the dock). */
  platformOrigin: () => string;
  trustProxy: boolean;
  onError?: (error: unknown, context: string) => void;
}

interface Target {
  session: Session;
  kind: OpenableKind;
  /** This service's origin, as the browser names it. */
  origin: string;
}

/** The value of one cookie of a Cookie header (a plain scan: the header is bounded by Node's header limit). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Cookie header without ours: the service (learner-run code) never sees the grant. */
export function withoutCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const kept = header.split(';').filter((part) => part.split('=', 1)[0]!.trim() !== name);
  return kept.length ? kept.join(';').trim() : undefined;
}

/**
 * The service's Content-Security-Policy with our frame-ancestors: the dock frames the service,
 * which JupyterLab forbids by default ('self'); nothing else may.
 */
export function framedPolicy(policy: string | string[] | undefined, platformOrigin: string): string {
  const directives = (Array.isArray(policy) ? policy.join(';') : (policy ?? ''))
    .split(';')
    .map((directive) => directive.trim())
    .filter((directive) => directive && !/^frame-ancestors(\s|$)/i.test(directive));
  return [...directives, `frame-ancestors 'self' ${platformOrigin}`].join('; ');
}

/**
 * Cookie attributes that let a cookie live in the dock's frame: the service's origin is another
 * site than the platform's on one machine (every `*.localhost` host is a site of its own), where a
 * default (Lax) cookie is neither sent nor kept inside a frame. `Partitioned` (CHIPS) keeps it to
 * the frame under this platform, which browsers that block third-party cookies still allow, and
 * Secure is what SameSite=None requires (browsers accept it over http on `localhost` names).
 */
export const framedCookieAttributes = 'SameSite=None; Secure; Partitioned';

/** A service's own Set-Cookie (Jupyter's login, its XSRF token) made to work in the dock's frame. */
export function framedCookie(line: string): string {
  const kept = line.split(';').filter((part, index) => index === 0 || !/^\s*(samesite|secure|partitioned)\b/i.test(part));
  return `${kept.join(';')}; ${framedCookieAttributes}`;
}

/** A safe place to go after the hand-off: a path of the service's own origin. */
function nextPath(value: string | null): string {
  return value && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') && value.length <= 2048 ? value : '/';
}

export function createAppsGateway(options: AppsGatewayOptions): {
  http: (req: IncomingMessage, res: ServerResponse) => boolean;
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;
  close: () => void;
} {
  const { sessions, services, handoff } = options;
  const origins = (): AppOrigins => options.origins();
  const onError = options.onError ?? (() => {});
  const proxy = createProxyServer({ xfwd: false, proxyTimeout: 0 });
  const touched = new Map<string, number>();

  proxy.on('proxyRes', (proxyRes) => {
    proxyRes.headers['content-security-policy'] = framedPolicy(proxyRes.headers['content-security-policy'], options.platformOrigin());
    delete proxyRes.headers['x-frame-options'];
    const cookies = proxyRes.headers['set-cookie'];
    if (cookies) proxyRes.headers['set-cookie'] = cookies.map(framedCookie);
  });
  proxy.on('error', () => {
    /* answered per request below */
  });

  /** A page of ours on a service origin: inert (no script), in the learner's language. */
  const page = (req: IncomingMessage, res: ServerResponse, status: number, key: 'forbidden' | 'gone' | 'restarting' | 'failed'): void => {
    const language = languageOf(req.headers);
    const t = translator(language);
    const title = t(`apps.${key}.title`);
    const body = `<!doctype html><html lang="${language}"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeXml(title)}</title>`
      + `<body style="font:1rem/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b;background:#fff">`
      + `<h1 style="font-size:1.4rem">${escapeXml(title)}</h1><p>${escapeXml(t(`apps.${key}.body`))}</p></body></html>`;
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self' " + options.platformOrigin(),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...(key === 'restarting' ? { refresh: '3' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const targetOf = (req: IncomingMessage): Target | undefined | null => {
    const parsed = origins().parse(requestHost(req, options.trustProxy));
    if (!parsed) return undefined;
    const session = sessions.byAppId(parsed.appId);
    const kind = session ? services.serviceOf(session, parsed.kind) : undefined;
    if (!session || !kind || session.status !== 'running') return null;
    return { session, kind, origin: origins().origin(parsed.appId, kind) };
  };

  const matches = (grant: ServiceGrant | undefined, target: Target): boolean =>
    grant !== undefined && grant.session === target.session.id && grant.service === target.kind && grant.learner === (target.session.learnerId ?? '');

  /** A request from a page of another origin (another lab's service, same site) is not the learner's. */
  const foreign = (req: IncomingMessage, target: Target): boolean => {
    const origin = req.headers.origin;
    return origin !== undefined && origin.toLowerCase() !== target.origin;
  };

  const touch = (session: Session): void => {
    const now = Date.now();
    if ((touched.get(session.id) ?? 0) + touchEveryMs > now) return;
    touched.set(session.id, now);
    sessions.touch(session.id);
  };

  /**
   * Whether the request is the lab owner's, from this service's own pages (HTTP and WebSocket
   * alike); if so its activity is noted and our cookie leaves it before it reaches the service.
   */
  const admitted = (req: IncomingMessage, target: Target): boolean => {
    if (!matches(handoff.grantOf(cookieValue(req.headers.cookie, serviceCookie)), target) || foreign(req, target)) return false;
    touch(target.session);
    const cookie = withoutCookie(req.headers.cookie, serviceCookie);
    if (cookie === undefined) delete req.headers.cookie;
    else req.headers.cookie = cookie;
    return true;
  };
  sessions.on('stopped', (session) => touched.delete(session.id));

  const redeem = (req: IncomingMessage, res: ServerResponse, target: Target, url: URL): void => {
    const grant = handoff.redeem(url.searchParams.get('ticket'));
    if (!matches(grant, target)) return page(req, res, 403, 'forbidden');
    const attributes = ['Path=/', 'HttpOnly', framedCookieAttributes];
    res.writeHead(303, {
      location: nextPath(url.searchParams.get('next')),
      'set-cookie': `${serviceCookie}=${handoff.cookie(grant!)}; ${attributes.join('; ')}`,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    });
    res.end();
  };

  const http = (req: IncomingMessage, res: ServerResponse): boolean => {
    const target = targetOf(req);
    if (target === undefined) return false;
    if (target === null) {
      page(req, res, 404, 'gone');
      return true;
    }
    const url = new URL(req.url ?? '/', 'http://service');
    if (url.pathname === openPath) {
      redeem(req, res, target, url);
      return true;
    }
    if (!admitted(req, target)) {
      page(req, res, 403, 'forbidden');
      return true;
    }
    services
      .ensure(target.session, target.kind)
      .then(() => {
        proxy.web(req, res, { target: 'http://service', agent: services.agent(target.session, target.kind) }, (error) => {
          onError(error, 'service proxy');
          if (!res.headersSent) page(req, res, 503, 'restarting');
          else res.destroy();
        });
      })
      .catch((error: unknown) => {
        if (!(error instanceof ServiceError)) onError(error, 'service start');
        if (!res.headersSent) page(req, res, 503, error instanceof ServiceError && error.code === 'lab_not_running' ? 'gone' : 'failed');
      });
    return true;
  };

  const refuse = (socket: Duplex, status: string): true => {
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    return true;
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const target = targetOf(req);
    if (target === undefined) return false;
    if (target === null) return refuse(socket, '404 Not Found');
    if (!admitted(req, target)) return refuse(socket, '403 Forbidden');
    socket.on('error', () => {});
    services
      .ensure(target.session, target.kind)
      .then(() => {
        proxy.ws(req, socket, head, { target: 'http://service', agent: services.agent(target.session, target.kind) }, (error) => {
          onError(error, 'service websocket proxy');
          socket.destroy();
        });
      })
      .catch(() => refuse(socket, '503 Service Unavailable'));
    return true;
  };

  return { http, upgrade, close: () => proxy.close() };
}
