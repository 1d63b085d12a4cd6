/**
 * The dock's service view: the note's essentials (which service, its password with a copy
 * button), "Open the service", then the service itself in a frame, on its own origin. Opening asks
 * the API for a one-use hand-off (server/http/lab-services.ts), which starts the service if needed;
 * "New browser tab" opens the same hand-off in a tab of its own.
 */
import { api, ApiError } from './api.ts';
import { copyable, h } from './dom.ts';
import type { LabSession } from './lab-session.ts';
import { t } from './strings.ts';

export type OpenableService = 'jupyterlab' | 'vscode';

interface Opened {
  url: string;
  origin: string;
  framed: boolean;
}

export class ServicePanel {
  readonly #session: LabSession;
  readonly #service: OpenableService;
  readonly #status: HTMLElement;
  readonly #frameBox: HTMLElement;
  readonly #open: HTMLButtonElement;
  readonly #newTab: HTMLButtonElement;
  #frame: HTMLIFrameElement | undefined;
  #ticker: number | undefined;
  #warmed = false;
  /**
   * Whether this page can show the service in a frame (the server says: same site); until it
   * has said, and where it cannot, the service opens in a tab of its own.
   */
  #framed = false;

  readonly #onShown: () => void;

  /** `onShown`: the service is now in the frame (the dock gives it the whole screen on a phone). */
  constructor(root: HTMLElement, session: LabSession, service: OpenableService, password: string, onShown: () => void = () => {}) {
    this.#session = session;
    this.#onShown = onShown;
    this.#service = service;
    const name = t(`catalog.${service}.name`);
    this.#status = h('p', { class: 'atelier-service__status', role: 'status' });
    this.#open = h('button', { type: 'button', class: 'atelier-service__open', 'data-i18n': 'servicePanel.open' }, t('servicePanel.open'));
    this.#newTab = h('button', { type: 'button', class: 'atelier-dock__button atelier-service__new-tab', 'data-i18n': 'servicePanel.newTab' }, t('servicePanel.newTab'));
    this.#frameBox = h('div', { class: 'atelier-service__frame' });
    this.#open.addEventListener('click', () => void this.open());
    this.#newTab.addEventListener('click', () => void this.open(true));
    // About to open: start the service now, so that it is up by the time the click lands.
    for (const intent of ['pointerenter', 'focus']) this.#open.addEventListener(intent, () => this.#warm(), { once: true, passive: true });
    root.replaceChildren(
      h(
        'div',
        { class: 'atelier-service__bar' },
        h('span', { class: 'atelier-service__name' }, name),
        h(
          'span',
          { class: 'atelier-service__password' },
          h('span', { 'data-i18n': 'servicePanel.password' }, t('servicePanel.password')),
          ' ',
          copyable(password, t('account.copy'), t('account.copied')),
        ),
        h('span', { class: 'atelier-service__actions' }, this.#open, this.#newTab),
      ),
      h('p', { class: 'atelier-service__help', 'data-i18n': `catalog.${service}.help` }, t(`catalog.${service}.help`)),
      this.#status,
      this.#frameBox,
    );
    void api<{ framed: boolean }>('GET', this.#path, { token: session.token })
      .then(({ framed }) => {
        this.#framed = framed;
        this.#newTab.hidden = !framed;
      })
      .catch(() => {});
  }

  get #path(): string {
    return `/api/labs/${encodeURIComponent(this.#session.id)}/services/${this.#service}`;
  }

  #warm(): void {
    if (this.#warmed) return;
    this.#warmed = true;
    void api('POST', `${this.#path}/start`, { token: this.#session.token }).catch(() => (this.#warmed = false));
  }

  /** While the service starts: "Starting JupyterLab… 3 s". */
  #starting(): void {
    const began = Date.now();
    const say = () => (this.#status.textContent = t('servicePanel.starting', { service: t(`catalog.${this.#service}.name`), seconds: Math.round((Date.now() - began) / 1000) }));
    say();
    window.clearInterval(this.#ticker);
    this.#ticker = window.setInterval(say, 1000);
  }

  async open(newTab = !this.#framed): Promise<void> {
    // Opened now, within the click: a window opened after the API answers would be blocked.
    const tab = newTab ? window.open('about:blank', '_blank') : null;
    this.#open.disabled = true;
    this.#starting();
    try {
      const opened = await api<Opened>('POST', `${this.#path}/open`, { token: this.#session.token });
      window.clearInterval(this.#ticker);
      if (tab) {
        tab.opener = null;
        tab.location.href = opened.url;
        this.#status.textContent = t('servicePanel.openedInTab');
        return;
      }
      this.#status.textContent = t('servicePanel.loading', { service: t(`catalog.${this.#service}.name`) });
      this.#show(opened.url);
    } catch (error) {
      window.clearInterval(this.#ticker);
      tab?.close();
      this.#status.textContent = error instanceof ApiError ? error.message : t('errors.internal');
    } finally {
      this.#open.disabled = false;
    }
  }

  #show(url: string): void {
    const frame = h('iframe', {
      class: 'atelier-service__iframe',
      title: t(`catalog.${this.#service}.name`),
      src: url,
      // The service's own clipboard (copy a cell, paste code); nothing else of the page's powers.
      allow: 'clipboard-read; clipboard-write',
      referrerpolicy: 'no-referrer',
    }) as HTMLIFrameElement;
    frame.addEventListener('load', () => (this.#status.textContent = ''), { once: true });
    this.#frame?.remove();
    this.#frame = frame;
    this.#frameBox.replaceChildren(frame);
    this.#onShown();
    this.#open.dataset.i18n = 'servicePanel.reopen';
    this.#open.textContent = t('servicePanel.reopen');
  }

  focus(): void {
    (this.#frame ?? this.#open).focus();
  }

  dispose(): void {
    window.clearInterval(this.#ticker);
    this.#frame?.remove();
  }
}
