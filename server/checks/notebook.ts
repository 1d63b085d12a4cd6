/**
 * `kind: notebook`: a notebook (.ipynb) of the workspace, or the one at `path`, has an executed
 * code cell whose source (and output) match the step. A notebook is the learner's file, possibly
 * huge or hostile, so the server never parses it: notebook-scan.py reads and matches it inside the
 * lab, with the lab's Python, under bounds of its own, and prints one small JSON line, which is all
 * the server reads (bounded, validated) before saying in a sentence what it found.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { inLanguage, type NotebookCheck } from '../labs/schema.ts';
import { execWithin, labHome, type CheckContext, type Observation } from './types.ts';
import { nameAndFolder, resolveLabPath } from './file.ts';

const scanScript = readFileSync(join(import.meta.dirname, 'notebook-scan.py'), 'utf8');

/** Bounds of one scan, passed to notebook-scan.py (the notebook is never the server's work). */
export const notebookLimits = {
  /** Bytes read of one notebook; a bigger one is reported, not read. */
  maxBytes: 8 * 1024 * 1024,
  /** Notebooks read, newest first. */
  maxNotebooks: 50,
  /** Folders below the workspace a notebook may be in. */
  maxDepth: 4,
  /** Directory entries walked in all (a workspace of a million files is not walked whole). */
  maxEntries: 20_000,
  /** Address space of the scanning process: a parse that would need more fails as unreadable. */
  maxMemory: 384 * 1024 * 1024,
};

/** Characters of the scan's answer the server reads at most: a few names and counts. */
const maxAnswer = 8 * 1024;

const names = z.array(z.string().max(4096)).max(3);

/** The one line notebook-scan.py prints. */
export const scanAnswer = z.union([
  z.object({ error: z.string().max(200) }).strict(),
  z
    .object({
      notebooks: z.number().int().min(0),
      read: z.number().int().min(0),
      executed: z.number().int().min(0),
      names,
      tooLarge: names,
      unreadable: names,
      matched: z.string().max(4096).nullable(),
      /** The first notebook with a cell whose source matched and whose output did not, and its error if it raised one. */
      near: z.object({ name: z.string().max(4096), error: z.string().max(400).nullable() }).strict().nullable(),
      partial: z.boolean(),
      busiest: z.string().max(4096).nullable(),
      outside: z.boolean().optional(),
    })
    .strict(),
]);
export type ScanAnswer = z.output<typeof scanAnswer>;

export function notebookExpected(check: NotebookCheck, { t, language }: Pick<CheckContext, 't' | 'language'>): string {
  if (check.expect) return check.expect[language];
  return check.path !== undefined ? t('checks.expected.notebookAt', { path: inLanguage(check.path, language) }) : t('checks.expected.notebook');
}

/** A folder as sentences show it: `~/work` rather than /home/onyxia/work. */
function shownFolder(path: string): string {
  return path === labHome ? '~' : path.startsWith(`${labHome}/`) ? `~/${path.slice(labHome.length + 1)}` : path;
}

/**
 * The sentence saying what the scan found (on a failure), in the page's language. `path` is the
 * check's own path as the page shows it, `workspace` the folder that was searched otherwise.
 */
export function describeScan(answer: ScanAnswer, check: NotebookCheck, context: Pick<CheckContext, 't' | 'language'>, workspace: string): string {
  const { t, language } = context;
  if ('error' in answer) return t('checks.error', { message: answer.error });
  const shown = check.path !== undefined ? inLanguage(check.path, language) : undefined;
  const named = shown !== undefined ? nameAndFolder(shown) : undefined;
  const cell = check.cell?.[language] ?? t('checks.notebook.anyCell');
  if (answer.matched !== null) return t('checks.notebook.found', { name: named?.name ?? answer.matched });
  if (answer.outside && named) return t('checks.file.outside', named);
  if (answer.notebooks === 0) return named ? t('checks.notebook.missingAt', named) : t('checks.notebook.missing', { dir: shownFolder(workspace) });
  const list = (values: string[]) => (named ? named.name : values.join(', '));
  if (answer.read === 0) {
    if (answer.tooLarge.length > 0) return t('checks.notebook.tooLarge', { name: list(answer.tooLarge), count: answer.tooLarge.length, size: '8 MiB' });
    return t('checks.notebook.unreadable', { name: list(answer.unreadable), count: answer.unreadable.length });
  }
  const name = named?.name ?? answer.near?.name ?? answer.busiest ?? answer.names[0]!;
  if (answer.executed === 0) {
    return answer.read === 1 ? t('checks.notebook.notRun', { name }) : t('checks.notebook.noneRun', { count: answer.read });
  }
  if (answer.near) {
    return answer.near.error
      ? t('checks.notebook.cellFailed', { name, error: answer.near.error })
      : t('checks.notebook.otherOutput', { name });
  }
  return answer.read === 1
    ? t('checks.notebook.noCell', { name, count: answer.executed, cell })
    : t('checks.notebook.noCellAmong', { notebooks: answer.read, count: answer.executed, cell });
}

/** The scan's answer from its output: the last line only, bounded, validated; undefined if it is not one. */
export function parseScan(stdout: string): ScanAnswer | undefined {
  const tail = stdout.length > maxAnswer ? stdout.slice(-maxAnswer) : stdout;
  const line = tail.trimEnd().split('\n').pop() ?? '';
  try {
    const parsed = scanAnswer.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function runNotebookCheck(check: NotebookCheck, context: CheckContext): Promise<Observation> {
  const { t, language } = context;
  const expected = notebookExpected(check, context);
  const workspace = context.lab.workspace;
  const request = {
    ...notebookLimits,
    // Half the check's time for reading notebooks: the answer must come before the deadline.
    budgetMs: Math.floor(context.timeoutMs / 2),
    home: labHome,
    root: workspace,
    path: check.path !== undefined ? resolveLabPath(inLanguage(check.path, language)) : null,
    source: check.source,
    output: check.output ?? null,
  };
  // The lab's own Python, first on the lab's PATH; -I: isolated from the learner's files and variables.
  const result = await execWithin(context, ['python3', '-I', '-c', scanScript], JSON.stringify(request));
  if (result.code === 124 && /timed out/i.test(result.stderr)) return { ok: false, expected, found: t('checks.timeout') };
  const answer = result.code === 0 ? parseScan(result.stdout) : undefined;
  if (!answer) return { ok: false, expected, found: t('checks.error', { message: `python3 exited with ${result.code}` }) };
  const ok = !('error' in answer) && answer.matched !== null;
  return { ok, expected, found: describeScan(answer, check, context, workspace) };
}
