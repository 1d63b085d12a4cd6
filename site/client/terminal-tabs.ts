/**
 * Several terminals per lab, as tabs (the WAI-ARIA tabs pattern: arrow keys move between tabs,
 * each tab controls its labelled panel). Each tab is its own shell on the server, named, so a
 * reload finds every tab again with its screen. The list of tabs is kept per lab session.
 */
import { h } from './dom.ts';
import type { LabSession } from './lab-session.ts';
import { t } from './strings.ts';
import { tabKeyTarget } from './tab-keys.ts';
import { openTerminal, type LabTerminal, type TerminalHandlers } from './terminal.ts';

/** The server keeps at most this many shells per lab. */
const maxTabs = 8;

interface Tab {
  button: HTMLButtonElement;
  pane: HTMLElement;
  terminal: Promise<LabTerminal>;
}

export class TerminalTabs {
  readonly #list: HTMLElement;
  readonly #add: HTMLButtonElement;
  readonly #panes: HTMLElement;
  readonly #session: LabSession;
  readonly #label: string;
  readonly #hintId: string;
  readonly #handlers: TerminalHandlers;
  readonly #tabs = new Map<string, Tab>();
  #active = '';
  #live: LabTerminal | undefined;
  #disposed = false;

  constructor(root: HTMLElement, session: LabSession, label: string, hintId: string, handlers: TerminalHandlers) {
    this.#session = session;
    this.#label = label;
    this.#hintId = hintId;
    // Tabs being disposed may still report (their terminals open asynchronously): only live ones speak.
    this.#handlers = {
      onError: (code, message) => void (this.#disposed || handlers.onError(code, message)),
      onExit: () => void (this.#disposed || handlers.onExit()),
      onConnection: (online) => void (this.#disposed || handlers.onConnection(online)),
    };
    this.#list = h('div', { role: 'tablist', class: 'atelier-tabs', 'aria-label': t('dock.tabs'), 'data-i18n-label': 'dock.tabs' });
    this.#list.addEventListener('keydown', (event) => this.#arrows(event));
    this.#add = h('button', { type: 'button', class: 'atelier-tabs__add', title: t('launch.newTab'), 'aria-label': t('launch.newTab'), 'data-i18n-label': 'launch.newTab' }, '+');
    this.#add.addEventListener('click', () => this.add());
    this.#panes = h('div', { class: 'atelier-tabs__panes' });
    root.replaceChildren(h('div', { class: 'atelier-tabs__bar' }, this.#list, this.#add), this.#panes);
    for (const name of this.#saved()) this.#open(name);
    this.select(this.#saved()[0]!, false);
  }

  get #key(): string {
    return `atelier:tabs:${this.#session.id}`;
  }

  #saved(): string[] {
    try {
      const names = JSON.parse(localStorage.getItem(this.#key) ?? '[]') as string[];
      return names.length > 0 ? names.slice(0, maxTabs) : ['main'];
    } catch {
      return ['main'];
    }
  }

  #open(name: string): void {
    const index = this.#tabs.size + 1;
    const id = `atelier-tab-${index}`;
    const button = h(
      'button',
      { type: 'button', role: 'tab', id, class: 'atelier-tabs__tab', 'aria-selected': 'false', 'aria-controls': `${id}-panel`, tabindex: '-1' },
      t('launch.tab', { n: index }),
    );
    button.addEventListener('click', () => this.select(name));
    const pane = h('div', { role: 'tabpanel', id: `${id}-panel`, 'aria-labelledby': id, class: 'atelier-tabs__pane' });
    this.#list.append(button);
    this.#panes.append(pane);
    // The pane is laid out (not hidden) while xterm measures it; select() hides the others after.
    const terminal = openTerminal(pane, this.#session, name, { name: `${this.#label} (${index})`, describedBy: this.#hintId }, this.#handlers);
    this.#tabs.set(name, { button, pane, terminal });
    this.#add.disabled = this.#tabs.size >= maxTabs;
    localStorage.setItem(this.#key, JSON.stringify([...this.#tabs.keys()]));
  }

  /** Left/Right/Home/End move between tabs and select them (automatic activation). */
  #arrows(event: KeyboardEvent): void {
    const name = tabKeyTarget(event.key, [...this.#tabs.keys()], this.#active);
    if (name === undefined) return;
    event.preventDefault();
    this.select(name, false);
    this.#tabs.get(name)?.button.focus();
  }

  add(): void {
    if (this.#tabs.size >= maxTabs) return;
    let n = this.#tabs.size + 1;
    while (this.#tabs.has(`t${n}`)) n += 1;
    this.#open(`t${n}`);
    this.select(`t${n}`);
  }

  /** Shows a tab; `focus` moves the keyboard into its terminal (a user's choice, never on load). */
  select(name: string, focus = true): void {
    this.#active = name;
    for (const [tabName, tab] of this.#tabs) {
      const active = tabName === name;
      tab.button.setAttribute('aria-selected', String(active));
      tab.button.tabIndex = active ? 0 : -1;
      // Measured first, hidden once xterm has its size.
      void tab.terminal.then(() => (tab.pane.hidden = !active));
    }
    const tab = this.#tabs.get(name);
    void tab?.terminal.then((terminal) => {
      if (this.#active !== name || this.#disposed) return;
      this.#live = terminal;
      if (focus) terminal.focus();
    });
  }

  /** Ready once the visible tab's terminal is open. */
  async ready(): Promise<void> {
    await this.#tabs.get(this.#active)?.terminal;
  }

  send(data: string): boolean {
    return this.#live?.send(data) ?? false;
  }

  focus(): void {
    this.#live?.focus();
  }

  dispose(forget: boolean): void {
    this.#disposed = true;
    for (const tab of this.#tabs.values()) void tab.terminal.then((terminal) => terminal.dispose());
    this.#tabs.clear();
    this.#live = undefined;
    if (forget) localStorage.removeItem(this.#key);
  }
}
