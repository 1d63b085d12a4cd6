/**
 * The learner side of the platform, assembled once: durable store (SQLite, or PostgreSQL: databaseUrl), forge (git smart
 * HTTP), S3 endpoint and object store, launch services, and the events that tell which
 * learner's forge or bucket just changed (so their checks can tick on their own).
 *
 * Buckets live either in the embedded S3 endpoint (the default: served on the lab server's own
 * port, credentials from the learner store) or in an external S3/MinIO (`config.s3`): the lab
 * server then reaches it with admin credentials through `ExternalS3`, serves no S3 itself, and
 * learners get credentials minted by STS AssumeRole with the same scope as a session policy.
 * The server does not see lab writes to an external S3: it polls the keys of `s3.object`
 * checks of running labs instead (see `pollS3Evidence`).
 */
import type { ServiceKind } from '../labs/schema.ts';
import { EventEmitter } from 'node:events';
import { mkdirSync, readdirSync, createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, relative, sep } from 'node:path';
import type { S3Limits, S3Mode } from '../config.ts';
import type { Driver } from '../drivers/driver.ts';
import { everyLanguage, type LabDefinition } from '../labs/schema.ts';
import { createForgeHandler, isForgeRequest, RepositoryStore, type ForgeLimits } from '../forge/index.ts';
import { runGit } from '../forge/git.ts';
import { createS3Handler, isS3Request } from '../storage/index.ts';
import { ObjectStore } from '../storage/object-store.ts';
import { embeddedObjects, ExternalS3, type LearnerObjects } from '../storage/external.ts';
import type { LearnerContext } from './context.ts';
import type { LaunchServices } from './launch.ts';
import { serverKeys } from './keys.ts';
import { Sealer } from './sealed.ts';
import { SqliteLearnerStore } from './sqlite-store.ts';
import { PgLearnerStore } from './pg-store.ts';
import { removeEmptyDirs, startAnonymousPurge, type Purge } from './purge.ts';
import type { LearnerStore, S3Credentials } from './store.ts';
import type { StorageInfo } from '../http/me.ts';
import { guardEndpoint } from '../storage/content-safety.ts';
import { periodic } from '../periodic.ts';
import { Progress, type ProgressChange } from './progress.ts';
import type { Coordinator, Lead } from '../cluster/coordinator.ts';
import { InProcessCoordinator } from '../cluster/in-process.ts';
import { learnerBus, type LearnerBus } from '../cluster/learner-events.ts';
import type { PassedCheck } from './auto-checks.ts';
import { readPageSteps } from './page-steps.ts';

/** The bucket trainers' shared files live in (read-only for learners, under diffusion/). */
export const sharedBucket = 'atelier';

export interface LearnerEvents {
  changed: [learnerId: string, kind: 'git' | 's3'];
  /** A step of the learner's was ticked or unticked (by them on some page, or by a check passing). */
  progress: [learnerId: string, change: ProgressChange];
  /** A check of the learner's passed on its own (auto-checks), on whichever replica holds the lab. */
  passed: [learnerId: string, passed: PassedCheck];
  /** Events from other replicas may have been missed (the bus was down): what was learnt from them is stale. */
  resync: [];
}

export interface LearnerPlatform {
  context: LearnerContext & { storage: StorageInfo };
  /** Learner buckets, embedded or external: what the files API and checks read and write. */
  objects: LearnerObjects;
  repos: RepositoryStore;
  /** What every replica hears (this one's own events included), re-emitted on `events`. */
  events: EventEmitter<LearnerEvents>;
  /** Publishes learner events to every replica (server/cluster/learner-events.ts). */
  bus: LearnerBus;
  /** The periodic purge of anonymous learners (its tick, for tests and tools). */
  purge: Purge;
  /** Serves forge and (embedded mode) S3 requests; returns false for anything else (the site and API's). */
  dispatch(req: IncomingMessage, res: ServerResponse): boolean;
  /** The embedded S3 endpoint alone (what the S3 origin serves); undefined with an external S3. */
  s3?: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

/** A lab as the external-mode poll sees it (a `Session` fits). */
export interface RunningLab {
  learnerId?: string;
  lab: LabDefinition;
  status: string;
}

export interface PlatformOptions {
  dataDir: string;
  /** `postgres://…`: the learner store on PostgreSQL; SQLite in dataDir when absent. */
  databaseUrl?: string | undefined;
  /** ATELIER_SECRET_KEY_FILE: the one secret every key derives from; files in dataDir/keys when absent. */
  secretKeyFile?: string | undefined;
  /** What replicas share (events, leadership); this server alone when absent. */
  coordinator?: Coordinator;
  labsDir: string;
  labs: ReadonlyMap<string, LabDefinition>;
  driver: Driver;
  region: string;
  /** Base URL of the lab server as labs reach it (through the gateway). */
  labSideOrigin: () => string;
  log: (message: string, error?: unknown) => void;
  /** Where buckets live; embedded when absent. */
  s3?: S3Mode;
  /** External mode: the labs whose `s3.object` keys are polled (see pollS3Evidence). */
  runningLabs?: () => Iterable<RunningLab>;
  /** Period of that poll (ms); 5 s when absent. */
  s3PollMs?: number;
  /** Embedded mode: per-learner quotas, multipart expiry and request cap; unlimited when absent. */
  s3Limits?: S3Limits;
  /** Progress worth an operator's eye (the object index being built from an older data directory). */
  info?: (message: string) => void;
  /** The embedded endpoint's origin as browsers reach it (http/origins.ts). */
  contentOrigin: () => string;
  /** Lifetime of embedded learner credentials (ms); 24 h when absent. */
  s3CredentialTtlMs?: number;
  /** Cap on presigned URLs' life at the embedded endpoint (ms); 7 days (AWS's own) when absent. */
  presignMaxMs?: number;
  /** Anonymous learners unseen this long with no data are deleted (ms); a week when absent. */
  anonymousTtlMs?: number;
  /** New learner identities per client address and hour; 1000 when absent. */
  newLearnersPerHour?: number;
  /** The forge's timeouts, push size, per-learner quotas and slots; server/forge's defaults when absent. */
  forgeLimits?: Partial<ForgeLimits>;
  /** The built site, whose pages' steps progress is kept for; no page has steps when absent. */
  siteDir?: string;
  /** The lab gateway's certificate, as a path inside labs (their AWS_CA_BUNDLE); none without TLS. */
  caBundle?: string;
  /** Whether this server runs a service of the catalogue (VS Code only where setup installed it). */
  installed?: (kind: ServiceKind) => boolean;
}

/**
 * Learner ids are `u` + 11 characters (mint.ts): the session policy lets learners read
 * the `diffusion/` of those buckets and of the shared one only, with patterns that cannot span a
 * `/` (see session-policy.ts) and keep them out of other tenants' buckets on the same S3.
 */
export const diffusionBuckets = [sharedBucket, 'u???????????'];

/**
 * External mode: the server does not see labs write to the external S3, so every `intervalMs`
 * it HEADs the keys of the `s3.object` checks of running learner labs and announces a learner's
 * bucket as changed when one of them appeared, changed or went (auto-checks then run those
 * checks). Bounded: one round at a time, one request at a time, only those keys; the first
 * round that sees a learner records their state without announcing it. Given `lead`, one replica
 * polls for the deployment (`runningLabs` then lists every replica's labs) and the bus takes the
 * change to the replica holding the lab.
 */
export function pollS3Evidence(
  objects: Pick<LearnerObjects, 'head'>,
  runningLabs: () => Iterable<RunningLab>,
  onChange: (learnerId: string) => void,
  log: (message: string, error?: unknown) => void,
  intervalMs = 5_000,
  lead?: Lead,
): { round(): Promise<void>; stop(): Promise<void> } {
  const seen = new Map<string, string>();
  const run = async (): Promise<void> => {
    const keys = new Map<string, Set<string>>();
    for (const lab of runningLabs()) {
      if (lab.status !== 'running' || !lab.learnerId) continue;
      for (const check of Object.values(lab.lab.checks)) {
        if (check.kind !== 's3.object') continue;
        const set = keys.get(lab.learnerId) ?? new Set<string>();
        for (const key of everyLanguage(check.key)) set.add(key);
        keys.set(lab.learnerId, set);
      }
    }
    for (const learnerId of seen.keys()) if (!keys.has(learnerId)) seen.delete(learnerId);
    for (const [learnerId, wanted] of keys) {
      try {
        const parts: string[] = [];
        for (const key of [...wanted].sort()) {
          const object = await objects.head(learnerId, key);
          parts.push(object ? `${key}\0${object.etag}\0${object.size}` : `${key}\0-`);
        }
        const state = parts.join('\n');
        const before = seen.get(learnerId);
        seen.set(learnerId, state);
        if (before !== undefined && before !== state) onChange(learnerId);
      } catch (error) {
        log(`s3 evidence poll: ${learnerId}`, error);
      }
    }
  };
  const timer = periodic(intervalMs, run, (error) => log('s3 evidence poll', error), lead && { lead, name: 's3-evidence-poll' });
  return { round: timer.run, stop: timer.stop };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((path) => join(dir, path))
    .filter((path) => statSync(path).isFile());
}

export async function createLearnerPlatform(options: PlatformOptions): Promise<LearnerPlatform> {
  const { dataDir } = options;
  const mode = options.s3 ?? { mode: 'embedded' };
  for (const dir of ['keys', 'forge', ...(mode.mode === 'embedded' ? ['s3'] : [])]) mkdirSync(join(dataDir, dir), { recursive: true, mode: 0o700 });
  const keys = serverKeys({ keysDir: join(dataDir, 'keys'), secretKeyFile: options.secretKeyFile });
  const storeOptions = {
    sealer: new Sealer(keys.sealing),
    ...(options.s3CredentialTtlMs === undefined ? {} : { s3CredentialTtlMs: options.s3CredentialTtlMs }),
  };
  const store: LearnerStore = options.databaseUrl
    ? await PgLearnerStore.open({ ...storeOptions, url: options.databaseUrl, onError: (error) => options.log('learner store: idle connection', error) })
    : new SqliteLearnerStore({ ...storeOptions, path: join(dataDir, 'learners.db') });
  const repos = new RepositoryStore(join(dataDir, 'forge'));
  const events = new EventEmitter<LearnerEvents>();
  const coordinator = options.coordinator ?? new InProcessCoordinator((error, context) => options.log(context, error));
  const bus = learnerBus(coordinator, events, (error, context) => options.log(context, error));

  let objects: LearnerObjects;
  let credentialsFor: (learnerId: string) => Promise<S3Credentials>;
  /** Embedded mode: the S3 endpoint served beside the forge. */
  let s3: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  let external: ExternalS3 | undefined;
  let poll: ReturnType<typeof pollS3Evidence> | undefined;
  let closeObjects: (() => Promise<void>) | undefined;
  /** Whether the learner's bucket holds objects or uploads, and the directories left when it does not. */
  let bucketInUse: (learnerId: string) => Promise<boolean>;
  let bucketDirs: (learnerId: string) => string[] = () => [];
  if (mode.mode === 'external') {
    const remote = new ExternalS3({
      endpoint: mode.endpoint,
      region: options.region,
      adminAccessKeyId: mode.adminAccessKeyId,
      adminSecretAccessKey: mode.adminSecretAccessKey,
      durationSeconds: Math.round(mode.credentialTtl / 1000),
      ...(mode.roleArn ? { roleArn: mode.roleArn } : {}),
      ...(mode.stsEndpoint ? { stsEndpoint: mode.stsEndpoint } : {}),
      policy: { otherBuckets: diffusionBuckets },
    });
    external = remote;
    objects = {
      head: (bucket, key) => remote.head(bucket, key),
      list: (bucket) => remote.list(bucket),
      folder: (bucket, prefix, max) => remote.folder(bucket, prefix, max),
      read: (bucket, key) => remote.read(bucket, key),
      // A learner may upload from the page before anything created their bucket.
      put: async (bucket, key, body, contentType) => {
        await remote.ensureBucket(bucket);
        return remote.put(bucket, key, body, contentType);
      },
      delete: (bucket, key) => remote.delete(bucket, key),
    };
    credentialsFor = (learnerId) => remote.credentialsFor(learnerId);
    bucketInUse = async (learnerId) => (await objects.list(learnerId)).length > 0;
    if (options.runningLabs) poll = pollS3Evidence(objects, options.runningLabs, (learnerId) => bus.changed(learnerId, 's3'), options.log, options.s3PollMs, coordinator.lead);
  } else {
    const limits = options.s3Limits;
    const objectStore = new ObjectStore(join(dataDir, 's3'), {
      // The trainers' shared bucket is theirs to fill: only learner buckets have quotas.
      ...(limits ? { limits: (bucket: string) => (bucket === sharedBucket ? undefined : { maxBytes: limits.maxBytes, maxObjects: limits.maxObjects }), multipartTtl: limits.multipartTtl } : {}),
      log: options.info ?? (() => undefined),
    });
    // Indexes a data directory from before the object index, before anything is served.
    await objectStore.ready();
    closeObjects = () => objectStore.close();
    objects = embeddedObjects(objectStore);
    credentialsFor = (learnerId) => store.s3Credentials(learnerId);
    bucketInUse = async (learnerId) => (await objectStore.hasObjects(learnerId)) || (await objectStore.listUploads(learnerId)).length > 0;
    bucketDirs = (learnerId) => ['objects', 'uploads', ''].map((sub) => join(dataDir, 's3', 'buckets', learnerId, sub));
    const endpoint = createS3Handler({
      root: join(dataDir, 's3'),
      store: objectStore,
      region: options.region,
      credentials: {
        byAccessKey: async (accessKeyId) => {
          const credential = await store.s3CredentialsByAccessKey(accessKeyId);
          return credential && { ...credential, bucket: credential.learnerId };
        },
      },
      bucketExists: async (bucket) => bucket === sharedBucket || (await store.get(bucket)) !== undefined,
      onWrite: (bucket) => bus.changed(bucket, 's3'),
      log: options.log,
      ...(limits ? { maxConcurrentPerLearner: limits.maxConcurrentPerLearner } : {}),
    });
    s3 = guardEndpoint(endpoint, options.presignMaxMs ?? 7 * 24 * 3600_000);
  }

  const forge = createForgeHandler({
    root: join(dataDir, 'forge'),
    store: repos,
    auth: { byToken: async (token) => { const learnerId = await store.learnerByGitToken(token); return learnerId ? { learnerId } : undefined; } },
    onRequest: (event) => {
      if (event.action === 'git-receive-pack' && event.outcome.ok) bus.changed(event.learnerId, 'git');
    },
    onError: (error, context) => options.log(`forge: ${context}`, error),
    ...(options.forgeLimits ? { limits: options.forgeLimits } : {}),
  });

  // Trainers' shared files (labs/<id>/<from>) are published under the shared bucket at start.
  for (const lab of options.labs.values()) {
    const shared = lab.services.s3?.shared;
    if (!shared) continue;
    const from = join(options.labsDir, lab.id, shared.from);
    for (const file of filesUnder(from)) {
      const key = shared.to + relative(from, file).split(sep).join('/');
      await objects.put(sharedBucket, key, createReadStream(file), key.endsWith('.csv') ? 'text/csv' : 'application/octet-stream');
    }
  }

  const launch: LaunchServices = {
    store,
    driver: options.driver,
    labSideOrigin: options.labSideOrigin,
    region: options.region,
    s3Credentials: credentialsFor,
    ...(mode.mode === 'external' ? { s3Endpoint: mode.endpoint } : {}),
    repositoryExists: (learnerId, name) => repos.exists(learnerId, name),
    ...(options.installed ? { installed: options.installed } : {}),
    ...(options.caBundle ? { caBundle: options.caBundle } : {}),
    seedRepositories: async (learnerId, lab) => {
      for (const repo of lab.services.git?.repos ?? []) {
        await repos.ensureFromSeed(learnerId, repo.name, join(options.labsDir, lab.id, repo.from));
      }
    },
  };

  const purge = startAnonymousPurge({
    store,
    ttlMs: options.anonymousTtlMs ?? 7 * 24 * 3600e3,
    holdsData: async (learnerId) => (await repos.list(learnerId)).length > 0 || (await bucketInUse(learnerId)),
    inUse: (learnerId) => [...(options.runningLabs?.() ?? [])].some((lab) => lab.learnerId === learnerId),
    remove: (learnerId) => removeEmptyDirs([repos.learnerDir(learnerId), ...bucketDirs(learnerId)]),
    log: options.log,
    lead: coordinator.lead,
  });

  const storage: StorageInfo = {
    endpointFor: mode.mode === 'external' ? () => mode.endpoint : () => options.contentOrigin(),
    region: options.region,
    credentialsFor,
    // STS sessions cannot be revoked: with an external S3, old keys live out their lifetime.
    ...(mode.mode === 'external' ? {} : { rotateCredentials: (learnerId: string) => store.rotateS3Credentials(learnerId) }),
  };

  return {
    context: {
      store,
      cookieSecret: keys.cookie,
      newLearnersPerHour: options.newLearnersPerHour ?? 1000,
      launch,
      storage,
      progress: new Progress(store, readPageSteps(options.siteDir ?? ''), (learnerId, change) => bus.progress(learnerId, change)),
      evidence: (learnerId) => ({
        learnerId,
        bucket: learnerId,
        sharedBucket,
        forge: {
          exists: (id, repo) => repos.exists(id, repo),
          hasPath: (id, repo, path, opts) => repos.hasPath(id, repo, path, opts ?? {}),
          repoUrl: (repo) => `${options.labSideOrigin()}/git/${learnerId}/${repo}.git`,
          hasCommit: async (repo, sha) =>
            /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha) &&
            repos.exists(learnerId, repo) &&
            (await runGit(['cat-file', '-e', `${sha}^{commit}`], { gitDir: repos.gitDir(learnerId, repo) })).code === 0,
        },
        objects: { head: (bucket, key) => objects.head(bucket, key), read: (bucket, key) => objects.read(bucket, key) },
        account: async () => {
          const git = (await store.get(learnerId))?.git;
          const token = await store.gitToken(learnerId);
          return { GIT_USER_NAME: git?.name ?? '', GIT_USER_MAIL: git?.email ?? '', ...(token ? { GIT_PERSONAL_ACCESS_TOKEN: token } : {}) };
        },
        secretGroup: (group) => store.secretGroup(learnerId, group),
        passes: {
          record: (lab, check, instance) => store.recordCheckPass(learnerId, lab, check, instance),
          last: async (lab, check) => (await store.lastCheckPass(learnerId, lab, check))?.instance,
        },
      }),
    },
    objects,
    repos,
    purge,
    events,
    bus,
    ...(s3 ? { s3 } : {}),
    dispatch(req, res) {
      if (isForgeRequest(req)) forge(req, res);
      else if (s3 && isS3Request(req)) s3(req, res);
      else return false;
      return true;
    },
    close: async () => {
      await poll?.stop();
      await purge.stop();
      bus.close();
      if (!options.coordinator) await coordinator.close();
      external?.close();
      await closeObjects?.();
      await store.close();
    },
  };
}
