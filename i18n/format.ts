/**
 * Numbers as each language writes them, for the server's messages and the pages alike (no
 * dependency: the browser bundles it). Binary multiples with the language's own symbols: French
 * writes `512 Mio`, `1,7 Kio`; English `512 MiB`, `1.7 KiB`.
 */
const byteUnits: Record<string, readonly string[]> = { fr: ['o', 'Kio', 'Mio', 'Gio', 'Tio'], en: ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'] };

/** 1048576 → "1 MiB" / "1 Mio". */
export function formatBytes(bytes: number, language: string): string {
  const units = byteUnits[language] ?? byteUnits.en!;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${new Intl.NumberFormat(language, { maximumFractionDigits: unit === 0 ? 0 : 1 }).format(value)} ${units[unit]}`;
}

/** "1 déc. 2026, 11:55" / "Dec 1, 2026, 11:55 AM". */
export function formatDate(value: number | string, language: string): string {
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(value));
}
