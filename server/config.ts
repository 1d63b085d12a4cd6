/**
 * Environment → typed configuration, in one place. Every setting the server reads from its
 * environment is declared here, validated with zod, and reported in one line when wrong.
 */
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { byteSize, duration } from './labs/schema.ts';
import { decodeSecret } from './webhook/sign.ts';

/** The project's root folder (the one holding package.json, labs/ and dist/). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const s3EndpointPattern = /^https?:\/\/[^/\s@]+\/?$/;

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const boolean = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'], { error: 'expected true or false' })
  .transform((value) => ['1', 'true', 'yes', 'on'].includes(value));

/** Variable name → schema. Unset or empty variables take the default. */
const environment = z.object({
  PORT: integer(0, 65535).default(4321),
  HOST: z.string().min(1).default('0.0.0.0'),
  ATELIER_DATA_DIR: z.string().min(1).default('./data'),
  /** The learner store on PostgreSQL, which several replicas share; unset: SQLite in ATELIER_DATA_DIR. */
  ATELIER_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'expected postgres://user:password@host[:port]/database').optional(),
  /** A file holding one high-entropy secret every replica shares: the server's keys derive from it (server/learners/keys.ts); unset: keys in ATELIER_DATA_DIR/keys. */
  ATELIER_SECRET_KEY_FILE: z.string().min(1).optional(),
  /** Trainers' sign-in token (server/http/trainer-auth.ts): a file holding it, or the token itself; unset: one made in ATELIER_DATA_DIR/keys. */
  ATELIER_TRAINER_TOKEN_FILE: z.string().min(1).optional(),
  ATELIER_TRAINER_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  ATELIER_SITE_DIR: z.string().min(1).default(resolve(projectRoot, 'dist')),
  ATELIER_LABS_DIR: z.string().min(1).default(resolve(projectRoot, 'labs')),
  /** Hard cap on any lab's lifetime, whatever its lab.yaml says (e.g. 30m, 4h). */
  ATELIER_MAX_TTL: duration.default(4 * 3600_000),
  /** Labs running or starting at once on this server; launches beyond wait in the queue. */
  ATELIER_MAX_LABS: integer(1, 100_000).default(300),
  /**
   * Labs (queued, starting or running) of one client address. High on purpose: a whole class
   * behind one school NAT shares one address; the per-learner quota is the one learners meet.
   */
  ATELIER_MAX_LABS_PER_CLIENT: integer(1, 100_000).default(400),
  /** Labs (queued, starting or running) of one learner. */
  ATELIER_MAX_LABS_PER_LEARNER: integer(1, 1000).default(3),
  /** Launches one learner may ask for in any 60 s. */
  ATELIER_LAUNCHES_PER_MINUTE: integer(1, 10_000).default(10),
  /** Labs starting at once (the driver's sandboxes being built); more wait in the queue. */
  ATELIER_MAX_STARTING: integer(1, 1000).default(8),
  /** Launches waiting in the queue; beyond, POST /api/labs answers 503 queue_full. */
  ATELIER_MAX_QUEUE: integer(0, 100_000).default(1000),
  /** Cap on a lab's whole life, extensions included (POST /api/labs/:id/extend). */
  ATELIER_MAX_LIFETIME: duration.default(8 * 3600_000),
  /** How much one extension adds; unset: the lab's own ttl (capped by ATELIER_MAX_TTL). */
  ATELIER_EXTEND_STEP: duration.optional(),
  /** Cap on any lab's idle limit, whatever its lab.yaml says. */
  ATELIER_MAX_IDLE: duration.default(2 * 3600_000),
  /** Host uids of the local driver's labs: one per lab, [base, base + count). */
  ATELIER_LAB_UID_BASE: integer(1000, 2 ** 31 - 200_000).default(200_000),
  ATELIER_LAB_UID_COUNT: integer(1, 100_000).default(10_000),
  /** What runs labs: `local` (bubblewrap sandboxes on this machine) or `kubernetes` (pods in ATELIER_KUBE_NAMESPACE). */
  ATELIER_DRIVER: z.enum(['local', 'kubernetes']).default('local'),
  /** kubernetes: the labs' namespace, their image, how they reach this server (its Service's host[:port]), their service account. */
  ATELIER_KUBE_NAMESPACE: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a namespace name').default('atelier-labs'),
  ATELIER_LAB_IMAGE: z.string().regex(/^[^\s]{1,512}$/, 'expected an image reference').optional(),
  ATELIER_LAB_GATEWAY: z.string().regex(/^[a-z0-9.-]{1,253}(?::\d{1,5})?$/, 'expected host[:port], e.g. atelier.atelier.svc.cluster.local:4321').optional(),
  /** A TCP port for the lab gateway (the forge and S3 only), for labs that are not on this machine (pods); unset: the local socket only. */
  ATELIER_LAB_GATEWAY_PORT: integer(1, 65535).optional(),
  /** kubernetes: where this server's pods are (the labs' NetworkPolicy lets them reach those only): namespace and labels k=v,k=v. */
  ATELIER_SERVER_NAMESPACE: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a namespace name').optional(),
  ATELIER_SERVER_POD_LABELS: z.string().regex(/^[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*(?:,[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*)*$/, 'expected k=v,k=v').optional(),
  /** kubernetes: address ranges labs may reach besides this server (an external S3: its CIDRs), comma-separated; cloud metadata addresses are always cut out. */
  ATELIER_LAB_EGRESS_CIDRS: z
    .string()
    .regex(/^[0-9a-fA-F:.]+\/\d{1,3}(?:,[0-9a-fA-F:.]+\/\d{1,3})*$/, 'expected CIDRs, e.g. 10.20.0.0/16,192.0.2.10/32')
    .optional(),
  ATELIER_LAB_SERVICE_ACCOUNT: z.string().regex(/^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/, 'expected a service account name').optional(),
  /** Labs kept provisioned ahead of launches, all warm pools together (each lab's size is its lab.yaml `pool`). */
  ATELIER_POOL_MAX: integer(0, 100_000).default(20),
  /** This installation's name: the driver's labs carry it, and a server lists and reaps its own only. */
  ATELIER_DEPLOYMENT: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/, 'expected a DNS label of at most 32 characters').default('atelier'),
  /** Behind a reverse proxy: trust X-Forwarded-* for the client address and the host. */
  ATELIER_TRUST_PROXY: boolean.default(false),
  /** Region the embedded S3 endpoint answers for (clients sign with it). */
  ATELIER_S3_REGION: z.string().regex(/^[a-z0-9-]{2,32}$/).default('us-east-1'),
  /** An external S3/MinIO instead of the embedded endpoint (http(s)://host[:port]); unset: embedded. */
  ATELIER_S3_ENDPOINT: z.string().regex(s3EndpointPattern, 'expected http(s)://host[:port]').optional(),
  /** The lab server's own credentials there (required with ATELIER_S3_ENDPOINT). */
  ATELIER_S3_ADMIN_ACCESS_KEY_ID: z.string().optional(),
  ATELIER_S3_ADMIN_SECRET_ACCESS_KEY: z.string().optional(),
  /** The role learner credentials are minted from with STS AssumeRole (AWS needs one; MinIO ignores it). */
  ATELIER_S3_ROLE_ARN: z.string().optional(),
  /** STS endpoint when it is not ATELIER_S3_ENDPOINT (MinIO serves STS at the S3 endpoint). */
  ATELIER_S3_STS_ENDPOINT: z.string().regex(s3EndpointPattern, 'expected http(s)://host[:port]').optional(),
  /** Lifetime of learner S3 credentials, 15m to 168h (external: STS DurationSeconds, at most 12h); unset: 24h embedded, 12h external. */
  ATELIER_S3_CREDENTIAL_TTL: duration.refine((ms) => ms >= 900_000 && ms <= 168 * 3600_000, 'must be from 15m to 168h').optional(),
  /**
   * The origin (scheme, host, port) the embedded S3 endpoint answers on: learner bytes never come
   * from the site's own origin. Unset: http://s3.localhost:<PORT> (browsers resolve *.localhost).
   */
  ATELIER_S3_ORIGIN: z.string().regex(s3EndpointPattern, 'expected http(s)://host[:port]').optional(),
  /** The platform's public origin (the only page that may frame a lab's service); default http://localhost:<port>. */
  ATELIER_ORIGIN: z.string().regex(s3EndpointPattern, 'expected http(s)://host[:port]').optional(),
  /** Origins of the labs' services: one host name per lab service under this domain (server/services/app-origins.ts). */
  ATELIER_APPS_ORIGIN: z.string().regex(/^https?:\/\/\*\.[a-z0-9.-]+(:\d{1,5})?\/?$/, 'expected http(s)://*.domain[:port], e.g. https://*.apps.atelier.example').optional(),
  /** Longest life of a presigned URL, whatever its X-Amz-Expires says (AWS's own cap is 168h). */
  ATELIER_S3_PRESIGN_MAX_EXPIRY: duration.refine((ms) => ms >= 1000 && ms <= 168 * 3600_000, 'must be from 1s to 168h').default(24 * 3600_000),
  /** Anonymous learners unseen this long, with no data and no lab, are deleted (168h: a week). */
  ATELIER_ANONYMOUS_TTL: duration.refine((ms) => ms >= 600_000, 'must be at least 10m').default(168 * 3600_000),
  /** New learner identities per client address (per /64 for IPv6) in any hour. */
  ATELIER_NEW_LEARNERS_PER_HOUR: integer(1, 1_000_000).default(1000),
  /** Open connections of one client address (per /64 for IPv6); ignored behind a trusted proxy. */
  ATELIER_MAX_CONNECTIONS_PER_CLIENT: integer(1, 1_000_000).default(2000),
  /** Open connections in all; unset: three quarters of the process's file descriptor limit. */
  ATELIER_MAX_CONNECTIONS: integer(1, 10_000_000).optional(),
  /** Time a client has to send a request's headers (slow clients are cut off). */
  ATELIER_HEADERS_TIMEOUT: duration.default(15_000),
  /** A connection silent this long (no byte either way, body included) is closed. */
  ATELIER_IDLE_TIMEOUT: duration.default(120_000),
  /** Embedded S3: bytes a learner's bucket may hold (objects and uploads in progress), e.g. 10Gi. */
  ATELIER_S3_MAX_BYTES: byteSize.default(10 * 1024 ** 3),
  /** Embedded S3: objects a learner's bucket may hold. */
  ATELIER_S3_MAX_OBJECTS: integer(1, 1_000_000_000).default(100_000),
  /** Embedded S3: incomplete multipart uploads older than this are aborted (their bytes freed). */
  ATELIER_S3_MULTIPART_TTL: duration.default(24 * 3600_000),
  /** Embedded S3: requests one learner may have in progress; beyond, 503 SlowDown. */
  ATELIER_S3_MAX_CONCURRENT_PER_LEARNER: integer(1, 10_000).default(16),
  /** Forge: a git request with no byte either way this long is ended (a slow but progressing clone is not). */
  ATELIER_FORGE_REQUEST_TIMEOUT: duration.default(60_000),
  /** Forge: a git request lasting this long is ended, progressing or not. */
  ATELIER_FORGE_MAX_DURATION: duration.default(3600_000),
  /** Forge: bytes one push may send (a 200 MB repository pushes within 512Mi). */
  ATELIER_FORGE_MAX_PUSH: byteSize.default(512 * 1024 ** 2),
  /** Forge: bytes a learner's repositories may take on disk. */
  ATELIER_FORGE_MAX_BYTES: byteSize.default(1024 ** 3),
  /** Forge: repositories one learner may hold. */
  ATELIER_FORGE_MAX_REPOS: integer(1, 100_000).default(50),
  /** Forge: git requests of one learner at once; beyond, that learner alone is refused. */
  ATELIER_FORGE_REQUESTS_PER_LEARNER: integer(1, 1000).default(4),
  /** Forge: git requests at once across the forge; beyond, requests wait (30 s at most), then 503. */
  ATELIER_FORGE_MAX_REQUESTS: integer(1, 10_000).default(32),
  /** The school's receiver of activity events (server/webhook/); checked in webhookSettings, which never quotes it (it may carry a token). */
  ATELIER_WEBHOOK_URL: z.string().optional(),
  /** The Standard Webhooks secret (`whsec_…`) signing them, or a file holding it (a mounted Secret). */
  ATELIER_WEBHOOK_SECRET: z.string().optional(),
  ATELIER_WEBHOOK_SECRET_FILE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Sign-in with the school's OpenID Connect provider (server/auth/): its issuer URL; unset: anonymous learners only. */
  ATELIER_OIDC_ISSUER: z.url({ protocol: /^https?$/, error: 'expected the provider\'s issuer URL, e.g. https://auth.school.example/realms/school' }).optional(),
  ATELIER_OIDC_CLIENT_ID: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'expected the client id registered at the provider').optional(),
  ATELIER_OIDC_CLIENT_SECRET: z.string().optional(),
  /** A file holding the client secret (a mounted Secret), rather than the variable. */
  ATELIER_OIDC_CLIENT_SECRET_FILE: z.string().min(1).optional(),
  ATELIER_OIDC_SCOPES: z.string().regex(/^[\x21-\x7e]+( [\x21-\x7e]+)*$/, 'expected scopes separated by spaces, e.g. openid profile email').default('openid profile email'),
  /** Who is a trainer: `claim=value`, the claim a dotted path into the ID token / userinfo (groups=trainers, realm_access.roles=trainer). */
  ATELIER_OIDC_TRAINER_CLAIM: z.string().regex(/^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*=[^=\s]+$/, 'expected claim=value, e.g. groups=trainers or realm_access.roles=trainer').optional(),
})
  .refine((e) => e.ATELIER_MAX_LIFETIME >= e.ATELIER_MAX_TTL, {
    path: ['ATELIER_MAX_LIFETIME'],
    message: 'must be at least ATELIER_MAX_TTL (a lab lives at least its ttl)',
  })
  .refine((e) => e.ATELIER_LAB_UID_COUNT >= e.ATELIER_MAX_LABS, {
    path: ['ATELIER_LAB_UID_COUNT'],
    message: 'must be at least ATELIER_MAX_LABS (one uid per lab)',
  });

export interface Config {
  port: number;
  host: string;
  /** Absolute. Durable data (learners, repositories, buckets). */
  dataDir: string;
  /** `postgres://…`: the learner store is there rather than in dataDir's SQLite file. */
  databaseUrl?: string;
  /** Absolute. The secret the server's keys derive from; undefined: key files in dataDir/keys. */
  secretKeyFile?: string;
  /** Trainers' token: a file (absolute) or the value; neither: made in dataDir/keys on first start. */
  trainerToken?: { file: string } | { value: string };
  /** Absolute. The built site (astro build → dist/). */
  siteDir: string;
  /** Absolute. labs/<id>/lab.yaml. */
  labsDir: string;
  limits: {
    /** Milliseconds: cap on a lab's ttl at launch. */
    maxTtl: number;
    /** Labs starting or running at once; launches beyond are queued. */
    maxLabs: number;
    /** Labs (queued included) of one client address. */
    maxLabsPerClient: number;
    /** Labs (queued included) of one learner. */
    maxLabsPerLearner: number;
    /** Launches per learner per minute. */
    launchesPerMinute: number;
    /** Labs starting at once. */
    maxStarting: number;
    /** Launches waiting at once. */
    maxQueue: number;
    /** Milliseconds: cap on a lab's whole life, extensions included. */
    maxLifetime: number;
    /** Milliseconds added by one extension; undefined: the lab's ttl. */
    extendStep?: number;
    /** Milliseconds: cap on a lab's idle limit. */
    maxIdle: number;
  };
  /** The local driver's lab uids: [base, base + count). */
  labUids: { base: number; count: number };
  driver: 'local' | 'kubernetes';
  /** With the kubernetes driver. */
  kubernetes?: {
    namespace: string;
    image: string;
    gateway: { host: string; port?: number };
    serviceAccountName?: string;
    /** This server's pods, which the labs' NetworkPolicy lets them reach (on the gateway port). */
    server?: { namespace: string; podLabels: Record<string, string> };
    /** Other ranges labs may reach (ATELIER_LAB_EGRESS_CIDRS). */
    egressCidrs?: string[];
  };
  /** The lab gateway's TCP port (ATELIER_LAB_GATEWAY_PORT), if any. */
  labGatewayPort?: number;
  /** Ready lab instances all warm pools may keep together. */
  poolMax: number;
  deployment: string;
  trustProxy: boolean;
  s3Region: string;
  /** Where learner buckets live: the embedded endpoint (default) or an external S3/MinIO. */
  s3: S3Mode;
  /** The embedded endpoint's per-learner limits (the trainers' shared bucket has none). */
  s3Limits: S3Limits;
  /** Embedded endpoint's origin, no trailing slash; undefined: http://s3.localhost:<listening port>. */
  s3Origin?: string;
  /** The platform's public origin; default `http://localhost:<port>`. */
  origin?: string;
  /** `http(s)://*.domain[:port]`; default `http://*.apps.localhost:<port>`. */
  appsOrigin?: string;
  /** Milliseconds: lifetime of learner S3 credentials (embedded store; external: s3.credentialTtl). */
  s3CredentialTtl: number;
  /** Milliseconds: cap on a presigned URL's life. */
  s3PresignMaxExpiry: number;
  /** The forge's limits (server/forge's ForgeLimits); milliseconds and bytes. */
  forge: {
    idleTimeoutMs: number;
    maxDurationMs: number;
    maxPushBytes: number;
    maxBytesPerLearner: number;
    maxRepositoriesPerLearner: number;
    maxRequestsPerLearner: number;
    maxRequests: number;
  };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Activity events sent to the school's receiver, signed with `key`; undefined: none sent. */
  webhook?: { url: string; key: Buffer };
  learners: {
    /** Milliseconds unseen after which an anonymous learner with no data is deleted. */
    anonymousTtl: number;
    newLearnersPerHour: number;
  };
  /** Sign-in with the school's OpenID Connect provider; undefined: anonymous learners only. */
  oidc?: OidcSettings;
  connections: {
    perClient: number;
    /** Undefined: from the file descriptor limit. */
    total?: number;
    /** Milliseconds. */
    headersTimeout: number;
    idleTimeout: number;
  };
}

export interface S3Limits {
  /** Bytes of one learner's bucket, multipart uploads in progress included. */
  maxBytes: number;
  maxObjects: number;
  /** Milliseconds after which an incomplete multipart upload is aborted. */
  multipartTtl: number;
  /** S3 requests of one learner in progress at once. */
  maxConcurrentPerLearner: number;
}

export type S3Mode =
  | { mode: 'embedded' }
  | {
      mode: 'external';
      /** http(s)://host[:port], no trailing slash: what browsers and labs are given too. */
      endpoint: string;
      adminAccessKeyId: string;
      adminSecretAccessKey: string;
      roleArn?: string;
      stsEndpoint?: string;
      /** Milliseconds (whole seconds), 15 min to 12 h. */
      credentialTtl: number;
    };

export interface OidcSettings {
  issuer: string;
  clientId: string;
  /** Undefined: a public client (PKCE alone). */
  clientSecret?: string;
  scopes: string;
  /** `claim` a dotted path into the claims; a trainer when it equals `value` or is a list holding it. */
  trainer?: { claim: string[]; value: string };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The kubernetes driver's settings, checked together. */
function kubernetesSettings(e: z.infer<typeof environment>): NonNullable<Config['kubernetes']> {
  const missing = (['ATELIER_LAB_IMAGE', 'ATELIER_LAB_GATEWAY'] as const).filter((name) => !e[name]);
  if (missing.length > 0) throw new ConfigError(`invalid configuration: ${missing.join(' and ')} required when ATELIER_DRIVER=kubernetes`);
  const [host, port] = e.ATELIER_LAB_GATEWAY!.split(':') as [string, string | undefined];
  return {
    namespace: e.ATELIER_KUBE_NAMESPACE,
    image: e.ATELIER_LAB_IMAGE!,
    gateway: { host, ...(port === undefined ? {} : { port: Number(port) }) },
    ...(e.ATELIER_LAB_SERVICE_ACCOUNT ? { serviceAccountName: e.ATELIER_LAB_SERVICE_ACCOUNT } : {}),
    ...(e.ATELIER_LAB_EGRESS_CIDRS ? { egressCidrs: e.ATELIER_LAB_EGRESS_CIDRS.split(',') } : {}),
    ...(e.ATELIER_SERVER_NAMESPACE && e.ATELIER_SERVER_POD_LABELS
      ? { server: { namespace: e.ATELIER_SERVER_NAMESPACE, podLabels: Object.fromEntries(e.ATELIER_SERVER_POD_LABELS.split(',').map((pair) => pair.split('=') as [string, string])) } }
      : {}),
  };
}

/** The ATELIER_S3_* settings of an external S3, checked together (secrets never quoted back). */
function s3Mode(e: z.infer<typeof environment>, input: Record<string, string>): S3Mode {
  const endpoint = e.ATELIER_S3_ENDPOINT;
  if (endpoint === undefined) {
    const stray = ['ATELIER_S3_ADMIN_ACCESS_KEY_ID', 'ATELIER_S3_ADMIN_SECRET_ACCESS_KEY', 'ATELIER_S3_ROLE_ARN', 'ATELIER_S3_STS_ENDPOINT'].find((name) => input[name] !== undefined);
    if (stray) throw new ConfigError(`invalid configuration: ${stray} is set but ATELIER_S3_ENDPOINT is not (it only applies to an external S3)`);
    return { mode: 'embedded' };
  }
  const missing = (['ATELIER_S3_ADMIN_ACCESS_KEY_ID', 'ATELIER_S3_ADMIN_SECRET_ACCESS_KEY'] as const).filter((name) => !e[name]);
  if (missing.length > 0) throw new ConfigError(`invalid configuration: ${missing.join(' and ')} required when ATELIER_S3_ENDPOINT is set`);
  // STS hands out sessions of 12 h at most.
  if (e.ATELIER_S3_CREDENTIAL_TTL !== undefined && e.ATELIER_S3_CREDENTIAL_TTL > 12 * 3600_000) {
    throw new ConfigError(`invalid configuration: ATELIER_S3_CREDENTIAL_TTL=${JSON.stringify(input.ATELIER_S3_CREDENTIAL_TTL)}: must be from 15m to 12h with an external S3`);
  }
  return {
    mode: 'external',
    endpoint: endpoint.replace(/\/$/, ''),
    adminAccessKeyId: e.ATELIER_S3_ADMIN_ACCESS_KEY_ID!,
    adminSecretAccessKey: e.ATELIER_S3_ADMIN_SECRET_ACCESS_KEY!,
    ...(e.ATELIER_S3_ROLE_ARN ? { roleArn: e.ATELIER_S3_ROLE_ARN } : {}),
    ...(e.ATELIER_S3_STS_ENDPOINT ? { stsEndpoint: e.ATELIER_S3_STS_ENDPOINT.replace(/\/$/, '') } : {}),
    credentialTtl: e.ATELIER_S3_CREDENTIAL_TTL ?? 12 * 3600_000,
  };
}

/** The ATELIER_OIDC_* settings, checked together (the secret never quoted back). */
function oidcSettings(e: z.infer<typeof environment>, input: Record<string, string>): OidcSettings | undefined {
  if (e.ATELIER_OIDC_ISSUER === undefined) {
    const stray = ['ATELIER_OIDC_CLIENT_ID', 'ATELIER_OIDC_CLIENT_SECRET', 'ATELIER_OIDC_CLIENT_SECRET_FILE', 'ATELIER_OIDC_SCOPES', 'ATELIER_OIDC_TRAINER_CLAIM'].find((name) => input[name] !== undefined);
    if (stray) throw new ConfigError(`invalid configuration: ${stray} is set but ATELIER_OIDC_ISSUER is not (it only applies to sign-in with OpenID Connect)`);
    return undefined;
  }
  if (!e.ATELIER_OIDC_CLIENT_ID) throw new ConfigError('invalid configuration: ATELIER_OIDC_CLIENT_ID required when ATELIER_OIDC_ISSUER is set');
  if (e.ATELIER_OIDC_CLIENT_SECRET !== undefined && e.ATELIER_OIDC_CLIENT_SECRET_FILE !== undefined) {
    throw new ConfigError('invalid configuration: ATELIER_OIDC_CLIENT_SECRET and ATELIER_OIDC_CLIENT_SECRET_FILE are both set (give one)');
  }
  let clientSecret = e.ATELIER_OIDC_CLIENT_SECRET;
  if (e.ATELIER_OIDC_CLIENT_SECRET_FILE !== undefined) {
    try {
      clientSecret = readFileSync(resolve(e.ATELIER_OIDC_CLIENT_SECRET_FILE), 'utf8').trim();
    } catch (error) {
      throw new ConfigError(`invalid configuration: ATELIER_OIDC_CLIENT_SECRET_FILE=${JSON.stringify(input.ATELIER_OIDC_CLIENT_SECRET_FILE)}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (clientSecret === '') throw new ConfigError(`invalid configuration: ATELIER_OIDC_CLIENT_SECRET_FILE=${JSON.stringify(input.ATELIER_OIDC_CLIENT_SECRET_FILE)}: the file is empty`);
  }
  const issuer = new URL(e.ATELIER_OIDC_ISSUER);
  // Plain HTTP only for a provider on this machine (tests, a provider beside the server).
  if (issuer.protocol === 'http:' && !/^(localhost|.+\.localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(issuer.hostname)) {
    throw new ConfigError(`invalid configuration: ATELIER_OIDC_ISSUER=${JSON.stringify(input.ATELIER_OIDC_ISSUER)}: expected https (http only for a provider on this machine)`);
  }
  const scopes = e.ATELIER_OIDC_SCOPES;
  if (!scopes.split(' ').includes('openid')) throw new ConfigError(`invalid configuration: ATELIER_OIDC_SCOPES=${JSON.stringify(scopes)}: must include openid`);
  const trainer = e.ATELIER_OIDC_TRAINER_CLAIM?.split('=') as [string, string] | undefined;
  return {
    issuer: e.ATELIER_OIDC_ISSUER,
    clientId: e.ATELIER_OIDC_CLIENT_ID,
    ...(clientSecret === undefined ? {} : { clientSecret }),
    scopes,
    ...(trainer ? { trainer: { claim: trainer[0].split('.'), value: trainer[1] } } : {}),
  };
}

/** The ATELIER_WEBHOOK_* settings, checked together (neither the URL nor the secret quoted back). */
function webhookSettings(e: z.infer<typeof environment>, input: Record<string, string>): Config['webhook'] {
  if (e.ATELIER_WEBHOOK_URL === undefined) {
    const stray = ['ATELIER_WEBHOOK_SECRET', 'ATELIER_WEBHOOK_SECRET_FILE'].find((name) => input[name] !== undefined);
    if (stray) throw new ConfigError(`invalid configuration: ${stray} is set but ATELIER_WEBHOOK_URL is not (it signs what is sent there)`);
    return undefined;
  }
  const url = URL.parse(e.ATELIER_WEBHOOK_URL);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new ConfigError('invalid configuration: ATELIER_WEBHOOK_URL: expected the receiver\'s http(s):// URL');
  if (e.ATELIER_WEBHOOK_SECRET !== undefined && e.ATELIER_WEBHOOK_SECRET_FILE !== undefined) {
    throw new ConfigError('invalid configuration: ATELIER_WEBHOOK_SECRET and ATELIER_WEBHOOK_SECRET_FILE are both set (give one)');
  }
  let secret = e.ATELIER_WEBHOOK_SECRET;
  const from = secret === undefined ? 'ATELIER_WEBHOOK_SECRET_FILE' : 'ATELIER_WEBHOOK_SECRET';
  if (e.ATELIER_WEBHOOK_SECRET_FILE !== undefined) {
    try {
      secret = readFileSync(resolve(e.ATELIER_WEBHOOK_SECRET_FILE), 'utf8').trim();
    } catch (error) {
      throw new ConfigError(`invalid configuration: ATELIER_WEBHOOK_SECRET_FILE=${JSON.stringify(input.ATELIER_WEBHOOK_SECRET_FILE)}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (secret === undefined) throw new ConfigError('invalid configuration: ATELIER_WEBHOOK_SECRET or ATELIER_WEBHOOK_SECRET_FILE required when ATELIER_WEBHOOK_URL is set');
  const key = decodeSecret(secret);
  if (!key) throw new ConfigError(`invalid configuration: ${from} is not a Standard Webhooks secret: expected whsec_ and the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))`);
  return { url: url.href, key };
}

/** Reads the configuration from `env`; throws a ConfigError naming the variable at fault. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(environment.shape)) {
    const value = env[key]?.trim();
    if (value) input[key] = value;
  }
  const parsed = environment.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      // A database URL may hold a password, a client secret is one: never echoed.
      const shown = name === 'ATELIER_DATABASE_URL' || name === 'ATELIER_OIDC_CLIENT_SECRET' || name === 'ATELIER_TRAINER_TOKEN' ? '…' : (input[name] ?? '');
      return `${name}=${JSON.stringify(shown)}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const webhook = webhookSettings(e, input);
  const oidc = oidcSettings(e, input);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.ATELIER_DATA_DIR),
    ...(e.ATELIER_DATABASE_URL === undefined ? {} : { databaseUrl: e.ATELIER_DATABASE_URL }),
    ...(e.ATELIER_SECRET_KEY_FILE === undefined ? {} : { secretKeyFile: resolve(e.ATELIER_SECRET_KEY_FILE) }),
    ...(e.ATELIER_TRAINER_TOKEN_FILE !== undefined
      ? { trainerToken: { file: resolve(e.ATELIER_TRAINER_TOKEN_FILE) } }
      : e.ATELIER_TRAINER_TOKEN !== undefined
        ? { trainerToken: { value: e.ATELIER_TRAINER_TOKEN } }
        : {}),
    siteDir: resolve(e.ATELIER_SITE_DIR),
    labsDir: resolve(e.ATELIER_LABS_DIR),
    limits: {
      maxTtl: e.ATELIER_MAX_TTL,
      maxLabs: e.ATELIER_MAX_LABS,
      maxLabsPerClient: e.ATELIER_MAX_LABS_PER_CLIENT,
      maxLabsPerLearner: e.ATELIER_MAX_LABS_PER_LEARNER,
      launchesPerMinute: e.ATELIER_LAUNCHES_PER_MINUTE,
      maxStarting: e.ATELIER_MAX_STARTING,
      maxQueue: e.ATELIER_MAX_QUEUE,
      maxLifetime: e.ATELIER_MAX_LIFETIME,
      ...(e.ATELIER_EXTEND_STEP === undefined ? {} : { extendStep: e.ATELIER_EXTEND_STEP }),
      maxIdle: e.ATELIER_MAX_IDLE,
    },
    labUids: { base: e.ATELIER_LAB_UID_BASE, count: e.ATELIER_LAB_UID_COUNT },
    driver: e.ATELIER_DRIVER,
    ...(e.ATELIER_DRIVER === 'kubernetes' ? { kubernetes: kubernetesSettings(e) } : {}),
    ...(e.ATELIER_LAB_GATEWAY_PORT === undefined ? {} : { labGatewayPort: e.ATELIER_LAB_GATEWAY_PORT }),
    poolMax: e.ATELIER_POOL_MAX,
    deployment: e.ATELIER_DEPLOYMENT,
    trustProxy: e.ATELIER_TRUST_PROXY,
    s3Region: e.ATELIER_S3_REGION,
    s3: s3Mode(e, input),
    s3Limits: {
      maxBytes: e.ATELIER_S3_MAX_BYTES,
      maxObjects: e.ATELIER_S3_MAX_OBJECTS,
      multipartTtl: e.ATELIER_S3_MULTIPART_TTL,
      maxConcurrentPerLearner: e.ATELIER_S3_MAX_CONCURRENT_PER_LEARNER,
    },
    ...(e.ATELIER_S3_ORIGIN === undefined ? {} : { s3Origin: e.ATELIER_S3_ORIGIN.replace(/\/$/, '') }),
    ...(e.ATELIER_ORIGIN === undefined ? {} : { origin: e.ATELIER_ORIGIN.replace(/\/$/, '') }),
    ...(e.ATELIER_APPS_ORIGIN === undefined ? {} : { appsOrigin: e.ATELIER_APPS_ORIGIN.replace(/\/$/, '') }),
    s3CredentialTtl: e.ATELIER_S3_CREDENTIAL_TTL ?? (e.ATELIER_S3_ENDPOINT === undefined ? 24 : 12) * 3600_000,
    s3PresignMaxExpiry: e.ATELIER_S3_PRESIGN_MAX_EXPIRY,
    forge: {
      idleTimeoutMs: e.ATELIER_FORGE_REQUEST_TIMEOUT,
      maxDurationMs: e.ATELIER_FORGE_MAX_DURATION,
      maxPushBytes: e.ATELIER_FORGE_MAX_PUSH,
      maxBytesPerLearner: e.ATELIER_FORGE_MAX_BYTES,
      maxRepositoriesPerLearner: e.ATELIER_FORGE_MAX_REPOS,
      maxRequestsPerLearner: e.ATELIER_FORGE_REQUESTS_PER_LEARNER,
      maxRequests: e.ATELIER_FORGE_MAX_REQUESTS,
    },
    logLevel: e.LOG_LEVEL,
    ...(webhook ? { webhook } : {}),
    ...(oidc ? { oidc } : {}),
    learners: { anonymousTtl: e.ATELIER_ANONYMOUS_TTL, newLearnersPerHour: e.ATELIER_NEW_LEARNERS_PER_HOUR },
    connections: {
      perClient: e.ATELIER_MAX_CONNECTIONS_PER_CLIENT,
      ...(e.ATELIER_MAX_CONNECTIONS === undefined ? {} : { total: e.ATELIER_MAX_CONNECTIONS }),
      headersTimeout: e.ATELIER_HEADERS_TIMEOUT,
      idleTimeout: e.ATELIER_IDLE_TIMEOUT,
    },
  };
}

/** loadConfig for entry points: a bad value prints one line and exits with status 2. */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`atelier: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}
