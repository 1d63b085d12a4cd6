/**
 * The forge's HTTP entry: `/git/<learnerId>/<repo>.git/{info/refs,git-upload-pack,git-receive-pack}`
 * (git smart HTTP). Private repositories: clone and push both need the learner's token; another
 * learner's repository answers 404, as a missing one does. A push to a missing repository of the
 * authenticated learner creates it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname } from 'node:path';
import { authenticate, authRealm, type ForgeAuthenticator } from './auth.ts';
import { defaultBackendLimits, runHttpBackend, type BackendOutcome } from './http-backend.ts';
import { remoteMessage } from './messages.ts';
import { isValidLearnerId, parseRepoName } from './names.ts';
import { refusalReport, type PushCommands } from './receive-pack.ts';
import { RepositoryStore } from './repositories.ts';
import { RequestSlots } from './slots.ts';

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

export interface ForgeLimits {
  /** Bytes one push may send. */
  maxPushBytes: number;
  /** A request with no byte either way for this long is ended. */
  idleTimeoutMs: number;
  /** A request lasting this long is ended, progressing or not. */
  maxDurationMs: number;
  /** Bytes a learner's repositories may take on disk; a push that would pass it is refused. */
  maxBytesPerLearner: number;
  /** Repositories a learner may hold (creation on push stops there). */
  maxRepositoriesPerLearner: number;
  /** git requests of one learner at once; beyond, that learner is refused (429). */
  maxRequestsPerLearner: number;
  /** git requests across the forge at once; beyond, requests wait up to maxWaitMs, then 503. */
  maxRequests: number;
  maxWaitMs: number;
}

const MiB = 1024 * 1024;

export const defaultForgeLimits: ForgeLimits = {
  maxPushBytes: defaultBackendLimits.maxBodyBytes,
  idleTimeoutMs: defaultBackendLimits.idleTimeoutMs,
  maxDurationMs: defaultBackendLimits.maxDurationMs,
  maxBytesPerLearner: 1024 * MiB,
  maxRepositoriesPerLearner: 50,
  maxRequestsPerLearner: 4,
  maxRequests: 32,
  maxWaitMs: 30_000,
};

export interface ForgeHandlerOptions {
  /** Data directory of the bare repositories (durable learner data). */
  root: string;
  auth: ForgeAuthenticator;
  limits?: Partial<ForgeLimits>;
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

/** A refusal git prints as `remote:` lines (text/plain answers to its first request). */
function refuse(res: ServerResponse, status: number, lines: string[], headers: Record<string, string> = {}): void {
  reply(res, status, lines.join('\n'), headers);
}

/** Why a push may not even start, or how many bytes it may send and what it is told beyond. */
type PushAllowance = { refused: string[] } | { maxBytes: number; beyond: string[] };

export function createForgeHandler(options: ForgeHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const store = options.store ?? new RepositoryStore(options.root);
  const limits: ForgeLimits = { ...defaultForgeLimits, ...options.limits };
  const slots = new RequestSlots({ perLearner: limits.maxRequestsPerLearner, total: limits.maxRequests, maxWaitMs: limits.maxWaitMs });
  /** Requests at work per repository: an empty repository is removed only when none is. */
  const active = new Map<string, number>();
  /** Repositories being tidied: requests for them wait (the next push may come right after git's probe). */
  const tidying = new Map<string, Promise<void>>();

  async function pushAllowance(req: IncomingMessage, route: ForgeRoute, exists: boolean): Promise<PushAllowance> {
    const { headers } = req;
    if (!exists && store.names(route.learnerId).length >= limits.maxRepositoriesPerLearner) {
      return { refused: remoteMessage('tooManyRepositories', headers, { max: limits.maxRepositoriesPerLearner }) };
    }
    const used = await store.usage.bytes(route.learnerId);
    const room = limits.maxBytesPerLearner - used;
    if (room <= 0) return { refused: remoteMessage('quotaFull', headers, { maxBytes: limits.maxBytesPerLearner, usedBytes: used }) };
    if (room < limits.maxPushBytes) return { maxBytes: room, beyond: remoteMessage('overQuota', headers, { maxBytes: limits.maxBytesPerLearner, usedBytes: used }) };
    return { maxBytes: limits.maxPushBytes, beyond: remoteMessage('pushTooLarge', headers, { maxBytes: limits.maxPushBytes }) };
  }

  /**
   * Nothing of a push that did not go through stays to count against the learner's limits: an
   * empty repository (nothing is lost: it holds no branch or tag) or the objects a killed
   * receive-pack left. Not while another request (beyond `own`, the caller's) works on it.
   */
  async function tidy(route: ForgeRoute, key: string, own: number): Promise<void> {
    if ((active.get(key) ?? 0) > own || tidying.has(key)) return;
    const done = (async () => {
      try {
        if (!(await store.removeIfEmpty(route.learnerId, route.repo))) await store.removeLeftovers(route.learnerId, route.repo);
      } catch (error) {
        options.onError?.(error, 'forge: tidying after a push');
      }
    })();
    tidying.set(key, done);
    await done;
    tidying.delete(key);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let route: ForgeRoute;
    try {
      route = parseForgeRoute(req.method ?? 'GET', req.url ?? '/');
    } catch (error) {
      if (error instanceof ForgeRouteError) return reply(res, error.status, error.message);
      throw error;
    }
    const identity = await authenticate(req, options.auth);
    if (!identity) {
      return reply(res, 401, 'Authentication required: use your personal access token (My account > Git)', {
        'WWW-Authenticate': `Basic realm="${authRealm}", charset="UTF-8"`,
      });
    }
    // Somebody else's repository: the same answer as a missing one.
    if (identity.learnerId !== route.learnerId) return reply(res, 404, 'Repository not found');
    if (route.service !== 'git-receive-pack' && !store.exists(route.learnerId, route.repo)) return reply(res, 404, 'Repository not found');

    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const slot = await slots.acquire(route.learnerId, gone.signal);
    if (slot === 'learner-busy') return refuse(res, 429, remoteMessage('tooManyRequests', req.headers, { max: limits.maxRequestsPerLearner }), { 'Retry-After': '5' });
    if (slot === 'forge-busy') return refuse(res, 503, remoteMessage('busy', req.headers), { 'Retry-After': '5' });
    const key = `${route.learnerId}/${route.repo}`;
    active.set(key, (active.get(key) ?? 0) + 1);
    const push = route.action === 'git-receive-pack';
    const started = performance.now();
    let outcome: BackendOutcome;
    let exists = false;
    try {
      if (gone.signal.aborted) return;
      await tidying.get(key);
      exists = store.exists(route.learnerId, route.repo);
      if (!exists && route.service !== 'git-receive-pack') return reply(res, 404, 'Repository not found');
      let allowance: PushAllowance | undefined;
      if (route.service === 'git-receive-pack') {
        allowance = await pushAllowance(req, route, exists);
        // git prints the answer to the first request of a push; a refusal found at the second
        // one is given in git's terms by the report below, except for a repository never made.
        if ('refused' in allowance && (route.action === 'info/refs' || !exists)) return refuse(res, 403, allowance.refused);
      }
      let projectRoot = store.learnerDir(route.learnerId);
      let pathInfo = `/${route.repo}.git/${route.action}`;
      if (!exists && route.action === 'info/refs') {
        // What a new repository advertises, without creating one for a push that may never come.
        const template = await store.emptyTemplate();
        projectRoot = dirname(template);
        pathInfo = `/${basename(template)}/info/refs`;
      } else if (!exists) {
        await store.ensureEmpty(route.learnerId, route.repo);
      }
      const refusal = allowance && ('refused' in allowance ? allowance.refused : allowance.beyond);
      outcome = await runHttpBackend({
        req,
        res,
        projectRoot,
        pathInfo,
        query: route.query,
        remoteUser: route.learnerId,
        limits: {
          maxBodyBytes: allowance === undefined ? limits.maxPushBytes : 'refused' in allowance ? 0 : allowance.maxBytes,
          idleTimeoutMs: limits.idleTimeoutMs,
          maxDurationMs: limits.maxDurationMs,
        },
        ...(push && refusal
          ? {
              refusePush: async (commands: PushCommands) => {
                // Before git hears of it, so that the learner's next push or look finds it tidy.
                await tidy(route, key, 1);
                return refusalReport(commands, refusal, remoteMessage('refused', req.headers).join(' / '));
              },
              // git sends the whole pack before it reads the answer: a push well over the limit still hears why.
              drainBytes: Math.max(limits.maxPushBytes, 64 * MiB),
            }
          : {}),
      });
    } finally {
      slot();
      active.set(key, (active.get(key) ?? 1) - 1);
      if (active.get(key) === 0) active.delete(key);
    }
    if (push) {
      store.usage.forget(route.learnerId);
      if (outcome.ok) await store.fixDefaultBranch(route.learnerId, route.repo).catch((error: unknown) => options.onError?.(error, 'forge: default branch'));
    }
    if (!outcome.ok && outcome.reason !== 'aborted' && outcome.reason !== 'too-large') options.onError?.(new Error(`git ${route.action}: ${outcome.reason ?? 'failed'}: ${outcome.stderr.trim()}`), 'forge');
    options.onRequest?.({ learnerId: route.learnerId, repo: route.repo, service: route.service, action: route.action, outcome, durationMs: performance.now() - started });
    // A failed push leaves leftovers; git's probe of a large one (a lone flush packet), an empty new repository.
    if (push && (!outcome.ok || !exists)) await tidy(route, key, 0);
  }
  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.onError?.(error, 'forge');
      reply(res, 500, 'Internal error');
    });
  };
}
