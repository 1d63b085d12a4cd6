/**
 * Loads every `labs/<id>/lab.yaml`, validates it, and fails with messages that name the file,
 * the line and the field, so a trainer can fix a lab without reading server code.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseDocument, LineCounter, isMap, isSeq, type Node } from 'yaml';
import { labDefinition, type LabDefinition } from './schema.ts';

export const toolsFolder = 'tools';

export class LabDefinitionError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'LabDefinitionError';
    this.problems = problems;
  }
}

/** Line of the YAML node at `path`, or of its closest existing ancestor. */
function lineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, path: PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (doc.contents as Node | null)?.range?.[0];
  for (const key of path) {
    if (!isMap(node) && !isSeq(node)) break;
    const next = (node as { get(k: unknown, keepScalar: true): unknown }).get(key, true) as Node | undefined;
    if (!next) break;
    node = next;
    offset = next.range?.[0] ?? offset;
  }
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

export function parseLab(source: string, fileLabel: string): LabDefinition {
  const counter = new LineCounter();
  const doc = parseDocument(source, { lineCounter: counter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new LabDefinitionError(doc.errors.map((error) => `${fileLabel}:${error.linePos?.[0]?.line ?? 1}: ${error.message.split('\n')[0]}`));
  }
  const parsed = labDefinition.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new LabDefinitionError(
      parsed.error.issues.map((issue) => {
        const field = issue.path.map(String).join('.') || '(root)';
        const line = lineOf(doc, counter, issue.path as PropertyKey[]) ?? 1;
        return `${fileLabel}:${line}: ${field}: ${issue.message}`;
      }),
    );
  }
  return parsed.data;
}

/** Reads and validates every lab under `labsDir`. Throws one error listing every problem found. */
export function loadLabs(labsDir: string, projectRoot = join(labsDir, '..')): Map<string, LabDefinition> {
  const labs = new Map<string, LabDefinition>();
  const problems: string[] = [];
  const entries = existsSync(labsDir) ? readdirSync(labsDir, { withFileTypes: true }) : [];
  for (const entry of entries) {
    // labs/tools/ holds programs shipped into every lab (such as mc), not a lab.
    if (!entry.isDirectory() || entry.name === toolsFolder) continue;
    const file = join(labsDir, entry.name, 'lab.yaml');
    const label = relative(projectRoot, file);
    if (!existsSync(file)) {
      problems.push(`${label}: missing (every folder of labs/ is a lab)`);
      continue;
    }
    try {
      const lab = parseLab(readFileSync(file, 'utf8'), label);
      if (lab.id !== entry.name) problems.push(`${label}:1: id: "${lab.id}" must match its folder name "${entry.name}"`);
      else labs.set(lab.id, lab);
    } catch (error) {
      if (error instanceof LabDefinitionError) problems.push(...error.problems);
      else throw error;
    }
  }
  if (problems.length > 0) throw new LabDefinitionError(problems);
  return labs;
}

/** The programs of labs/tools/ (name → content), shipped read-only into every lab. */
export function loadLabTools(labsDir: string): Record<string, string> {
  const dir = join(labsDir, toolsFolder);
  if (!existsSync(dir)) return {};
  return Object.fromEntries(
    readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => [entry.name, readFileSync(join(dir, entry.name), 'utf8')]),
  );
}
