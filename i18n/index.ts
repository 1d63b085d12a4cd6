/**
 * Atelier's own UI strings (i18n/fr.json, i18n/en.json) through i18next, shared by the server
 * (API errors, check messages), the build (labels the content plugins write into pages) and the
 * pages (the dictionary the browser code reads).
 */
import i18next, { type TFunction } from 'i18next';
import fr from './fr.json' with { type: 'json' };
import en from './en.json' with { type: 'json' };

export const languages = ['fr', 'en'] as const;
export type Language = (typeof languages)[number];
export const defaultLanguage: Language = 'fr';
export const dictionaries: Record<Language, typeof fr> = { fr, en };

const instance = i18next.createInstance();
void instance.init({
  initAsync: false,
  resources: { fr: { translation: fr }, en: { translation: en } },
  fallbackLng: defaultLanguage,
  supportedLngs: [...languages],
  // Strings end up in HTML through the DOM's textContent or in JSON: escaping here would double it.
  interpolation: { escapeValue: false },
});

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (languages as readonly string[]).includes(value);
}

export function translator(language: Language): TFunction {
  return instance.getFixedT(language);
}
