import { sep } from 'node:path';
import type { TFunction } from 'i18next';
import { defaultLanguage, isLanguage, translator, type Language } from '../../i18n/index.ts';

export interface PageContext {
  language: Language;
  t: TFunction;
}

export function pageContext(path: string | undefined): PageContext {
  const language = pageLanguage(path);
  return { language, t: translator(language) };
}

/** The language of a page is the first folder of its path under content/ (content/fr/…, content/en/…). */
export function pageLanguage(path: string | undefined): Language {
  const parts = (path ?? '').split(sep);
  const contentIndex = Math.max(parts.lastIndexOf('content'), parts.lastIndexOf('docs'));
  const candidate = contentIndex >= 0 ? parts[contentIndex + 1] : undefined;
  return isLanguage(candidate) ? candidate : defaultLanguage;
}
