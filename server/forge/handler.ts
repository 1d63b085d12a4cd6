/**
 * The forge's HTTP entry: `/git/<learnerId>/<repo>.git/{info/refs,git-upload-pack,git-receive-pack}`
 * (git smart HTTP). Private repositories: clone and push both need the learner's token; another
 * learner's repository answers 404, as a missing one does. A push to a missing repository of the
 * authenticated learner creates it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate, authRealm, type ForgeAuthenticator } from './auth.ts';
import { runHttpBackend, type BackendLimits, type BackendOutcome } from './http-backend.ts';
import { isValidLearnerId, parseRepoName } from './names.ts';
import { RepositoryStore } from './repositories.ts';

export const forgePrefix = '/git/';

/** Does this request belong to the forge (path under /git/)? */
export function isForgeRequest(req: IncomingMessage): boolean {
  return (req.url ?? '').startsWith(forgePrefix);
}

/** The learner's forge URL: `<origin>/git/<learnerId>`; their repository is `<forgeUrl>/<repo>.git`. */
export function forgeUrlFor(origin: string, learnerId: string): string {
  return `${origin.replace(/\/+$/, '')}/git/${encodeURIComponent(learnerId)}`;
}

export type GitService = 'git-upload-pack' | 'git-receive-pack';

export interface ForgeRoute {
  learnerId: string;
  repo: string;
  /** What follows `<repo>.git`. */
  action: 'info/refs' | GitService;
  service: GitService;
  query: string;
}

export class ForgeRouteError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ForgeRouteError';
    this.status = status;
  }
}

/**
 * Parses a forge URL, decoding each segment itself (WHATWG URL parsing would turn `%2e%2e` into
 * `..` and resolve it). Throws ForgeRouteError (400 malformed, 404 unknown, 405 wrong method).
 */
export function parseForgeRoute(method: string, rawUrl: string): ForgeRoute {
  const questionMark = rawUrl.indexOf('?');
  const rawPath = questionMark < 0 ? rawUrl : rawUrl.slice(0, questionMark);
  const query = questionMark < 0 ? '' : rawUrl.slice(questionMark + 1);
  if (!rawPath.startsWith(forgePrefix)) throw new ForgeRouteError(404, 'Not found');
  let segments: string[];
  try {
    segments = rawPath.slice(forgePrefix.length).split('/').map((segment) => decodeURIComponent(segment));
  } catch {
    throw new ForgeRouteError(400, 'Bad request');
  }
  if (segments.some((segment) => segment.includes('/') || segment.includes('\\') || segment.includes('\0') || segment === '..' || segment === '.')) {
    throw new ForgeRouteError(400, 'Bad request');
  }
  const [learnerId, rawRepo, ...rest] = segments;
  if (learnerId === undefined || rawRepo === undefined || rest.length === 0) throw new ForgeRouteError(404, 'Not found');
  const repo = parseRepoName(rawRepo);
  if (!isValidLearnerId(learnerId) || !repo) throw new ForgeRouteError(400, 'Invalid repository name');
  const action = rest.join('/');
  const params = new URLSearchParams(query);
  if (action === 'info/refs') {
    if (method !== 'GET' && method !== 'HEAD') throw new ForgeRouteError(405, 'Method not allowed');
    const service = params.get('service');
    // Dumb HTTP (no service) is not offered.
    if (service !== 'git-upload-pack' && service !== 'git-receive-pack') throw new ForgeRouteError(403, 'Smart HTTP only: use git 1.6.6 or later');
    return { learnerId, repo, action, service, query: `service=${service}` };
  }
  if (action === 'git-upload-pack' || action === 'git-receive-pack') {
    if (method !== 'POST') throw new ForgeRouteError(405, 'Method not allowed');
    return { learnerId, repo, action, service: action, query: '' };
  }
  throw new ForgeRouteError(404, 'Not found');
}

export interface ForgeEvent {
  learnerId: string;
  repo: string;
  service: GitService;
  action: ForgeRoute['action'];
  outcome: BackendOutcome;
  durationMs: number;
}

export interface ForgeHandlerOptions {
  /** Data directory of the bare repositories (durable learner data). */
  root: string;
  auth: ForgeAuthenticator;
  /** Defaults: 100 MiB per push, 60 s per request. */
  limits?: Partial<BackendLimits>;
  /** Repositories a learner may hold (creation on push stops there); default 100. */
  maxRepositoriesPerLearner?: number;
  /** Concurrent git processes across the forge; more answer 503. Default 32. */
  maxConcurrent?: number;
  /** Called after each git request (metrics, logs; stderr of failures is in outcome.stderr). */
  onRequest?: (event: ForgeEvent) => void;
  onError?: (error: unknown, context: string) => void;
  /** Reuse a store (the same root) shared with the rest of the server. */
  store?: RepositoryStore;
}

function reply(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(`${message}\n`);
}

export function createForgeHandler(options: ForgeHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const store = options.store ?? new RepositoryStore(options.root);
  const maxRepositories = options.maxRepositoriesPerLearner ?? 100;
  const maxConcurrent = options.maxConcurrent ?? 32;
  let running = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let route: ForgeRoute;
    try {
      route = parseForgeRoute(req.method ?? 'GET', req.url ?? '/');
    } catch (error) {
      if (error instanceof ForgeRouteError) return reply(res, error.status, error.message);
      throw error;
    }
    const identity = authenticate(req, options.auth);
    if (!identity) {
      return reply(res, 401, 'Authentication required: use your personal access token (My account > Git)', {
        'WWW-Authenticate': `Basic realm="${authRealm}", charset="UTF-8"`,
      });
    }
    // Somebody else's repository: the same answer as a missing one.
    if (identity.learnerId !== route.learnerId) return reply(res, 404, 'Repository not found');

    if (!store.exists(route.learnerId, route.repo)) {
      if (route.service !== 'git-receive-pack') return reply(res, 404, 'Repository not found');
      const owned = await store.list(route.learnerId);
      if (owned.length >= maxRepositories) return reply(res, 403, `Repository limit reached (${maxRepositories})`);
      await store.ensureEmpty(route.learnerId, route.repo);
    }

    if (running >= maxConcurrent) return reply(res, 503, 'Forge busy, retry shortly', { 'Retry-After': '2' });
    running += 1;
    const started = performance.now();
    let outcome: BackendOutcome;
    try {
      outcome = await runHttpBackend({
        req,
        res,
        projectRoot: store.learnerDir(route.learnerId),
        pathInfo: `/${route.repo}.git/${route.action}`,
        query: route.query,
        remoteUser: route.learnerId,
        limits: options.limits,
      });
    } finally {
      running -= 1;
    }
    if (route.action === 'git-receive-pack' && outcome.ok) {
      await store.fixDefaultBranch(route.learnerId, route.repo).catch((error: unknown) => options.onError?.(error, 'forge: default branch'));
    }
    if (!outcome.ok && outcome.reason !== 'aborted') options.onError?.(new Error(`git ${route.action}: ${outcome.reason ?? 'failed'}: ${outcome.stderr.trim()}`), 'forge');
    options.onRequest?.({ learnerId: route.learnerId, repo: route.repo, service: route.service, action: route.action, outcome, durationMs: performance.now() - started });
  }

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.onError?.(error, 'forge');
      reply(res, 500, 'Internal error');
    });
  };
}
