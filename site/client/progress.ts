/**
 * Step progress in localStorage, keyed by the page's path without its language prefix, so the
 * French and English versions of a page share it.
 */
const prefix = 'atelier:progress:v1:';

function pageKey(): string {
  return prefix + location.pathname.replace(/^\/(fr|en)(\/|$)/, '/');
}

function read(): Record<string, boolean> {
  try {
    return JSON.parse(localStorage.getItem(pageKey()) ?? '{}') as Record<string, boolean>;
  } catch {
    return {};
  }
}

export function isDone(step: string): boolean {
  return read()[step] === true;
}

export function setDone(step: string, done: boolean): void {
  const progress = read();
  if (done) progress[step] = true;
  else delete progress[step];
  localStorage.setItem(pageKey(), JSON.stringify(progress));
}
