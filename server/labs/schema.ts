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

export const checkDefinition = z.discriminatedUnion('kind', [fileCheck, shellCheck]);

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
    checks: z.record(checkId, checkDefinition).default({}),
  })
  .strict();

export type LabDefinition = z.output<typeof labDefinition>;
export type CheckDefinition = z.output<typeof checkDefinition>;
export type FileCheck = z.output<typeof fileCheck>;
export type ShellCheck = z.output<typeof shellCheck>;
