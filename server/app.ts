/**
 * Starts a whole lab server in-process: driver → sessions → HTTP app (API + site) → terminal
 * sockets → listen. server/main.ts runs it from the environment; tests run it on port 0.
 */
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { loadConfig, type Config } from './config.ts';
import { loadLabs, loadLabTools } from './labs/registry.ts';
import type { LabDefinition } from './labs/schema.ts';
import { Sessions } from './labs/sessions.ts';
import type { Driver } from './drivers/driver.ts';
import { LocalDriver } from './drivers/local/local-driver.ts';
import { KubernetesDriver } from './drivers/kubernetes/kubernetes-driver.ts';
import { createCoordinator } from './cluster/index.ts';
import { PgSessionRecords } from './labs/records.ts';
import { buildHttpApp, type HttpAppOptions } from './http/app.ts';
import { attachTerminals, type TerminalServer } from './terminal/index.ts';
import { createLearnerPlatform, type LearnerPlatform } from './learners/platform.ts';
import { listenGateway } from './http/gateway.ts';
import { limitConnections, openFileLimit, serverOptions, totalConnections, type ConnectionLimits } from './http/connection-limits.ts';
import { routeByOrigin } from './http/origins.ts';
import { createRepoRawHandler, rawLinkSecret } from './http/repo-raw.ts';
import { attachAutoChecks } from './learners/auto-checks.ts';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { AppOrigins } from './services/app-origins.ts';
import { Handoff } from './services/handoff.ts';
import { LabServices } from './services/lab-services.ts';
import { createAppsGateway } from './http/apps.ts';
import { codeServerReady, vscodeWanted } from './services/code-server-install.ts';
import { gatewayCertificate, type GatewayCertificate } from './http/gateway-tls.ts';
import { TOOLS_DIR } from './drivers/local/sandbox-args.ts';
import { SqlClassStore } from './classes/sql-store.ts';
import { ClassLive } from './classes/live.ts';
import { readCourses } from './classes/course.ts';
import { loadTrainerToken } from './http/trainer-auth.ts';
import { OidcClient } from './auth/oidc.ts';
import { activityHub } from './activity/hub.ts';
import type { ActivityEmitter } from './activity/activity.ts';
import { followLabs } from './activity/labs.ts';
import { startWebhook, type WebhookDelivery, type WebhookTuning } from './webhook/index.ts';

/** Where labs find the gateway's certificate (shipped with the lab's tools, read-only). */
const gatewayCaName = 'atelier-ca.pem';
import { join } from 'node:path';

export interface StartOptions {
  /** Overrides of the configuration read from the environment (tests: port 0, a temp labs dir). */
  config?: Partial<Omit<Config, 'limits'>> & { limits?: Partial<Config['limits']> };
  /** Lab definitions; loaded from config.labsDir when absent (throws LabDefinitionError). */
  labs?: Map<string, LabDefinition>;
  /** The driver; a LocalDriver when absent. */
  driver?: Driver;
  /** fastify's logger option; pino at config.logLevel when absent. */
  logger?: FastifyServerOptions['logger'];
  /** Sessions' reaper period (ms). */
  reapInterval?: number;
  /**
   * Before listening, stop every lab a previous server process left behind in the driver's range
   * (a SIGKILLed server leaves its sandboxes running). server/main.ts sets it; in-process test
   * servers sharing a uid range with others running at the same time must not.
   */
  reapOrphans?: boolean;
  /** Upper bound of one check (ms). */
  checkTimeoutMs?: number;
  /** More routes (learner, forge, storage…): see HttpAppOptions.routes. */
  routes?: HttpAppOptions['routes'];
  /** The webhook's queue, timeouts and retries (tests); with config.webhook only. */
  webhook?: WebhookTuning & { flushMs?: number };
}

export interface RunningServer {
  /** http://localhost:<port> */
  url: string;
  /** The S3 origin (http/origins.ts): http://s3.localhost:<port> unless configured. */
  s3Origin: string;
  port: number;
  config: Config;
  app: FastifyInstance;
  sessions: Sessions;
  driver: Driver;
  terminals: TerminalServer;
  /** What happens in labs and checks, here (`local`) and on the other replicas. */
  activity: ActivityEmitter;
  /** The webhook's delivery, when ATELIER_WEBHOOK_URL is set. */
  webhook?: WebhookDelivery;
  /** Stops every lab, closes sockets and the HTTP server. Idempotent. */
  close(): Promise<void>;
}

export function createDriver(config: Config): Driver {
  switch (config.driver) {
    case 'local':
      return new LocalDriver({ uidBase: config.labUids.base, uidCount: config.labUids.count, deployment: config.deployment });
    case 'kubernetes': {
      const { server, egressCidrs, ...kubernetes } = config.kubernetes!;
      const port = kubernetes.gateway.port ?? config.labGatewayPort ?? config.port;
      return new KubernetesDriver({
        ...kubernetes,
        deployment: config.deployment,
        maxLifetimeMs: config.limits.maxLifetime,
        // Labs may reach this server's pods on the gateway port only, and DNS.
        ...(server ? { networkPolicy: { server: { ...server, port }, ...(egressCidrs ? { egressCidrs } : {}) } } : {}),
      });
    }
  }
}

/**
 * Stops every lab of this deployment the driver finds, its own or a previous process's, but those
 * of live sessions (`keep`, by handle id: other replicas serve them); how many there were.
 */
export async function reapOrphans(driver: Driver, keep: ReadonlySet<string> = new Set()): Promise<number> {
  const labs = (await driver.list()).filter((handle) => !keep.has(handle.id));
  await Promise.all(labs.map((handle) => driver.stop(handle)));
  return labs.length;
}

export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const base = loadConfig(process.env);
  const config: Config = { ...base, ...options.config, limits: { ...base.limits, ...options.config?.limits } };
  const labs = options.labs ?? loadLabs(config.labsDir);
  const ownDriver = options.driver === undefined;
  const driver = options.driver ?? createDriver(config);
  const logger = options.logger ?? { level: config.logLevel };

  let app: FastifyInstance | undefined;
  let port = config.port;
  // TLS on the lab gateway (https://$AWS_S3_ENDPOINT in labs); without openssl, plain HTTP only.
  let gatewayTls: GatewayCertificate | undefined;
  try {
    gatewayTls = gatewayCertificate(join(config.dataDir, 'keys'));
  } catch (error) {
    process.stderr.write(`atelier: no TLS on the lab gateway (${(error as Error).message.split('\n')[0]}): labs reach S3 over http:// only\n`);
  }
  const gatewaySocket = join(config.dataDir, 'run', 'gateway.sock');
  let gatewayReady = false;
  // Replicas share one PostgreSQL: its bus and leadership, and the sessions' rows; alone, this process.
  const coordinator = await createCoordinator({ databaseUrl: config.databaseUrl, deployment: config.deployment, onError: (error, context) => app?.log.error({ err: error }, context) });
  const activity = activityHub(coordinator, (error, context) => app?.log.error({ err: error }, context));
  const sessionRecords = config.databaseUrl === undefined ? undefined : new PgSessionRecords(config.databaseUrl);
  const sessions = new Sessions({
    ...(sessionRecords ? { replication: { records: sessionRecords, bus: coordinator } } : {}),
    driver,
    labs,
    limits: config.limits,
    poolMax: config.poolMax,
    reapInterval: options.reapInterval,
    onError: (error, context) => app?.log.error({ err: error }, context),
    log: () => app?.log,
    gateway: () => (gatewayReady ? { socketPath: gatewaySocket, port } : undefined),
    tools: { ...loadLabTools(config.labsDir), ...(gatewayTls ? { [gatewayCaName]: gatewayTls.cert } : {}) },
  });
  const unfollowLabs = followLabs(sessions, activity);
  // The S3 origin (learner bytes): configured, or s3.localhost on the port listened on. With an
  // external S3 it serves raw repository files only.
  let contentOrigin = config.s3Origin ?? `http://s3.localhost:${port}`;
  // VS Code is offered where setup installed it (and ATELIER_VSCODE is not off).
  const vscode = vscodeWanted() && codeServerReady();
  const platform: LearnerPlatform = await createLearnerPlatform({
    installed: (kind) => kind !== 'vscode' || vscode,
    ...(gatewayTls ? { caBundle: `${TOOLS_DIR}/${gatewayCaName}` } : {}),
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    secretKeyFile: config.secretKeyFile,
    coordinator,
    labsDir: config.labsDir,
    labs,
    driver,
    region: config.s3Region,
    labSideOrigin: () => driver.gatewayOrigin(port),
    log: (message, error) => app?.log.error({ err: error }, message),
    s3: config.s3,
    s3Limits: config.s3Limits,
    // The object index may be built before fastify's logger exists: say so on stderr then.
    info: (message) => (app ? app.log.info(message) : process.stderr.write(`atelier: ${message}\n`)),
    runningLabs: () => sessions.all(),
    contentOrigin: () => contentOrigin,
    s3CredentialTtlMs: config.s3CredentialTtl,
    presignMaxMs: config.s3PresignMaxExpiry,
    anonymousTtlMs: config.learners.anonymousTtl,
    newLearnersPerHour: config.learners.newLearnersPerHour,
    forgeLimits: config.forge,
    siteDir: config.siteDir,
  });
  // Classes live in the learner database, whose store made their tables.
  const classStore = config.databaseUrl
    ? SqlClassStore.postgres(config.databaseUrl, (error) => app?.log.error({ err: error }, 'class store: idle connection'))
    : SqlClassStore.sqlite(join(config.dataDir, 'learners.db'));
  const classLive = new ClassLive({
    store: classStore,
    coordinator,
    learnerEvents: platform.events,
    sessions,
    activity: activity.events,
    onError: (error, context) => app?.log.error({ err: error }, context),
  });
  const trainer = loadTrainerToken(config.trainerToken, join(config.dataDir, 'keys'));
  if (config.trainerToken === undefined) process.stderr.write(`atelier: trainers sign in on /fr/trainer/ with the token in ${trainer.file}\n`);
  // The labs' services (JupyterLab, VS Code), each on an origin of its own under the apps domain.
  let appOrigins = new AppOrigins(config.appsOrigin ?? `http://*.apps.atelier.localhost:${port}`);
  const labServices = new LabServices(sessions);
  const handoff = new Handoff(platform.context.cookieSecret ?? randomBytes(32));
  // The pages that may frame a service: the configured origin, or this machine's two names.
  let platformOrigin = config.origin ?? `http://atelier.localhost:${port} http://localhost:${port}`;
  const apps = createAppsGateway({
    sessions,
    services: labServices,
    origins: () => appOrigins,
    handoff,
    platformOrigin: () => platformOrigin,
    trustProxy: config.trustProxy,
    onError: (error, context) => app?.log.warn({ err: error }, context),
  });
  // Sign-in: discovery starts now and retries on its own; the provider's URLs use this origin.
  const oidc = config.oidc && new OidcClient(config.oidc, (message, error) => (app ? app.log.warn({ err: error }, message) : process.stderr.write(`atelier: ${message}\n`)));
  let terminals: TerminalServer | undefined;
  const connectionLimits: ConnectionLimits = {
    ...config.connections,
    total: totalConnections(config.connections.total, openFileLimit()),
    trustProxy: config.trustProxy,
  };
  app = await buildHttpApp({
    sessions,
    siteDir: config.siteDir,
    logger,
    trustProxy: config.trustProxy,
    terminals: () => terminals?.stats() ?? { shells: 0, sockets: 0 },
    checkTimeoutMs: options.checkTimeoutMs,
    activity,
    routes: options.routes,
    learners: platform,
    ...(oidc ? { oidc: { client: oidc, origin: () => config.origin ?? `http://atelier.localhost:${port}` } } : {}),
    contentOrigin: () => contentOrigin,
    labServices: { services: labServices, origins: () => appOrigins, handoff },
    classes: { store: classStore, courses: readCourses(config.siteDir), live: classLive, trainerToken: trainer.token },
    // The forge and S3 share the port but not fastify: their bodies are streams for git and
    // for the object store, and fastify's parsers must never read them.
    // Learner bytes (S3) have an origin of their own, told apart by Host on this same port.
    serverFactory: (handler) => {
      const raw = createRepoRawHandler(rawLinkSecret(platform.context.cookieSecret), platform.repos);
      const route = routeByOrigin({ contentOrigin: () => contentOrigin, trustProxy: config.trustProxy, s3: platform.s3, raw, platform: platform.dispatch });
      return createServer(serverOptions(connectionLimits), (req, res) => apps.http(req, res) || route(req, res) || handler(req, res)) as Server;
    },
  });
  const fastify = app;
  limitConnections(fastify.server, connectionLimits);
  const attached = attachTerminals(fastify.server, sessions, {
    trustProxy: config.trustProxy,
    onError: (error, context) => fastify.log.error({ err: error }, context),
  });
  terminals = attached;
  // Service origins' WebSockets (notebook kernels, VS Code) go to the apps gateway before
  // socket.io, which would otherwise end any upgrade that is not its own.
  const upgradeListeners = fastify.server.listeners('upgrade') as Array<(...args: unknown[]) => void>;
  fastify.server.removeAllListeners('upgrade');
  fastify.server.on('upgrade', (req, socket, head) => {
    if (apps.upgrade(req, socket, head)) return;
    for (const listener of upgradeListeners) listener.call(fastify.server, req, socket, head);
  });
  attachAutoChecks(
    attached.io as unknown as Parameters<typeof attachAutoChecks>[0],
    sessions,
    platform,
    { parse: (header) => fastify.parseCookie(header) as Record<string, string>, unsign: (value) => fastify.unsignCookie(value) },
    (error, context) => fastify.log.error({ err: error }, context),
    activity,
  );
  const { flushMs, ...tuning } = options.webhook ?? {};
  const webhook = config.webhook && startWebhook(activity.events, { ...config.webhook, ...tuning, cookieSecret: platform.context.cookieSecret, log: () => fastify.log });

  // The sessions other replicas share (the learner store's migrations made their table).
  await sessions.join();
  if (options.reapOrphans) {
    const started = Date.now();
    const reaped = await reapOrphans(driver, new Set(sessions.all().flatMap((session) => (session.handle ? [session.handle.id] : []))));
    fastify.log.info({ reaped, durationMs: Date.now() - started }, 'labs of a previous run reaped');
  }

  await fastify.listen({ port: config.port, host: config.host });
  const address = fastify.server.address();
  port = typeof address === 'object' && address ? address.port : config.port;
  if (config.s3Origin === undefined) contentOrigin = `http://s3.localhost:${port}`;
  if (config.appsOrigin === undefined) appOrigins = new AppOrigins(`http://*.apps.atelier.localhost:${port}`);
  if (config.origin === undefined) platformOrigin = `http://atelier.localhost:${port} http://localhost:${port}`;
  const gateway = await listenGateway(gatewaySocket, platform, gatewayTls, config.labGatewayPort === undefined ? undefined : { port: config.labGatewayPort, host: config.host, maxConnections: connectionLimits.total });
  gatewayReady = true;
  sessions.warm();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await sessions.stopAll();
      unfollowLabs();
      // After the labs: a lone server's last lab.ended events go out.
      await webhook?.close(flushMs);
      await sessionRecords?.close();
      labServices.close();
      oidc?.close();
      apps.close();
      if (ownDriver) await driver.close();
      await attached.close();
      await fastify.close();
      await gateway.close();
      classLive.close();
      await classStore.close();
      await platform.close();
      activity.close();
      // Last: the platform's jobs give their leadership back through it.
      await coordinator.close();
    })();
    return closing;
  };

  return {
    url: `http://localhost:${port}`,
    s3Origin: contentOrigin,
    port,
    config,
    app: fastify,
    sessions,
    driver,
    terminals: attached,
    activity: activity.events,
    ...(webhook ? { webhook } : {}),
    close,
  };
}
