/**
 * A few lines to build DOM from code. Account pages are small forms and lists: a UI framework
 * would weigh more than all of them together.
 */
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  properties: Partial<Record<string, string | boolean | number | EventListener>> = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(properties)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, '').toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** A read-only value with a copy button, as the datalab shows credentials. */
export function copyable(value: string, copyLabel: string, copiedLabel: string, secret = false): HTMLElement {
  const button = h('button', { type: 'button', class: 'atelier-copy' }, copyLabel);
  button.addEventListener('click', () => {
    void navigator.clipboard?.writeText(value).then(() => {
      button.textContent = copiedLabel;
      setTimeout(() => (button.textContent = copyLabel), 1500);
    });
  });
  return h('span', { class: 'atelier-copyable' }, h('code', { class: secret ? 'atelier-secret' : undefined }, value), button);
}

export function formatBytes(bytes: number, language: string): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${new Intl.NumberFormat(language, { maximumFractionDigits: unit === 0 ? 0 : 1 }).format(value)} ${units[unit]}`;
}

export function formatDate(value: number | string, language: string): string {
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(value));
}
