/**
 * The schema of `labs/<id>/lab.yaml`. A lab is data, not code: this file is the whole contract
 * between trainers and the server, checked at build time (content plugins) and at server start.
 */
import { z } from 'zod';
import type { Language } from '../../i18n/index.ts';

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

/**
 * A value that may depend on the page's language: English pages use English example names
 * (my-folder where French pages say mon-dossier), so a check's path or key is one string for
 * both, or one per language; the check uses the language of the learner's page.
 */
function perLanguage<T extends z.ZodString>(value: T) {
  return z.union([value, z.object({ fr: value, en: value }).strict()]);
}
export type PerLanguage = string | { fr: string; en: string };

/** Paths in checks are inside the lab; `~` is the lab user's home. */
const labPath = z.string().regex(/^(~|\/)/, 'expected an absolute path or one starting with ~');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

const checkBase = {
  hint: localized.optional(),
  /** What the learner is expected to have done, shown when the check fails. */
  expect: localized.optional(),
  /**
   * Passes only once another check of the lab passed, in the same lab instance (`same`: e.g. a
   * file removed that this workspace really had) or in an earlier one (`new`: e.g. "the file is
   * gone after Delete and a relaunch", which `rm` alone must not fake).
   */
  requires: z.object({ check: z.string(), instance: z.enum(['same', 'new']) }).strict().optional(),
  /**
   * What a learner who asks ("Show the solution") reads: the step's commands, shown as a code
   * block. One text for both languages, or one per language (the example names differ).
   */
  solution: perLanguage(z.string().min(1).max(4000)).optional(),
  /**
   * A bash script run in the lab as the learner that makes the check pass ("Skip this step",
   * "Rebuild my lab up to this step"). It must be idempotent: a rebuild may run it in a lab where
   * the step is already done.
   */
  solve: perLanguage(z.string().min(1).max(16_000)).optional(),
};

export const fileCheck = z
  .object({
    kind: z.literal('file'),
    path: perLanguage(labPath),
    type: z.enum(['file', 'dir', 'any']).default('any'),
    /** Optional regular expression the file's content must match (files only). */
    contains: z.string().optional(),
    /** The file must hold exactly the bytes of this object of the shared bucket (e.g. a copy of a trainer's file). */
    sameAsShared: z.string().regex(/^diffusion\/[^\0]+$/, 'expected a key under diffusion/').optional(),
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
    /** What the learner reads when the command fails: one sentence saying what was found. */
    failure: localized.optional(),
    ...checkBase,
  })
  .strict();

const repoName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a repository name such as tp-datalab');

/** A commit reachable from the default branch of the learner's forge repository has the path. */
export const gitPushedCheck = z
  .object({
    kind: z.literal('git.pushed'),
    repo: repoName,
    path: perLanguage(z.string().min(1).regex(/^[^/]/, 'expected a path inside the repository')),
    /** Optional regular expression the pushed file's content must match. */
    contains: z.string().optional(),
    ...checkBase,
  })
  .strict();

/**
 * The path in the lab is a clone of the learner's forge repository: the top of a git work tree
 * whose `origin` is that repository's URL and whose HEAD commit exists there.
 */
export const gitClonedCheck = z
  .object({
    kind: z.literal('git.cloned'),
    repo: repoName,
    path: perLanguage(labPath),
    ...checkBase,
  })
  .strict();

const objectKey = z.string().min(1).max(1024);

/** An object exists in the learner's own bucket. */
export const s3ObjectCheck = z
  .object({
    kind: z.literal('s3.object'),
    key: perLanguage(objectKey),
    minSize: z.number().int().min(0).optional(),
    contentType: z.string().optional(),
    /** Optional regular expression the object's first 64 KiB must match. */
    contains: z.string().optional(),
    /** The object must hold exactly the bytes of this other object of the learner's bucket. */
    sameAs: perLanguage(objectKey).optional(),
    ...checkBase,
  })
  .strict();

/** A regular expression matched inside the lab by its Python (`re`): keep to what Python and JavaScript share. */
const cellPattern = z
  .string()
  .min(1)
  .max(1000)
  .refine((pattern) => {
    try {
      new RegExp(pattern, 'm');
      return true;
    } catch {
      return false;
    }
  }, 'expected a regular expression');

/**
 * A notebook has an executed code cell (execution_count set) whose source matches `source` and,
 * with `output`, one of whose outputs matches it too (stream text, text/plain results and
 * displays, errors as `Name: value`). Without `path`, any notebook of the lab's workspace counts.
 * The notebook is the learner's and may be huge or hostile: it is read and matched inside the
 * lab, never parsed by the server (server/checks/notebook.ts).
 */
export const notebookCheck = z
  .object({
    kind: z.literal('notebook'),
    path: perLanguage(labPath.regex(/\.ipynb$/, 'expected the path of a .ipynb notebook')).optional(),
    source: cellPattern,
    output: cellPattern.optional(),
    /** What the awaited cell does, completing "none …" / « aucune ne … » in the failure sentence ("reads a CSV from s3://"). */
    cell: localized.optional(),
    ...checkBase,
  })
  .strict();

/** Variables the platform injects from the learner's account, by the name labs receive. */
export const accountVariables = ['GIT_USER_NAME', 'GIT_USER_MAIL', 'GIT_PERSONAL_ACCESS_TOKEN'] as const;

/**
 * The lab's environment holds what the server injected: the account's current values
 * (`account`), and a variable of the secret group chosen at launch with that group's value
 * (`secret`). Read inside the lab, compared with the learner's store: never just "not empty".
 */
export const envCheck = z
  .object({
    kind: z.literal('env'),
    account: z.array(z.enum(accountVariables)).default([]),
    secret: perLanguage(envName).optional(),
    ...checkBase,
  })
  .strict()
  .refine((check) => check.account.length > 0 || check.secret !== undefined, 'expected account variables or a secret');

export const checkDefinition = z.discriminatedUnion('kind', [fileCheck, shellCheck, gitPushedCheck, gitClonedCheck, s3ObjectCheck, envCheck, notebookCheck]);

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

/** What the learner can choose at launch, as in the datalab's catalogue (server/services/catalog.ts). */
export const serviceKinds = ['terminal', 'jupyterlab', 'vscode'] as const;
export type ServiceKind = (typeof serviceKinds)[number];

/** Per service, the lab's resources it needs instead (JupyterLab's kernels want more memory than a shell). */
const catalogEntry = z
  .object({
    /**
     * When the service starts: on the learner's first "Open" (default; a lab whose service is never
     * opened spends nothing on it), or as soon as the lab runs, so that Open finds it up (a
     * notebook-first course: JupyterLab's own page takes ~2 s to load after its ~1 s start).
     */
    start: z.enum(['open', 'launch']).default('open'),
    resources: z
      .object({ cpu: z.number().positive().max(64).optional(), memory: byteSize.optional(), disk: byteSize.optional(), pids: z.number().int().min(8).max(4096).optional() })
      .strict()
      .optional(),
  })
  .strict();

export const labCatalog = z
  .partialRecord(z.enum(serviceKinds), catalogEntry)
  .refine((catalog) => Object.keys(catalog).length > 0, 'expected at least one service: terminal, jupyterlab or vscode');

export const labDefinition = z
  .object({
    id: checkId,
    title: localized,
    description: localized.optional(),
    /** The course that launches it, a site path without language (`/datalab-tp/`): "My services" links back to it. */
    course: z.string().regex(/^\/(?:[a-z0-9-]+\/)*$/, 'expected a site path such as /datalab-tp/').optional(),
    workspace: z.string().regex(/^\/[^\0]*$/, 'expected an absolute path').default('/home/onyxia/work'),
    image: z.string().optional(),
    resources: resources.prefault({}),
    ttl: duration.prefault('2h'),
    idle: duration.prefault('30m'),
    /** Ready instances kept provisioned for launches to claim (a warm pool); 0: each launch makes its own. */
    pool: z.number().int().min(0).max(1000).default(0),
    env: z.record(envName, z.string()).default({}),
    services: labServices.default({}),
    /** The services offered at launch, in the order shown; the first is preselected. */
    catalog: labCatalog.prefault({ terminal: {} }),
    checks: z.record(checkId, checkDefinition).default({}),
  })
  .strict()
  .superRefine((lab, context) => {
    for (const [id, check] of Object.entries(lab.checks)) {
      const required = check.requires?.check;
      if (required !== undefined && (required === id || !Object.hasOwn(lab.checks, required))) {
        context.addIssue({ code: 'custom', path: ['checks', id, 'requires', 'check'], message: `expected another check of this lab, not ${required}` });
      }
      // Such a check passes only in a later lab than another one: no script in this lab can do that.
      if (check.solve !== undefined && check.requires?.instance === 'new') {
        context.addIssue({ code: 'custom', path: ['checks', id, 'solve'], message: 'a check that requires a new instance cannot be solved by a script in the same lab: remove solve (solution may stay)' });
      }
    }
  });

export type LabDefinition = z.output<typeof labDefinition>;
export type CheckDefinition = z.output<typeof checkDefinition>;
export type FileCheck = z.output<typeof fileCheck>;
export type ShellCheck = z.output<typeof shellCheck>;
export type GitPushedCheck = z.output<typeof gitPushedCheck>;
export type S3ObjectCheck = z.output<typeof s3ObjectCheck>;
export type GitClonedCheck = z.output<typeof gitClonedCheck>;
export type EnvCheck = z.output<typeof envCheck>;
export type NotebookCheck = z.output<typeof notebookCheck>;
/** The value for the page's language. */
export function inLanguage(value: PerLanguage, language: Language): string {
  return typeof value === 'string' ? value : value[language];
}

/** Every value a per-language field can take (the server's own rechecks know no page). */
export function everyLanguage(value: PerLanguage): string[] {
  return typeof value === 'string' ? [value] : [...new Set([value.fr, value.en])];
}
