/**
 * The fastify application: API routes, the built site, the error handler. No listening, no
 * sockets here (server/app.ts wires those), so tests can `inject` requests into it.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Sessions } from '../labs/sessions.ts';
import { registerErrorHandler } from './errors.ts';
import { registerOriginGuard } from './auth.ts';
import { registerLabRoutes } from './labs.ts';
import { registerCheckRoutes } from './checks.ts';
import { registerSolveRoutes } from './solve.ts';
import { registerHealthRoutes, type HealthSources } from './health.ts';
import { registerSite } from './site.ts';
import type { LearnerPlatform } from '../learners/platform.ts';
import { registerIdentity } from './identity.ts';
import { registerMeRoutes } from './me.ts';
import { registerFileRoutes } from './files.ts';
import { registerRepoRoutes } from './repos.ts';
import { registerNoOidcRoutes, registerOidcRoutes, type OidcRoutes } from './oidc.ts';
import { registerMyLabRoutes } from './my-labs.ts';
import { rawLink, rawLinkSecret } from './repo-raw.ts';
import { registerCompression } from './compression.ts';
import { registerProgressRoutes } from './progress.ts';
import { registerLabServiceRoutes, type LabServiceRoutes } from './lab-services.ts';
import { registerTrainerAuth } from './trainer-auth.ts';
import { registerClassRoutes, type ClassRouteOptions } from './classes.ts';
import type { ActivityHub } from '../activity/hub.ts';

/** Request bodies are small JSON documents. */
export const bodyLimit = 64 * 1024;

export interface HttpAppOptions {
  /** Learner identity and data (account pages, durable state); labs are anonymous without it. */
  learners?: LearnerPlatform;
  /** Sign-in with the school's OpenID Connect provider (needs `learners`); anonymous learners only when absent. */
  oidc?: Omit<OidcRoutes, 'services'>;
  sessions: Sessions;
  siteDir: string;
  logger?: FastifyServerOptions['logger'];
  trustProxy?: boolean;
  terminals?: HealthSources['terminals'];
  checkTimeoutMs?: number;
  /** Where check results are told (trainers' class view, the webhook). */
  activity?: ActivityHub;
  /** The HTTP server fastify runs on (to serve the forge and S3 beside it on one port). */
  serverFactory?: FastifyServerOptions['serverFactory'];
  /** The S3 origin, where raw repository files are linked to. */
  contentOrigin?: () => string;
  /** Opening the labs' services (JupyterLab, VS Code) on their own origins. */
  labServices?: Omit<LabServiceRoutes, 'sessions' | 'learners'>;
  /** Trainers (their token) and classes; needs `learners`. */
  classes?: Omit<ClassRouteOptions, 'learners' | 'sessions'> & { trainerToken: string };
  /** More routes (learner, forge, storage…), registered after the API's and before the site's. */
  routes?: (app: FastifyInstance) => void | Promise<void>;
}

export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    trustProxy: options.trustProxy ?? false,
    ...(options.serverFactory ? { serverFactory: options.serverFactory } : {}),
    // Session ids and check ids are short; so are honest URLs.
    routerOptions: { maxParamLength: 200 },
  });

  // JSON bodies; an empty body (fetch POST without one) is no body rather than an error.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    json(request, text, done);
  });

  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'same-origin');
    if (request.url.startsWith('/api/')) void reply.header('cache-control', 'no-store');
  });

  // Before every route: the plugin attaches itself to the routes registered after it.
  await registerCompression(app);
  registerErrorHandler(app);
  registerOriginGuard(app);
  const learners = options.learners;
  if (learners) {
    const { store } = learners.context;
    await registerIdentity(app, learners.context);
    registerMeRoutes(app, store, learners.context.storage);
    registerProgressRoutes(app, store, learners.context.progress, learners.events);
    registerFileRoutes(app, store, learners.objects, learners.context.storage, (learnerId) => learners.events.emit('changed', learnerId, 's3'));
    const contentOrigin = options.contentOrigin;
    const secret = rawLinkSecret(learners.context.cookieSecret);
    registerMyLabRoutes(app, store, options.sessions);
    if (options.classes) {
      const { trainerToken, ...classes } = options.classes;
      registerTrainerAuth(app, trainerToken);
      registerClassRoutes(app, { ...classes, learners: store, sessions: options.sessions });
    }
    registerRepoRoutes(app, store, learners.repos, contentOrigin && ((learnerId, repo, path) => rawLink(contentOrigin(), secret, learnerId, repo, path)));
    if (options.oidc) {
      const sessions = options.sessions;
      const stopLabs = async (learnerId: string) => {
        await Promise.all(sessions.all().filter((session) => session.learnerId === learnerId && session.status !== 'stopped').map((session) => sessions.stop(session.id)));
      };
      const { store: classStore, live } = options.classes ?? {};
      // Open class views redraw the members a merge changed.
      const classes = classStore && live && {
        of: async (learnerId: string) => (await classStore.ofLearner(learnerId)).map((record) => record.id),
        changed: (classId: string, learnerId: string) => live.membersChanged(classId, learnerId),
      };
      registerOidcRoutes(app, store, { ...options.oidc, services: { store, repos: learners.repos, objects: learners.objects, stopLabs, ...(classes ? { classes } : {}) } });
    } else registerNoOidcRoutes(app);
  }
  registerLabRoutes(app, options.sessions, learners?.context);
  if (options.labServices) registerLabServiceRoutes(app, { ...options.labServices, sessions: options.sessions, ...(learners ? { learners: learners.context } : {}) });
  registerCheckRoutes(app, options.sessions, { timeoutMs: options.checkTimeoutMs, learners: learners?.context, ...(options.activity ? { activity: options.activity } : {}) });
  registerSolveRoutes(app, options.sessions, { checkTimeoutMs: options.checkTimeoutMs, learners: learners?.context, ...(options.activity ? { activity: options.activity } : {}) });
  registerHealthRoutes(app, { sessions: options.sessions, terminals: options.terminals });
  await options.routes?.(app);
  const storage = learners?.context.storage;
  const services = options.labServices;
  await registerSite(
    app,
    options.siteDir,
    (request) => (storage ? [storage.endpointFor(request)] : []),
    () => (services ? [services.origins().pattern] : []),
  );
  return app;
}
