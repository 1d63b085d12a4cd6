/** A number of cores in words, as the Configure panel and the lab's note both say it. */
import { t } from './strings.ts';

/** What looks a string up: the page's strings, or (tests, the server) a language's translator. */
export type Translate = (key: string, values?: Record<string, string | number>) => string;

/** 0.5 → "0,5 cœur" in French (one core or less is singular there), "0.5 cores" in English. */
export function cores(count: number, language: string, translate: Translate = t): string {
  const n = new Intl.NumberFormat(language, { maximumFractionDigits: 2 }).format(count);
  const form = new Intl.PluralRules(language).select(count) === 'one' ? 'one' : 'other';
  return translate(`configure.core.${form}`, { n });
}
