/**
 * The dock: the running lab beside the course, as Killercoda, Instruqt or Educates show it. It
 * lives in the page frame's <aside id="atelier-dock">, which Astro's client router keeps across
 * pages (transition:persist), so the terminals stay connected while the learner reads on. Loaded
 * only when a lab runs: a page without one ships none of this.
 */
import { api, ApiError } from './api.ts';
import { h } from './dom.ts';
import { renderNote } from './lab-note.ts';
import { announceDock, dockedLab, forgetSession, saveSession, setDockedLab, setTerminalInput, storedSession, type DockedLab, type LabSession } from './lab-session.ts';
import { formatDuration, type LabStatus } from './lab-status.ts';
import { listenForEvidence } from './evidence.ts';
import { t } from './strings.ts';
import { TerminalTabs } from './terminal-tabs.ts';
import { DockWidth } from './dock-width.ts';
import { currentStep } from './current-step.ts';
import { DockViews } from './dock-views.ts';
import { ServicePanel, type OpenableService } from './service-panel.ts';
import { Monitoring } from './monitoring.ts';

/** Warnings start this long before the lab expires or stops for inactivity. */
const warnBeforeMs = 10 * 60_000;
const idleWarnBeforeMs = 5 * 60_000;
const hintId = 'atelier-terminal-hint';
const collapsedKey = 'atelier:dock-collapsed';

interface Open {
  session: LabSession;
  view: LabStatus;
  docked: DockedLab;
  tabs: TerminalTabs;
  views: DockViews;
  /** Disposes the views built so far (a view is built the first time it is shown). */
  disposeViews: () => void;
  timer: number;
  lastRefresh: number;
  online: boolean;
}

class Dock {
  readonly #root: HTMLElement;
  readonly #title: HTMLElement;
  readonly #connection: HTMLElement;
  readonly #timer: HTMLElement;
  readonly #status: HTMLElement;
  readonly #step: HTMLElement;
  readonly #noteBody: HTMLElement;
  readonly #tabs: HTMLElement;
  readonly #extend: HTMLButtonElement;
  readonly #delete: HTMLButtonElement;
  readonly #expand: HTMLButtonElement;
  #open: Open | undefined;
  #lang = '';

  constructor(root: HTMLElement) {
    this.#root = root;
    this.#title = h('h2', { id: 'atelier-dock-title', class: 'atelier-dock__title' });
    this.#connection = h('span', { class: 'atelier-dock__connection', role: 'status' });
    this.#timer = h('span', { class: 'atelier-dock__timer' });
    this.#extend = h('button', { type: 'button', class: 'atelier-dock__button', hidden: true, 'data-i18n': 'launch.extend' });
    this.#extend.addEventListener('click', () => void this.#extendLab());
    this.#delete = h('button', { type: 'button', class: 'atelier-dock__button atelier-dock__delete', 'data-i18n': 'launch.delete' });
    this.#delete.addEventListener('click', () => void this.#deleteLab());
    this.#expand = h('button', { type: 'button', class: 'atelier-dock__button atelier-dock__expand', 'aria-pressed': 'false', 'data-i18n': 'dock.fullScreen' });
    this.#expand.addEventListener('click', () => this.#toggleFullScreen());
    const collapse = h('button', { type: 'button', class: 'atelier-dock__button atelier-dock__collapse', 'aria-expanded': 'true', 'aria-controls': 'atelier-dock-body', 'data-i18n': 'dock.collapse' });
    collapse.addEventListener('click', () => this.#collapse(!root.hasAttribute('data-collapsed')));
    this.#status = h('p', { class: 'atelier-dock__status', role: 'status' });
    this.#step = h('p', { class: 'atelier-dock__step' });
    this.#noteBody = h('div', { class: 'atelier-dock__note-body' });
    this.#tabs = h('div', { class: 'atelier-dock__terminals' });
    const separator = h('div', {
      class: 'atelier-dock__separator',
      role: 'separator',
      tabindex: '0',
      'aria-orientation': 'vertical',
      'aria-controls': 'atelier-dock-body',
      'data-i18n-label': 'dock.resize',
    });
    const width = new DockWidth(separator);
    // The client router gives <html> the new page's attributes: the dock's must be put back.
    document.addEventListener('astro:after-swap', () => {
      if (!this.#open) return;
      document.documentElement.dataset.dock = root.hasAttribute('data-collapsed') ? 'collapsed' : 'open';
      width.reapply();
      if (document.documentElement.lang !== this.#lang) {
        this.#relabel();
        void renderNote(this.#noteBody, this.#open.view, this.#open.docked.workspace);
        this.#tick();
      }
      this.#syncTitle();
    });
    root.replaceChildren(
      separator,
      h(
        'div',
        { class: 'atelier-dock__head' },
        this.#title,
        h('span', { class: 'atelier-dock__meta' }, this.#connection, this.#timer),
        h('span', { class: 'atelier-dock__actions' }, this.#extend, collapse, this.#expand, this.#delete),
      ),
      h(
        'div',
        { id: 'atelier-dock-body', class: 'atelier-dock__body' },
        this.#status,
        // A trainer's messages sit here while the dock is open (class-messages.ts).
        h('div', { class: 'atelier-dock__messages' }),
        this.#step,
        h('details', { class: 'atelier-dock__note' }, h('summary', { 'data-i18n': 'note.title' }), this.#noteBody),
        this.#tabs,
        h('p', { id: hintId, class: 'atelier-dock__hint', 'data-i18n': 'dock.leaveTerminal' }),
      ),
    );
    document.addEventListener('astro:page-load', () => {
      this.#showStep();
      this.#fitPage();
    });
    // Back to the terminal from anywhere on the page, as VS Code's Ctrl+` (on AZERTY: Ctrl+²,
    // the same physical key).
    document.addEventListener('keydown', (event) => {
      if (!this.#open || !event.ctrlKey || event.code !== 'Backquote') return;
      event.preventDefault();
      this.focus();
    });
    document.addEventListener('atelier:progress', () => this.#showStep());
  }

  /** Every fixed word of the dock, in the page's language (a navigation may switch it). */
  #relabel(): void {
    this.#lang = document.documentElement.lang;
    for (const element of this.#root.querySelectorAll<HTMLElement>('[data-i18n]')) element.textContent = t(element.dataset.i18n!);
    for (const element of this.#root.querySelectorAll<HTMLElement>('[data-i18n-label]')) {
      element.setAttribute('aria-label', t(element.dataset.i18nLabel!));
      if (element.title) element.title = t(element.dataset.i18nLabel!);
    }
  }

  /**
   * The dock takes half the screen: on a page with nothing to do in the lab (an account page) it
   * starts minimized; on a course page it is as the learner left it.
   */
  #fitPage(): void {
    if (!this.#open) return;
    const course = document.querySelector('li[data-step], atelier-launch, atelier-run') !== null;
    this.#collapse(course ? localStorage.getItem(collapsedKey) === '1' : true, course);
  }

  /** Minimized to its bar (phones); the learner's choice is remembered across pages and reloads. */
  #collapse(collapsed: boolean, remember = true): void {
    this.#root.toggleAttribute('data-collapsed', collapsed);
    const button = this.#root.querySelector<HTMLElement>('.atelier-dock__collapse')!;
    button.setAttribute('aria-expanded', String(!collapsed));
    button.dataset.i18n = collapsed ? 'dock.expand' : 'dock.collapse';
    button.textContent = t(button.dataset.i18n);
    document.documentElement.dataset.dock = collapsed ? 'collapsed' : 'open';
    if (!remember) return;
    if (collapsed) localStorage.setItem(collapsedKey, '1');
    else localStorage.removeItem(collapsedKey);
  }

  /** The lab's title in the page's language (the server gives both). */
  #syncTitle(): void {
    const open = this.#open;
    if (!open) return;
    const title = open.view.title?.[document.documentElement.lang] ?? open.docked.title;
    if (title !== open.docked.title) {
      open.docked = { ...open.docked, title };
      setDockedLab(open.docked);
    }
    this.#title.textContent = title;
  }

  /** Shows `session`'s lab here, replacing whatever lab was docked (that one keeps running). */
  async show(session: LabSession, view: LabStatus, meta: DockedLab, focus: boolean): Promise<void> {
    if (this.#open?.session.id === session.id) {
      if (focus) this.focus();
      return;
    }
    this.#close(false);
    setDockedLab(meta);
    this.#root.hidden = false;
    this.#relabel();
    this.#collapse(!focus && localStorage.getItem(collapsedKey) === '1');
    this.#title.textContent = meta.title;
    this.#status.textContent = '';
    this.#root.dataset.connection = 'online';
    this.#connection.textContent = t('dock.online');
    let tabs!: TerminalTabs;
    let service: ServicePanel | undefined;
    let monitoring: Monitoring | undefined;
    const chosen = view.configured.service;
    const openable = (chosen === 'jupyterlab' || chosen === 'vscode') && view.servicePassword ? (chosen as OpenableService) : undefined;
    const views = new DockViews(
      this.#tabs,
      [
        ...(openable
          ? [{ name: 'service', label: `catalog.${openable}.name`, build: (panel: HTMLElement) => (service = new ServicePanel(panel, session, openable, view.servicePassword!, () => this.#fullOnPhone())) }]
          : []),
        {
          name: 'terminals',
          label: 'dock.terminals',
          build: (panel: HTMLElement) => {
            tabs = new TerminalTabs(panel, session, t('launch.terminalLabel', { lab: meta.title }), hintId, {
              onError: (code, message) => {
                if (code === 'lab_gone' || code === 'forbidden' || code === 'unauthorized') this.#ended(t('errors.lab_gone'));
                else this.#say(message);
              },
              onExit: () => this.#say(t('launch.reconnecting')),
              onConnection: (online) => this.#connected(online),
            });
          },
        },
        {
          name: 'monitoring',
          label: 'dock.monitoring',
          build: (panel: HTMLElement) => (monitoring = new Monitoring(panel, { labId: session.id, token: session.token })),
          shown: () => monitoring?.show(),
          hidden: () => monitoring?.hide(),
        },
      ],
      // The terminals are laid out first (xterm measures its cell in a visible pane).
      'terminals',
    );
    const open: Open = {
      session,
      view,
      docked: meta,
      tabs,
      views,
      // Read when the dock closes: Monitoring, say, may have been built long after this.
      disposeViews: () => {
        service?.dispose();
        monitoring?.dispose();
      },
      timer: window.setInterval(() => this.#tick(), 1000),
      lastRefresh: Date.now(),
      online: true,
    };
    this.#open = open;
    if (!focus) this.#fitPage();
    // "Run in terminal" from the page: the terminals come to the front.
    setTerminalInput((data) => {
      if (views.active !== 'terminals') views.select('terminals');
      return tabs.send(data);
    });
    void renderNote(this.#noteBody, view, meta.workspace);
    this.#tick();
    this.#showStep();
    listenForEvidence();
    announceDock({ lab: session.lab, state: 'running' });
    this.#syncTitle();
    await tabs.ready();
    if (openable) views.select('service');
    if (focus) (openable ? service : tabs)?.focus();
  }

  focus(): void {
    if (this.#root.hasAttribute('data-collapsed')) this.#root.querySelector<HTMLButtonElement>('.atelier-dock__collapse')?.click();
    // Ctrl+` means the terminal, whichever view was in front.
    if (this.#open && this.#open.views.active !== 'terminals') this.#open.views.select('terminals');
    this.#open?.tabs.focus();
  }

  #say(message: string): void {
    this.#status.textContent = message;
  }

  #connected(online: boolean): void {
    const open = this.#open;
    if (!open || open.online === online) return;
    open.online = online;
    this.#root.dataset.connection = online ? 'online' : 'offline';
    this.#connection.textContent = online ? t('dock.back') : t('dock.offline');
    announceDock({ lab: open.session.lab, state: online ? 'running' : 'offline' });
  }

  /** The first step of the page not done yet: named in the dock and targeted by the skip link. */
  #showStep(): void {
    const step = currentStep();
    if (!step) {
      this.#step.replaceChildren();
      return;
    }
    const link = h('a', { href: `#${step.id}` }, step.text);
    link.addEventListener('click', (event) => {
      event.preventDefault();
      step.element.scrollIntoView({ block: 'center', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
      step.element.focus({ preventScroll: true });
    });
    this.#step.replaceChildren(h('span', { class: 'atelier-dock__step-label' }, t('dock.currentStep', { n: step.index, total: step.total })), ' ', link);
  }

  #tick(): void {
    const open = this.#open;
    if (!open) return;
    const now = Date.now();
    const left = new Date(open.session.expiresAt).getTime() - now;
    if (left <= 0) return this.#ended(t('launch.expired'));
    this.#timer.textContent = t('dock.timeLeft', { time: formatDuration(left) });
    const { view } = open;
    const idleLeft = view.idleExpiresAt ? new Date(view.idleExpiresAt).getTime() - now : Infinity;
    const extendable = view.maxExpiresAt !== undefined && new Date(view.maxExpiresAt).getTime() > new Date(open.session.expiresAt).getTime();
    this.#extend.hidden = !(left < warnBeforeMs && extendable);
    const warning = left < warnBeforeMs ? t('launch.expiresSoon', { time: formatDuration(left) }) : idleLeft < idleWarnBeforeMs ? t('launch.idleSoon', { time: formatDuration(Math.max(0, idleLeft)) }) : '';
    if (warning || this.#root.dataset.warning) this.#say(warning);
    this.#root.toggleAttribute('data-warning', warning !== '');
    // Activity moves the idle deadline on the server: refresh the view now and then.
    if (now - open.lastRefresh > 60_000) {
      open.lastRefresh = now;
      void api<LabStatus>('GET', `/api/labs/${encodeURIComponent(open.session.id)}`, { token: open.session.token })
        .then((fresh) => {
          open.view = fresh;
          open.session.expiresAt = fresh.expiresAt;
        })
        .catch((error: unknown) => {
          if (error instanceof ApiError && error.code === 'lab_gone') this.#ended(t('errors.lab_gone'));
        });
    }
  }

  async #extendLab(): Promise<void> {
    const open = this.#open;
    if (!open) return;
    this.#extend.disabled = true;
    try {
      const view = await api<LabStatus>('POST', `/api/labs/${encodeURIComponent(open.session.id)}/extend`, { token: open.session.token });
      open.view = view;
      open.session.expiresAt = view.expiresAt;
      saveSession(open.session);
      this.#say(t('launch.extended', { time: new Date(view.expiresAt).toLocaleTimeString(document.documentElement.lang) }));
    } catch (error) {
      this.#say((error as Error).message);
    } finally {
      this.#extend.disabled = false;
    }
  }

  async #deleteLab(): Promise<void> {
    const open = this.#open;
    if (!open || !window.confirm(t('launch.deleteConfirm'))) return;
    this.#delete.disabled = true;
    this.#say(t('launch.deleting'));
    try {
      await api('DELETE', `/api/labs/${encodeURIComponent(open.session.id)}`, { token: open.session.token });
      this.#ended(t('launch.deleted'));
    } catch (error) {
      if (error instanceof ApiError && error.code === 'lab_gone') this.#ended(t('launch.deleted'));
      else this.#say((error as Error).message);
    } finally {
      this.#delete.disabled = false;
    }
  }

  /** A service in the bottom sheet of a phone would get a strip: it takes the screen (Full screen undoes it). */
  #fullOnPhone(): void {
    if (matchMedia('(max-width: 63.99rem)').matches && !this.#root.hasAttribute('data-full')) this.#toggleFullScreen();
  }

  #toggleFullScreen(): void {
    const full = this.#root.toggleAttribute('data-full');
    this.#expand.setAttribute('aria-pressed', String(full));
  }

  /** The lab is gone (deleted, expired, unknown to the server): the dock closes, the card takes over. */
  #ended(message: string): void {
    const lab = this.#open?.session.lab;
    this.#close(true);
    if (lab) {
      forgetSession(lab);
      announceDock({ lab, state: 'ended', message });
    }
  }

  #close(forget: boolean): void {
    const open = this.#open;
    if (!open) return;
    window.clearInterval(open.timer);
    open.tabs.dispose(forget);
    open.disposeViews();
    this.#open = undefined;
    setTerminalInput(undefined);
    this.#root.hidden = true;
    this.#root.removeAttribute('data-full');
    delete this.#root.dataset.connection;
    this.#connection.textContent = '';
    delete document.documentElement.dataset.dock;
  }
}

let instance: Dock | undefined;

/** The page frame's one dock (the element survives client-side navigation, and so does this). */
export function dock(): Dock {
  const root = document.getElementById('atelier-dock');
  if (!root) throw new Error('the page frame has no #atelier-dock');
  instance ??= new Dock(root);
  return instance;
}

export type { Dock };

/** A page load with a docked lab: bring it back if it still runs, quietly (no focus taken). */
export async function resumeDock(): Promise<void> {
  const docked = dockedLab();
  const session = docked && storedSession(docked.lab);
  if (!docked || !session) return;
  try {
    let view = await api<LabStatus>('GET', `/api/labs/${encodeURIComponent(session.id)}`, { token: session.token });
    while (view.status === 'queued' || view.status === 'starting') {
      view = await api<LabStatus>('GET', `/api/labs/${encodeURIComponent(session.id)}?wait=${view.progress.length}`, { token: session.token });
    }
    if (view.status === 'running') return await dock().show({ ...session, expiresAt: view.expiresAt }, view, docked, false);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'network') {
      announceDock({ lab: docked.lab, state: 'offline' });
      return;
    }
  }
  forgetSession(docked.lab);
  announceDock({ lab: docked.lab, state: 'ended', message: t('errors.lab_gone') });
}
