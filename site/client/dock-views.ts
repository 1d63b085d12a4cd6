/**
 * The dock's views: the service (JupyterLab, VS Code), the terminals, the monitoring; one shown at
 * a time, as tabs (the WAI-ARIA tabs pattern: arrows, Home and End move and select). A view is
 * built the first time it is shown: a learner who never looks at Monitoring never polls it.
 */
import { h } from './dom.ts';
import { t } from './strings.ts';
import { tabKeyTarget } from './tab-keys.ts';

export interface DockView {
  name: string;
  /** i18n key of its tab's label (relabelled on a language switch, as the rest of the dock). */
  label: string;
  /** Fills the panel the first time the view is shown. */
  build: (panel: HTMLElement) => void;
  shown?: () => void;
  hidden?: () => void;
}

interface Entry {
  view: DockView;
  tab: HTMLButtonElement;
  panel: HTMLElement;
  built: boolean;
}

export class DockViews {
  readonly #entries = new Map<string, Entry>();
  #active = '';

  constructor(root: HTMLElement, views: DockView[], initial: string) {
    const list = h('div', { role: 'tablist', class: 'atelier-views', 'aria-label': t('dock.views'), 'data-i18n-label': 'dock.views' });
    const panels = h('div', { class: 'atelier-views__panels' });
    for (const view of views) {
      const id = `atelier-view-${view.name}`;
      const tab = h(
        'button',
        { type: 'button', role: 'tab', id, class: 'atelier-views__tab', 'aria-selected': 'false', 'aria-controls': `${id}-panel`, tabindex: '-1', 'data-i18n': view.label },
        t(view.label),
      );
      tab.addEventListener('click', () => this.select(view.name));
      const panel = h('div', { role: 'tabpanel', id: `${id}-panel`, 'aria-labelledby': id, class: `atelier-views__panel atelier-views__panel--${view.name}`, hidden: true });
      list.append(tab);
      panels.append(panel);
      this.#entries.set(view.name, { view, tab, panel, built: false });
    }
    list.addEventListener('keydown', (event) => this.#arrows(event));
    // One view only (a terminal lab): no tab list to go through.
    list.hidden = views.length < 2;
    root.replaceChildren(list, panels);
    this.select(initial);
  }

  get active(): string {
    return this.#active;
  }

  #arrows(event: KeyboardEvent): void {
    const name = tabKeyTarget(event.key, [...this.#entries.keys()], this.#active);
    if (name === undefined) return;
    event.preventDefault();
    this.select(name);
    this.#entries.get(name)?.tab.focus();
  }

  select(name: string): void {
    if (!this.#entries.has(name)) return;
    const previous = this.#entries.get(this.#active);
    this.#active = name;
    for (const [entryName, entry] of this.#entries) {
      const active = entryName === name;
      entry.tab.setAttribute('aria-selected', String(active));
      entry.tab.tabIndex = active ? 0 : -1;
      entry.panel.hidden = !active;
      if (active && !entry.built) {
        entry.built = true;
        entry.view.build(entry.panel);
      }
    }
    if (previous && previous.view.name !== name) previous.view.hidden?.();
    this.#entries.get(name)?.view.shown?.();
  }
}
