/**
 * The caller's own learner data, as the datalab's "My account" and "My secrets" show it:
 *   GET /api/me · PUT /api/me/git · POST /api/me/git/token · POST /api/me/s3/keys
 *   GET /api/me/secrets · PUT /api/me/secrets/:group · DELETE /api/me/secrets/:group
 * Secret values go in and never come back out: only the learner's own labs receive them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { LearnerStore, S3Credentials } from '../learners/store.ts';
import { ApiError, parseWith } from './errors.ts';
import { currentLearner, ensureLearner, requireLearner } from './identity.ts';
import { languageOf } from './language.ts';

export const gitSettingsBody = z.object({
  name: z.string().trim().max(100),
  email: z.union([z.literal(''), z.email().max(200)]),
});

/** Lower-case letters, digits, `-` and `_` (the datalab practical's own group is `projet_patate`). */
export const secretGroupName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, - and _, 32 at most, starting with a letter or digit');
/**
 * Groups one learner may keep: each holds up to 50 variables of 8 KiB, so without a cap a
 * learner could fill the store one group at a time. The datalab's own practical uses one.
 */
export const maxSecretGroups = 20;

const variableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/);
/** Variables of a group; at most 50, once the kept ones are added. */
export const maxSecretVariables = 50;

export const secretGroupBody = z.object({
  vars: z
    .record(variableName, z.string().max(8192))
    .refine((vars) => Object.keys(vars).length <= maxSecretVariables, { message: 'at most 50 variables' }),
  /**
   * Variables whose saved value stays as it is: values never come back to the page, so editing a
   * group names what it keeps rather than resending it (a variable neither set nor kept is removed).
   */
  keep: z.array(variableName).max(maxSecretVariables).default([]),
});

export interface StorageInfo {
  /** S3 endpoint as seen from the learner's browser (scheme, host, port): this server's S3 origin, or the external S3's. */
  endpointFor(request: FastifyRequest): string;
  region: string;
  /** The learner's current S3 credentials (stored, or minted by STS for an external S3). */
  credentialsFor(learnerId: string): Promise<S3Credentials>;
  /** New credentials, every earlier key refused from now on; absent where keys cannot be revoked (STS). */
  rotateCredentials?(learnerId: string): Promise<S3Credentials>;
}

/** What GET /api/me and POST /api/me/s3/keys say of S3. */
function s3View(request: FastifyRequest, storage: StorageInfo, bucket: string, s3: S3Credentials) {
  return {
    endpoint: storage.endpointFor(request),
    region: storage.region,
    bucket,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    sessionToken: s3.sessionToken,
    expiresAt: new Date(s3.expiresAt).toISOString(),
  };
}

export function originOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

export function registerMeRoutes(app: FastifyInstance, store: LearnerStore, storage: StorageInfo): void {
  app.get('/api/me', async (request, reply) => {
    const id = await ensureLearner(request, reply, store);
    const learner = (await store.get(id))!;
    const s3 = await storage.credentialsFor(id);
    return {
      learner: { id },
      git: { ...learner.git, forgeUrl: `${originOf(request)}/git/${id}`, hasToken: (await store.gitToken(id)) !== undefined },
      s3: { ...s3View(request, storage, id, s3), rotatable: storage.rotateCredentials !== undefined },
    };
  });

  app.post('/api/me/s3/keys', async (request, reply) => {
    const id = await ensureLearner(request, reply, store);
    if (!storage.rotateCredentials) throw new ApiError('s3_keys_fixed');
    return { s3: s3View(request, storage, id, await storage.rotateCredentials(id)) };
  });

  app.put('/api/me/git', async (request, reply) => {
    const id = await ensureLearner(request, reply, store);
    const git = parseWith(gitSettingsBody, request.body, languageOf(request.headers));
    await store.setGit(id, git);
    return { git };
  });

  app.post('/api/me/git/token', async (request, reply) => {
    const id = await ensureLearner(request, reply, store);
    return { token: await store.rotateGitToken(id) };
  });

  app.get('/api/me/secrets', async (request) => {
    const id = await currentLearner(request, store);
    if (!id) return { groups: [] };
    return { groups: (await store.secretGroups(id)).map((group) => ({ ...group, updatedAt: new Date(group.updatedAt).toISOString() })) };
  });

  app.put<{ Params: { group: string } }>('/api/me/secrets/:group', async (request, reply) => {
    const language = languageOf(request.headers);
    const group = parseWith(secretGroupName, request.params.group, language, 'group');
    const { vars, keep } = parseWith(secretGroupBody, request.body, language);
    const id = await ensureLearner(request, reply, store);
    const groups = await store.secretGroups(id);
    if (groups.length >= maxSecretGroups && !groups.some((existing) => existing.group === group)) {
      throw new ApiError('too_many_secret_groups', { max: maxSecretGroups });
    }
    const saved = (await store.secretGroup(id, group)) ?? {};
    const kept = Object.fromEntries(keep.filter((name) => !(name in vars) && name in saved).map((name) => [name, saved[name]!]));
    const merged = { ...kept, ...vars };
    if (Object.keys(merged).length > maxSecretVariables) throw new ApiError('bad_request', { field: 'vars', problem: 'at most 50 variables' }, 'vars');
    await store.putSecretGroup(id, group, merged);
    return { group, names: Object.keys(merged).sort() };
  });

  app.delete<{ Params: { group: string } }>('/api/me/secrets/:group', async (request, reply) => {
    const group = parseWith(secretGroupName, request.params.group, languageOf(request.headers), 'group');
    const id = await requireLearner(request, store);
    if (!(await store.deleteSecretGroup(id, group))) throw new ApiError('not_found');
    return reply.code(204).send();
  });
}

