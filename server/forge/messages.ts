/**
 * What the forge tells a learner's git, in their language: git sends `Accept-Language` from the
 * learner's locale (LANGUAGE, LC_MESSAGES); without one it names, both languages are given, one
 * line each, as git prints every line of a remote message.
 */
import type { IncomingHttpHeaders } from 'node:http';
import Negotiator from 'negotiator';
import { formatBytes } from '../../i18n/format.ts';
import { languages, translator, type Language } from '../../i18n/index.ts';

export { formatBytes };

export type RemoteMessage = 'pushTooLarge' | 'quotaFull' | 'overQuota' | 'tooManyRepositories' | 'tooManyRequests' | 'busy' | 'refused';

/** The languages to answer in: the one git asked for, else all of Atelier's. */
export function remoteLanguages(headers: IncomingHttpHeaders): readonly Language[] {
  if (!headers['accept-language']) return languages;
  for (const tag of new Negotiator({ headers }).languages()) {
    const primary = tag.toLowerCase().split('-')[0];
    const language = languages.find((candidate) => candidate === primary);
    if (language) return [language];
  }
  return languages;
}

export interface MessageValues {
  max?: number;
  /** Byte counts, formatted in each language. */
  maxBytes?: number;
  usedBytes?: number;
}

/** The message as lines, one per language answered in. */
export function remoteMessage(key: RemoteMessage, headers: IncomingHttpHeaders, values: MessageValues = {}): string[] {
  return remoteLanguages(headers).map((language) => {
    const max = values.maxBytes === undefined ? values.max : formatBytes(values.maxBytes, language);
    const used = values.usedBytes === undefined ? undefined : formatBytes(values.usedBytes, language);
    return translator(language)(`gitRemote.${key}`, { max, used });
  });
}
