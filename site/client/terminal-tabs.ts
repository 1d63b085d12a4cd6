/**
 * Several terminals per lab, as tabs: each tab is its own shell on the server (named, so a
 * reload finds every tab again with its screen). The list of tabs is kept per lab session.
 */
import { h } from './dom.ts';
import type { LabSession } from './lab-session.ts';
import { t } from './strings.ts';
import { openTerminal, type LabTerminal, type TerminalHandlers } from './terminal.ts';

/** The server keeps at most this many shells per lab. */
const maxTabs = 8;

export class TerminalTabs {
  readonly #list: HTMLElement;
  readonly #panes: HTMLElement;
  readonly #session: LabSession;
  readonly #label: string;
  readonly #handlers: TerminalHandlers;
  readonly #tabs = new Map<string, { button: HTMLButtonElement; pane: HTMLElement; terminal: LabTerminal }>();
  #active = '';

  constructor(root: HTMLElement, session: LabSession, label: string, handlers: TerminalHandlers) {
    this.#session = session;
    this.#label = label;
    this.#handlers = handlers;
    this.#list = h('div', { role: 'tablist', class: 'atelier-tabs' });
    const add = h('button', { type: 'button', class: 'atelier-tabs__add', title: t('launch.newTab'), 'aria-label': t('launch.newTab') }, '+');
    add.addEventListener('click', () => this.add());
    this.#panes = h('div', { class: 'atelier-tabs__panes' });
    root.replaceChildren(h('div', { class: 'atelier-tabs__bar' }, this.#list, add), this.#panes);
    for (const name of this.#saved()) this.#open(name);
    this.select(this.#saved()[0]!);
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
    const button = h('button', { type: 'button', role: 'tab', class: 'atelier-tabs__tab', 'aria-selected': 'false' }, t('launch.tab', { n: index }));
    button.addEventListener('click', () => this.select(name));
    const pane = h('div', { role: 'tabpanel', class: 'atelier-tabs__pane', hidden: true });
    this.#list.append(button);
    this.#panes.append(pane);
    // The pane must be laid out for xterm to measure it.
    pane.hidden = false;
    const terminal = openTerminal(pane, this.#session, name, `${this.#label} (${index})`, this.#handlers);
    this.#tabs.set(name, { button, pane, terminal });
    localStorage.setItem(this.#key, JSON.stringify([...this.#tabs.keys()]));
  }

  add(): void {
    if (this.#tabs.size >= maxTabs) return;
    let n = this.#tabs.size + 1;
    while (this.#tabs.has(`t${n}`)) n += 1;
    this.#open(`t${n}`);
    this.select(`t${n}`);
  }

  select(name: string): void {
    this.#active = name;
    for (const [tabName, tab] of this.#tabs) {
      const active = tabName === name;
      tab.button.setAttribute('aria-selected', String(active));
      tab.pane.hidden = !active;
    }
    this.#tabs.get(name)?.terminal.focus();
  }

  send(data: string): void {
    this.#tabs.get(this.#active)?.terminal.send(data);
  }

  focus(): void {
    this.#tabs.get(this.#active)?.terminal.focus();
  }

  dispose(): void {
    for (const tab of this.#tabs.values()) tab.terminal.dispose();
    this.#tabs.clear();
    localStorage.removeItem(this.#key);
  }
}
