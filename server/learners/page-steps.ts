/**
 * The steps of every page of the built site, read once at start from its HTML (as the CSP's
 * script hashes are): for each page key (its path without the language, `/tp/terminal/`, as the
 * browser's progress names it; both languages share their step ids), its lab and its steps, each
 * manual or a check of that lab. Progress is only ever stored for steps that exist, and the
 * server alone ticks the checked ones. The pages are the build's own output, so a scan of the
 * `<li data-step>` tags is all it takes.
 */
import { readFileSync } from 'node:fs';
import { builtPages } from '../built-site.ts';
import { join } from 'node:path';

export interface PageStepsEntry {
  lab: string | undefined;
  /** Step id → the check of the page's lab that ticks it (undefined: ticked by the learner). */
  steps: Map<string, string | undefined>;
}

export class PageSteps {
  readonly #pages: ReadonlyMap<string, PageStepsEntry>;

  constructor(pages: ReadonlyMap<string, PageStepsEntry>) {
    this.#pages = pages;
  }

  page(key: string): PageStepsEntry | undefined {
    return this.#pages.get(key);
  }

  /** The (page, step) pairs a passed check of `lab` ticks. */
  *stepsOfCheck(lab: string, check: string): Iterable<{ page: string; step: string }> {
    for (const [page, entry] of this.#pages) {
      if (entry.lab !== lab) continue;
      for (const [step, stepCheck] of entry.steps) if (stepCheck === check) yield { page, step };
    }
  }
}

/** `fr/tp/terminal/index.html` → `/tp/terminal/`; undefined for files outside a language folder. */
export function pageKeyOf(htmlPath: string): string | undefined {
  const match = /^(?:fr|en)\/(.*?)(?:index\.html)?$/.exec(htmlPath.split('\\').join('/'));
  return match ? `/${match[1]}` : undefined;
}

/** The steps of one built page. */
export function stepsOf(html: string): PageStepsEntry {
  const steps = new Map<string, string | undefined>();
  for (const [tag] of html.matchAll(/<li\b[^>]*\sdata-step="[^"]*"[^>]*>/g)) {
    const step = / data-step="([^"]*)"/.exec(tag)![1]!;
    steps.set(step, / data-check="([^"]*)"/.exec(tag)?.[1]);
  }
  return { lab: /<atelier-launch\b[^>]*\sdata-lab="([^"]*)"/.exec(html)?.[1], steps };
}

/** Every page of the site under `siteDir` that has steps (none when the site is not built). */
export function readPageSteps(siteDir: string): PageSteps {
  const pages = new Map<string, PageStepsEntry>();
  for (const file of builtPages(siteDir)) {
    const key = pageKeyOf(file);
    if (key === undefined) continue;
    const entry = stepsOf(readFileSync(join(siteDir, file), 'utf8'));
    if (entry.steps.size === 0) continue;
    const known = pages.get(key);
    // The French and English pages carry the same ids; a step missing from one still counts.
    if (known) for (const [step, check] of entry.steps) known.steps.set(step, known.steps.get(step) ?? check);
    else pages.set(key, entry);
  }
  return new PageSteps(pages);
}
