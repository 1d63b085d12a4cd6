/** The caller's language from Accept-Language, among Atelier's languages; French by default. */
import type { IncomingHttpHeaders } from 'node:http';
import Negotiator from 'negotiator';
import { defaultLanguage, isLanguage, languages, type Language } from '../../i18n/index.ts';

export function languageOf(headers: IncomingHttpHeaders): Language {
  if (!headers['accept-language']) return defaultLanguage;
  const best = new Negotiator({ headers }).language([...languages]);
  return isLanguage(best) ? best : defaultLanguage;
}
