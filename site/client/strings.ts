/**
 * The page's UI strings, rendered from i18n/{fr,en}.json by the server side of the page.
 * A 10-line lookup instead of i18next in the browser: i18next alone would take a third of the
 * page's JavaScript budget, and the browser needs only lookup and {{name}} interpolation.
 */
type Dictionary = { [key: string]: string | Dictionary };

let dictionary: Dictionary | undefined;

export function t(key: string, values: Record<string, string | number> = {}): string {
  dictionary ??= JSON.parse(document.getElementById('atelier-strings')?.textContent || '{}') as Dictionary;
  let entry: string | Dictionary | undefined = dictionary;
  for (const part of key.split('.')) entry = typeof entry === 'object' ? entry[part] : undefined;
  const template = typeof entry === 'string' ? entry : key;
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => String(values[name] ?? ''));
}

/** A client-side navigation brings the new page's strings (perhaps of the other language). */
export function resetStrings(): void {
  dictionary = undefined;
}

export function pageLanguage(): string {
  return document.documentElement.lang || 'fr';
}
