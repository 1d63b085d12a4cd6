/**
 * A lab's usage against its limits in words, as the Monitoring tab shows and says them:
 * "0.4 of 1 core" / "0,4 sur 1 cœur", "210 MiB of 1 GiB" / "210 Mio sur 1 Gio", and "near the
 * limit" past 90 %, so that the words, not only a bar's colour, tell a lab close to its limit.
 */
import { formatBytes } from '../../i18n/format.ts';
import { cores, type Translate } from './resource-words.ts';

/** Past this share of its limit a meter says "near the limit" (and turns to its warning colour). */
export const nearLimitRatio = 0.9;

/** used / limit, kept within 0..1 (accounting edges may show a little over the quota). */
export function share(used: number, limit: number): number {
  if (!(limit > 0) || !(used > 0)) return 0;
  return Math.min(1, used / limit);
}

function flagged(words: string, used: number, limit: number, translate: Translate): string {
  return share(used, limit) > nearLimitRatio ? translate('monitoring.nearLimit', { value: words }) : words;
}

/** 0.4 of a 1-core limit → "0.4 of 1 core"; hundredths under a one-core limit (0.12 of 0.25 core). */
export function cpuWords(used: number, limit: number, language: string, translate: Translate): string {
  const digits = limit < 1 ? 2 : 1;
  const n = new Intl.NumberFormat(language, { maximumFractionDigits: digits }).format(Math.max(0, used));
  return flagged(translate('monitoring.of', { used: n, limit: cores(limit, language, translate) }), used, limit, translate);
}

/** 210 MiB of 1 GiB → "210 MiB of 1 GiB". */
export function memoryWords(used: number, limit: number, language: string, translate: Translate): string {
  const words = translate('monitoring.of', { used: formatBytes(used, language), limit: formatBytes(limit, language) });
  return flagged(words, used, limit, translate);
}
