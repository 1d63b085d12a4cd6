/**
 * A few lines to build DOM from code. Account pages are small forms and lists: a UI framework
 * would weigh more than all of them together.
 */
export { formatBytes, formatDate } from '../../i18n/format.ts';

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

/** A button that copies `value` and says so for a moment (its text; the status is announced). */
export function copyButton(value: () => string, copyLabel: string, copiedLabel: string, accessibleName?: string): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'atelier-copy', 'aria-label': accessibleName }, copyLabel);
  button.addEventListener('click', () => {
    void navigator.clipboard?.writeText(value()).then(() => {
      button.textContent = copiedLabel;
      setTimeout(() => (button.textContent = copyLabel), 1500);
    });
  });
  return button;
}

/** A Reveal toggle button (aria-pressed), off at first. */
export function revealToggle(label: string, accessibleName: string, onToggle: (shown: boolean) => void): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'atelier-reveal', 'aria-pressed': 'false', 'aria-label': accessibleName }, label);
  button.addEventListener('click', () => {
    const shown = button.getAttribute('aria-pressed') !== 'true';
    button.setAttribute('aria-pressed', String(shown));
    onToggle(shown);
  });
  return button;
}

/** What a secret's toggle and buttons say ("Show AWS_SECRET_ACCESS_KEY", "hidden value"). */
export interface SecretLabels {
  reveal: string;
  revealLabel: string;
  copyLabel: string;
  masked: string;
}

const mask = '•'.repeat(16);

/**
 * A read-only value with a copy button, as the datalab shows credentials; a secret is masked
 * until its Reveal toggle (aria-pressed) is pressed, and is copied whole either way.
 */
export function copyable(value: string, copyLabel: string, copiedLabel: string, secret?: SecretLabels): HTMLElement {
  const code = h('code', { class: secret ? 'atelier-secret' : undefined }, value);
  const parts: HTMLElement[] = [code];
  if (secret) {
    // Screen readers hear "hidden value", not sixteen bullets.
    const hide = () => code.replaceChildren(h('span', { 'aria-hidden': 'true' }, mask), h('span', { class: 'sr-only' }, secret.masked));
    hide();
    parts.push(revealToggle(secret.reveal, secret.revealLabel, (shown) => (shown ? (code.textContent = value) : hide())));
  }
  parts.push(copyButton(() => value, copyLabel, copiedLabel, secret?.copyLabel));
  return h('span', { class: 'atelier-copyable' }, parts);
}

/** A shell command to type in a lab, with its copy button: what each action of a page amounts to. */
export function commandLine(line: string, copy: string, copied: string): HTMLElement {
  return h('div', { class: 'atelier-command' }, h('code', {}, line), copyButton(() => line, copy, copied));
}
