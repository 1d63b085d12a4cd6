/**
 * The site's courses as a class follows them, read once at start from the built site (as the
 * pages' steps are: learners/page-steps.ts): a course is a first-level folder of pages with
 * steps (`/datalab-tp/`), its pages in the order of the site's sidebar, each page's steps in
 * document order with their text in both languages, and the check that ticks each checked step.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtPages } from '../built-site.ts';
import { pageKeyOf, stepsOf } from '../learners/page-steps.ts';
import type { Language } from '../../i18n/index.ts';

export type Words = Record<Language, string>;

export interface CourseStep {
  page: string;
  step: string;
  label: Words;
  /** The check of the page's lab that ticks it; undefined for a step the learner ticks. */
  check?: string;
}

export interface Course {
  path: string;
  title: Words;
  /** Labs the course's pages launch. */
  labs: string[];
  /** Every step of the course, page after page. */
  steps: CourseStep[];
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** The text of an HTML fragment: tags dropped, entities decoded, spaces collapsed. */
export function textOf(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
        return Number.isInteger(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return entities[name.toLowerCase()] ?? whole;
    })
    .replace(/\s+/g, ' ')
    .trim();
}

const courseOf = (page: string) => /^\/[^/]+\//.exec(page)?.[0];

interface BuiltPage {
  title: Partial<Words>;
  labels: Map<string, Partial<Words>>;
  lab: string | undefined;
  steps: Map<string, string | undefined>;
}

/** Every course of the site under `siteDir` (none when it is not built). */
export function readCourses(siteDir: string): Map<string, Course> {
  const pages = new Map<string, BuiltPage>();
  /** Page keys in the order the sidebar links them (all pages share one sidebar). */
  const order: string[] = [];
  /** Titles of the courses' own pages (`/datalab-tp/`), which may have no steps. */
  const titles = new Map<string, Partial<Words>>();
  for (const file of builtPages(siteDir)) {
    const key = pageKeyOf(file);
    const language = file.slice(0, 2) as Language;
    if (key === undefined) continue;
    const html = readFileSync(join(siteDir, file), 'utf8');
    if (order.length === 0) {
      for (const [, path] of html.matchAll(/<a\b[^>]*\shref="\/(?:fr|en)(\/[^"#?]*)"/g)) if (!order.includes(path!)) order.push(path!);
    }
    // The site's name follows the page's in <title>.
    const title = textOf(/<title>([^<]*)<\/title>/.exec(html)?.[1] ?? '').replace(/ \| [^|]*$/, '');
    if (courseOf(key) === key) titles.set(key, { ...titles.get(key), [language]: title } as Partial<Words>);
    const entry = stepsOf(html);
    if (entry.steps.size === 0 || courseOf(key) === undefined) continue;
    const page: BuiltPage = pages.get(key) ?? { title: {}, labels: new Map(), lab: entry.lab, steps: new Map() };
    pages.set(key, page);
    page.title[language] = title;
    for (const [step, check] of entry.steps) {
      page.steps.set(step, page.steps.get(step) ?? check);
      const label = new RegExp(`id="step-label-${step}"[^>]*>([\\s\\S]*?)</span>`).exec(html)?.[1];
      const labels = page.labels.get(step) ?? {};
      labels[language] = label === undefined ? step : textOf(label);
      page.labels.set(step, labels);
    }
  }
  const rank = (key: string) => (order.includes(key) ? order.indexOf(key) : order.length);
  const keys = [...pages.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
  const courses = new Map<string, Course>();
  for (const key of keys) {
    const path = courseOf(key)!;
    const page = pages.get(key)!;
    const words = (partial: Partial<Words>, fallback: string): Words => ({ fr: partial.fr ?? partial.en ?? fallback, en: partial.en ?? partial.fr ?? fallback });
    const course = courses.get(path) ?? { path, title: words(titles.get(path) ?? page.title, path), labs: [], steps: [] };
    courses.set(path, course);
    if (page.lab !== undefined && !course.labs.includes(page.lab)) course.labs.push(page.lab);
    for (const [step, check] of page.steps) {
      course.steps.push({ page: key, step, label: words(page.labels.get(step) ?? {}, step), ...(check === undefined ? {} : { check }) });
    }
  }
  return courses;
}
