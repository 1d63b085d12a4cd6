/**
 * The learner side of the platform, assembled once: durable store (SQLite), forge (git smart
 * HTTP), S3 endpoint and object store, launch services, and the events that tell which
 * learner's forge or bucket just changed (so their checks can tick on their own).
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, readdirSync, createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, relative, sep } from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { Driver } from '../drivers/driver.ts';
import type { LabDefinition } from '../labs/schema.ts';
import { createForgeHandler, isForgeRequest, RepositoryStore } from '../forge/index.ts';
import { createS3Handler, isS3Request } from '../storage/index.ts';
import { ObjectStore } from '../storage/object-store.ts';
import type { LearnerContext } from './context.ts';
import type { LaunchServices } from './launch.ts';
import { loadOrCreateKey } from './keys.ts';
import { Sealer } from './sealed.ts';
import { SqliteLearnerStore } from './sqlite-store.ts';
import type { StorageInfo } from '../http/me.ts';
import { originOf } from '../http/me.ts';

/** The bucket trainers' shared files live in (read-only for learners, under diffusion/). */
export const sharedBucket = 'atelier';

export interface LearnerEvents {
  changed: [learnerId: string, kind: 'git' | 's3'];
}

export interface LearnerPlatform {
  context: LearnerContext & { storage: StorageInfo };
  objects: ObjectStore;
  repos: RepositoryStore;
  events: EventEmitter<LearnerEvents>;
  /** Serves forge and S3 requests; returns false for anything else (the site and API's). */
  dispatch(req: IncomingMessage, res: ServerResponse): boolean;
  close(): void;
}

export interface PlatformOptions {
  dataDir: string;
  labsDir: string;
  labs: ReadonlyMap<string, LabDefinition>;
  driver: Driver;
  region: string;
  /** Base URL of the lab server as labs reach it (through the gateway). */
  labSideOrigin: () => string;
  log: (message: string, error?: unknown) => void;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((path) => join(dir, path))
    .filter((path) => statSync(path).isFile());
}

export async function createLearnerPlatform(options: PlatformOptions): Promise<LearnerPlatform> {
  const { dataDir } = options;
  for (const dir of ['keys', 'forge', 's3']) mkdirSync(join(dataDir, dir), { recursive: true, mode: 0o700 });
  const store = new SqliteLearnerStore({ path: join(dataDir, 'learners.db'), sealer: Sealer.fromKeyFile(join(dataDir, 'keys', 'sealing.key')) });
  const repos = new RepositoryStore(join(dataDir, 'forge'));
  const objects = new ObjectStore(join(dataDir, 's3'));
  const events = new EventEmitter<LearnerEvents>();

  const forge = createForgeHandler({
    root: join(dataDir, 'forge'),
    store: repos,
    auth: { byToken: (token) => { const learnerId = store.learnerByGitToken(token); return learnerId ? { learnerId } : undefined; } },
    onRequest: (event) => {
      if (event.action === 'git-receive-pack' && event.outcome.ok) events.emit('changed', event.learnerId, 'git');
    },
    onError: (error, context) => options.log(`forge: ${context}`, error),
  });
  const s3 = createS3Handler({
    root: join(dataDir, 's3'),
    store: objects,
    region: options.region,
    credentials: {
      byAccessKey: (accessKeyId) => {
        const credential = store.s3CredentialsByAccessKey(accessKeyId);
        return credential && { ...credential, bucket: credential.learnerId };
      },
    },
    buckets: () => [sharedBucket, ...store.learnerIds()],
    onWrite: (bucket) => events.emit('changed', bucket, 's3'),
    log: options.log,
  });

  // Trainers' shared files (labs/<id>/<from>) are published under the shared bucket at start.
  for (const lab of options.labs.values()) {
    const shared = lab.services.s3?.shared;
    if (!shared) continue;
    const from = join(options.labsDir, lab.id, shared.from);
    for (const file of filesUnder(from)) {
      const key = shared.to + relative(from, file).split(sep).join('/');
      await objects.put(sharedBucket, key, [createReadStream(file)], { headers: { 'content-type': key.endsWith('.csv') ? 'text/csv' : 'application/octet-stream' }, metadata: {} });
    }
  }

  const launch: LaunchServices = {
    store,
    driver: options.driver,
    labSideOrigin: options.labSideOrigin,
    region: options.region,
    repositoryExists: (learnerId, name) => repos.exists(learnerId, name),
    seedRepositories: async (learnerId, lab) => {
      for (const repo of lab.services.git?.repos ?? []) {
        await repos.ensureFromSeed(learnerId, repo.name, join(options.labsDir, lab.id, repo.from));
      }
    },
  };

  const storage: StorageInfo = { endpointFor: (request: FastifyRequest) => originOf(request), region: options.region };

  return {
    context: {
      store,
      cookieSecret: loadOrCreateKey(join(dataDir, 'keys', 'cookie.key')),
      launch,
      storage,
      evidence: (learnerId) => ({
        learnerId,
        bucket: learnerId,
        forge: { exists: (id, repo) => repos.exists(id, repo), hasPath: (id, repo, path, opts) => repos.hasPath(id, repo, path, opts ?? {}) },
        objects: { head: (bucket, key) => objects.head(bucket, key) },
      }),
    },
    objects,
    repos,
    events,
    dispatch(req, res) {
      if (isForgeRequest(req)) forge(req, res);
      else if (isS3Request(req)) s3(req, res);
      else return false;
      return true;
    },
    close: () => store.close(),
  };
}
