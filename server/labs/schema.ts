/**
 * The schema of `labs/<id>/lab.yaml`. A lab is data, not code: this file is the whole contract
 * between trainers and the server, checked at build time (content plugins) and at server start.
 */
import { z } from 'zod';

const localized = z.object({ fr: z.string().min(1), en: z.string().min(1) }).strict();

const sizePattern = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|K|M|G)?$/;
const sizeUnits: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** "512Mi" → bytes, the Kubernetes quantity notation trainers already know from Onyxia's forms. */
export const byteSize = z
  .union([z.number().int().positive(), z.string().regex(sizePattern, 'expected a size such as 512Mi or 1Gi')])
  .transform((value) => {
    if (typeof value === 'number') return value;
    const [, amount, unit = ''] = sizePattern.exec(value)!;
    return Math.round(Number(amount) * sizeUnits[unit]!);
  });

const durationPattern = /^(\d+)\s*(s|m|h)$/;
const durationUnits: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3 };

/** "2h" → milliseconds. */
export const duration = z.string().regex(durationPattern, 'expected a duration such as 30m or 2h').transform((value) => {
  const [, amount, unit] = durationPattern.exec(value)!;
  return Number(amount) * durationUnits[unit!]!;
});

const checkId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lower-case letters, digits and dashes');

/** Paths in checks are inside the lab; `~` is the lab user's home. */
const labPath = z.string().regex(/^(~|\/)/, 'expected an absolute path or one starting with ~');

const checkBase = {
  hint: localized.optional(),
  /** What the learner is expected to have done, shown when the check fails. */
  expect: localized.optional(),
};

export const fileCheck = z
  .object({
    kind: z.literal('file'),
    path: labPath,
    type: z.enum(['file', 'dir', 'any']).default('any'),
    /** Optional regular expression the file's content must match (files only). */
    contains: z.string().optional(),
    /** Invert: pass when the path does not exist (e.g. "delete the file"). */
    absent: z.boolean().default(false),
    ...checkBase,
  })
  .strict();

export const shellCheck = z
  .object({
    kind: z.literal('shell'),
    /** Run with bash inside the lab as the learner; passes on exit status 0. */
    run: z.string().min(1),
    /** Optional regular expression stdout must match. */
    stdout: z.string().optional(),
    ...checkBase,
  })
  .strict();

const repoName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a repository name such as tp-datalab');

/** A commit reachable from the default branch of the learner's forge repository has the path. */
export const gitPushedCheck = z
  .object({
    kind: z.literal('git.pushed'),
    repo: repoName,
    path: z.string().min(1).regex(/^[^/]/, 'expected a path inside the repository'),
    /** Optional regular expression the pushed file's content must match. */
    contains: z.string().optional(),
    ...checkBase,
  })
  .strict();

/** An object exists in the learner's own bucket. */
export const s3ObjectCheck = z
  .object({
    kind: z.literal('s3.object'),
    key: z.string().min(1).max(1024),
    minSize: z.number().int().min(0).optional(),
    contentType: z.string().optional(),
    ...checkBase,
  })
  .strict();

export const checkDefinition = z.discriminatedUnion('kind', [fileCheck, shellCheck, gitPushedCheck, s3ObjectCheck]);

/** What the platform provides around the shell, like a datalab service's configuration. */
export const labServices = z
  .object({
    git: z
      .object({
        /** Repositories created in the learner's forge at launch from labs/<id>/<from> (if missing). */
        repos: z.array(z.object({ name: repoName, from: z.string().regex(/^[^/.][^\0]*$/, 'expected a folder inside the lab') }).strict()).default([]),
      })
      .strict()
      .optional(),
    s3: z
      .object({
        /** Files of labs/<id>/<from> published read-only to every learner under the shared bucket's diffusion/. */
        shared: z.object({ from: z.string().regex(/^[^/.][^\0]*$/), to: z.string().regex(/^diffusion\/[^\0]*$/, 'expected a key prefix under diffusion/') }).strict().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const resources = z
  .object({
    cpu: z.number().positive().max(64).default(1),
    memory: byteSize.prefault('512Mi'),
    disk: byteSize.prefault('256Mi'),
    pids: z.number().int().min(8).max(4096).default(256),
  })
  .strict();

export const labDefinition = z
  .object({
    id: checkId,
    title: localized,
    description: localized.optional(),
    workspace: z.string().regex(/^\/[^\0]*$/, 'expected an absolute path').default('/home/onyxia/work'),
    image: z.string().optional(),
    resources: resources.prefault({}),
    ttl: duration.prefault('2h'),
    idle: duration.prefault('30m'),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'), z.string()).default({}),
    services: labServices.default({}),
    checks: z.record(checkId, checkDefinition).default({}),
  })
  .strict();

export type LabDefinition = z.output<typeof labDefinition>;
export type CheckDefinition = z.output<typeof checkDefinition>;
export type FileCheck = z.output<typeof fileCheck>;
export type ShellCheck = z.output<typeof shellCheck>;
export type GitPushedCheck = z.output<typeof gitPushedCheck>;
export type S3ObjectCheck = z.output<typeof s3ObjectCheck>;
