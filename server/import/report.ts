/**
 * What an import did beside a plain copy. `todo` entries are constructs the importer could not
 * map: they are kept visibly in the page (a block, a marked image, a comment) and wait for the
 * author. `info` entries were mapped with a difference worth knowing. `removed` names the words
 * an entry took out of the page, so the text check (text.ts) can tell a reported removal from a
 * silent loss.
 */
export type Level = 'todo' | 'info';

export interface ReportEntry {
  line: number | undefined;
  level: Level;
  construct: string;
  action: string;
  removed?: string;
}

export class Report {
  readonly entries: ReportEntry[] = [];

  add(node: { position?: { start: { line: number } } } | number | undefined, level: Level, construct: string, action: string, removed?: string): void {
    const line = typeof node === 'number' ? node : node?.position?.start.line;
    this.entries.push({ line, level, construct, action, ...(removed ? { removed } : {}) });
  }

  sorted(): ReportEntry[] {
    return [...this.entries].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  }
}

/** One line per construct, action and level, with the lines where it was found (the JSON has each). */
export function formatReport(entries: ReportEntry[], source: string): string {
  if (entries.length === 0) return `${source}: every construct mapped.`;
  const groups = new Map<string, { entry: ReportEntry; lines: (number | undefined)[] }>();
  for (const entry of entries) {
    const key = `${entry.level}\0${entry.construct}\0${entry.action}`;
    const group = groups.get(key) ?? { entry, lines: [] };
    group.lines.push(entry.line);
    groups.set(key, group);
  }
  return [...groups.values()]
    .map(({ entry, lines }) => `${source}:${lines.map((line) => line ?? '-').join(',')}: ${entry.level}: ${entry.construct}: ${entry.action}`)
    .join('\n');
}
