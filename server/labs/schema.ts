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
  hint: localized.optional().describe('A sentence added after the failure, pointing the learner to what to do next.'),
  expect: localized.optional().describe('What the learner is expected to have done, shown when the check fails.'),
  requires: z
    .object({
      check: z.string().describe('The id of another check of this lab.'),
      instance: z
        .enum(['same', 'new'])
        .describe('`same`: that check passed in this lab instance (a file removed that this workspace really had); `new`: in an earlier one ("the file is gone after Delete and a relaunch", which `rm` alone must not fake).'),
    })
    .strict()
    .optional()
    .describe('Passes only once another check of the lab passed, in the same lab instance or in an earlier one.'),
  solution: perLanguage(z.string().min(1).max(4000))
    .optional()
    .describe('What a learner who asks ("Show the solution") reads: the step\'s commands, shown as a code block. One text for both languages, or one per language (the example names differ).'),
  solve: perLanguage(z.string().min(1).max(16_000))
    .optional()
    .describe('A bash script run in the lab as the learner that makes the check pass ("Skip this step", "Rebuild my lab up to this step"). It must be idempotent: a rebuild may run it in a lab where the step is already done.'),
};

export const fileCheck = z
  .object({
    kind: z.literal('file').describe('A path exists in the lab (or does not, with `absent`).'),
    path: perLanguage(labPath).describe('The path in the lab: absolute or starting with `~` (the lab user\'s home); one string, or one per language.'),
    type: z.enum(['file', 'dir', 'any']).default('any').describe('What the path must be.'),
    contains: z.string().optional().describe('A regular expression the file\'s content must match (files only).'),
    sameAsShared: z
      .string()
      .regex(/^diffusion\/[^\0]+$/, 'expected a key under diffusion/')
      .optional()
      .describe('The file must hold exactly the bytes of this object of the shared bucket (e.g. a copy of a trainer\'s file).'),
    absent: z.boolean().default(false).describe('Invert: pass when the path does not exist (e.g. "delete the file").'),
    ...checkBase,
  })
  .strict();

export const shellCheck = z
  .object({
    kind: z.literal('shell').describe('A command run in the lab passes.'),
    run: z.string().min(1).describe('Run with bash inside the lab as the learner, without profile or rc files; passes on exit status 0.'),
    stdout: z.string().optional().describe('A regular expression the standard output must match.'),
    failure: localized.optional().describe('What the learner reads when the command fails: one sentence saying what was found.'),
    ...checkBase,
  })
  .strict();

const repoName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a repository name such as tp-datalab');

/** A commit reachable from the default branch of the learner's forge repository has the path. */
export const gitPushedCheck = z
  .object({
    kind: z.literal('git.pushed').describe('A commit reachable from the default branch of the learner\'s forge repository has the path.'),
    repo: repoName.describe('The learner\'s forge repository, by name (one of services.git.repos).'),
    path: perLanguage(z.string().min(1).regex(/^[^/]/, 'expected a path inside the repository')).describe('A path inside the repository; one string, or one per language.'),
    contains: z.string().optional().describe('A regular expression the pushed file\'s content must match.'),
    ...checkBase,
  })
  .strict();

/**
 * The path in the lab is a clone of the learner's forge repository: the top of a git work tree
 * whose `origin` is that repository's URL and whose HEAD commit exists there.
 */
export const gitClonedCheck = z
  .object({
    kind: z.literal('git.cloned').describe('A path in the lab is a clone of the learner\'s forge repository: the top of a work tree whose `origin` is that repository and whose HEAD commit exists there.'),
    repo: repoName.describe('The learner\'s forge repository, by name.'),
    path: perLanguage(labPath).describe('Where the clone must be in the lab; one string, or one per language.'),
    ...checkBase,
  })
  .strict();

const objectKey = z.string().min(1).max(1024);

/** An object exists in the learner's own bucket. */
export const s3ObjectCheck = z
  .object({
    kind: z.literal('s3.object').describe('An object exists in the learner\'s own bucket.'),
    key: perLanguage(objectKey).describe('The object\'s key in the learner\'s bucket; one string, or one per language.'),
    minSize: z.number().int().min(0).optional().describe('The smallest size the object may have, in bytes.'),
    contentType: z.string().optional().describe('The start of the Content-Type the object was stored with (`text/csv` matches `text/csv; charset=utf-8`).'),
    contains: z.string().optional().describe('A regular expression the object\'s first 64 KiB must match.'),
    sameAs: perLanguage(objectKey).optional().describe('The object must hold exactly the bytes of this other object of the learner\'s bucket.'),
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
    kind: z.literal('notebook').describe('A notebook of the lab has an executed code cell whose source (and output) match; read inside the lab, never by the server.'),
    path: perLanguage(labPath.regex(/\.ipynb$/, 'expected the path of a .ipynb notebook'))
      .optional()
      .describe('The notebook; without it, any notebook of the lab\'s workspace counts.'),
    source: cellPattern.describe('A regular expression (Python\'s `re`, keep to what JavaScript shares) the executed cell\'s source must match.'),
    output: cellPattern.optional().describe('A regular expression one of that cell\'s outputs must match (stream text, text/plain results and displays, errors as `Name: value`).'),
    cell: localized
      .optional()
      .describe('What the awaited cell does, completing "none …" / « aucune ne … » in the failure sentence ("reads a CSV from s3://").'),
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
    kind: z.literal('env').describe('The lab\'s environment holds what the platform injected, compared with the learner\'s current values.'),
    account: z.array(z.enum(accountVariables)).default([]).describe('Variables from the learner\'s account that must hold its current values.'),
    secret: perLanguage(envName).optional().describe('A variable of the secret group chosen at launch that must hold that group\'s value.'),
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
        repos: z
          .array(
            z
              .object({
                name: repoName.describe('The repository\'s name in the learner\'s forge.'),
                from: z.string().regex(/^[^/.][^\0]*$/, 'expected a folder inside the lab').describe('A folder of labs/<id>/ holding its first content.'),
              })
              .strict(),
          )
          .default([])
          .describe('Repositories created in the learner\'s forge at launch from labs/<id>/<from> (if missing).'),
      })
      .strict()
      .optional()
      .describe('The learner\'s git forge.'),
    s3: z
      .object({
        shared: z
          .object({
            from: z.string().regex(/^[^/.][^\0]*$/).describe('A folder of labs/<id>/.'),
            to: z.string().regex(/^diffusion\/[^\0]*$/, 'expected a key prefix under diffusion/').describe('The key prefix, under diffusion/.'),
          })
          .strict()
          .optional()
          .describe('Files of labs/<id>/<from> published read-only to every learner under the shared bucket\'s diffusion/.'),
      })
      .strict()
      .optional()
      .describe('The S3 storage.'),
  })
  .strict();

export const resources = z
  .object({
    cpu: z.number().positive().max(64).default(1).describe('Processor cores (fractions allowed).'),
    memory: byteSize.prefault('512Mi').describe('Memory limit, in bytes or as a size such as 512Mi or 1Gi.'),
    disk: byteSize.prefault('256Mi').describe('Size of the home and /tmp, in bytes or as a size such as 256Mi.'),
    pids: z.number().int().min(8).max(4096).default(256).describe('How many processes the lab may run at once.'),
  })
  .strict();

/** What the learner can choose at launch, as in the datalab's catalogue (server/services/catalog.ts). */
export const serviceKinds = ['terminal', 'jupyterlab', 'vscode'] as const;
export type ServiceKind = (typeof serviceKinds)[number];

/** Per service, the lab's resources it needs instead (JupyterLab's kernels want more memory than a shell). */
const catalogEntry = z
  .object({
    start: z
      .enum(['open', 'launch'])
      .default('open')
      .describe('When the service starts: on the learner\'s first "Open" (a lab whose service is never opened spends nothing on it), or as soon as the lab runs, so that Open finds it up (a notebook-first course).'),
    resources: z
      .object({
        cpu: z.number().positive().max(64).optional().describe('Processor cores.'),
        memory: byteSize.optional().describe('Memory limit, such as 1536Mi.'),
        disk: byteSize.optional().describe('Size of the home and /tmp.'),
        pids: z.number().int().min(8).max(4096).optional().describe('How many processes at once.'),
      })
      .strict()
      .optional()
      .describe('The lab\'s resources when this service is chosen, replacing its own (JupyterLab\'s kernels want more memory than a shell).'),
  })
  .strict();

export const labCatalog = z
  .partialRecord(z.enum(serviceKinds), catalogEntry)
  .refine((catalog) => Object.keys(catalog).length > 0, 'expected at least one service: terminal, jupyterlab or vscode');

export const labDefinition = z
  .object({
    id: checkId.describe('The lab\'s id, the name of its folder under labs/, used by `:::launch{lab="…"}`.'),
    title: localized.describe('The lab\'s name in both languages, shown on the launch card and in "My services".'),
    description: localized.optional().describe('A sentence on what the lab is for.'),
    course: z
      .string()
      .regex(/^\/(?:[a-z0-9-]+\/)*$/, 'expected a site path such as /datalab-tp/')
      .optional()
      .describe('The course that launches it, a site path without language (`/datalab-tp/`): "My services" links back to it.'),
    workspace: z.string().regex(/^\/[^\0]*$/, 'expected an absolute path').default('/home/onyxia/work').describe('The working directory terminals open in.'),
    image: z.string().optional().describe('The container image of the lab\'s pods on Kubernetes (the deployment\'s lab image otherwise).'),
    resources: resources.prefault({}).describe('What one instance of the lab may use.'),
    ttl: duration.prefault('2h').describe('How long a lab lives before it is deleted (Add time extends it), such as 90m or 2h.'),
    idle: duration.prefault('30m').describe('How long a lab may go without a terminal or a request before it is deleted.'),
    pool: z.number().int().min(0).max(1000).default(0).describe('Ready instances kept provisioned for launches to claim (a warm pool); 0: each launch makes its own.'),
    env: z.record(envName, z.string()).default({}).describe('Environment variables of the lab, by name.'),
    services: labServices.default({}).describe('What the platform provides around the shell, like a datalab service\'s configuration.'),
    catalog: labCatalog.prefault({ terminal: {} }).describe('The services offered at launch (terminal, jupyterlab, vscode), in the order shown; the first is preselected.'),
    checks: z.record(checkId, checkDefinition).default({}).describe('The lab\'s checks by id, as pages name them in `:check[id]`.'),
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
