import { api } from './api.ts';
import { dockNow, dockedLab, onDockChange, saveSession, storedSession, type DockEvent, type LabSession } from './lab-session.ts';
import { t } from './strings.ts';
import { LaunchConfig } from './launch-config.ts';
import { formatDuration, type LabStatus } from './lab-status.ts';
import type { Dock } from './dock.ts';

/**
 * <atelier-launch data-lab="…">: the page's launch card. It starts the lab (following the queue
 * and the provisioning steps), then hands it to the dock beside the course, and mirrors what the
 * dock says of it: running there, offline, or ended (and why).
 */
export class AtelierLaunch extends HTMLElement {
  #config: LaunchConfig | undefined;
  #unsubscribe: (() => void) | undefined;

  get #lab(): string {
    return this.dataset.lab ?? '';
  }

  #part<T extends HTMLElement>(selector: string): T {
    return this.querySelector<T>(selector)!;
  }

  connectedCallback(): void {
    const launch = this.#part('[data-action="launch"]');
    launch.addEventListener('click', () => void this.launch());
    // The learner is about to launch: fetch the dock and terminal code (and its font) now, so
    // they are there when the lab is.
    for (const intent of ['pointerenter', 'focus', 'touchstart']) launch.addEventListener(intent, () => void this.#dock(), { once: true, passive: true });
    this.#part('[data-action="show"]').addEventListener('click', () => void this.#dock().then((dock) => dock.focus()));
    const caps = { cpu: Number(this.dataset.cpu), memory: Number(this.dataset.memory) };
    this.#config = new LaunchConfig(this.#part('.atelier-launch__form'), caps);
    this.#part('.atelier-launch__configure').addEventListener('toggle', () => void this.#config?.load());
    this.#unsubscribe = onDockChange((event) => this.#follow(event));
    const now = dockNow();
    if (now?.lab === this.#lab && now.state !== 'ended') return this.#follow(now);
    // On a fresh page load the dock brings its lab back by itself (atelier.ts): wait for it.
    if (dockedLab()?.lab === this.#lab && storedSession(this.#lab)) {
      this.#part<HTMLButtonElement>('[data-action="launch"]').disabled = true;
      this.#status(t('launch.reconnecting'), 'starting');
    }
  }

  disconnectedCallback(): void {
    this.#unsubscribe?.();
  }

  #status(message: string, state: string): void {
    this.#part('.atelier-launch__status').textContent = message;
    this.dataset.state = state;
  }

  #dock(): Promise<Dock> {
    return import('./dock.ts').then(({ dock }) => dock());
  }

  /** The card as the dock's lab changes: in use there, or launchable again. */
  #follow(event: DockEvent): void {
    if (event.lab !== this.#lab) return;
    const running = event.state !== 'ended';
    this.#part('[data-action="launch"]').hidden = running;
    this.#part<HTMLButtonElement>('[data-action="launch"]').disabled = false;
    this.#part('[data-action="show"]').hidden = !running;
    this.#part('.atelier-launch__configure').hidden = running;
    const catalog = this.querySelector<HTMLElement>('.atelier-launch__catalog');
    if (catalog) catalog.hidden = running;
    if (event.state === 'running') this.#status(t('dock.runningThere'), 'running');
    else if (event.state === 'offline') this.#status(t('dock.offline'), 'offline');
    else this.#status(event.message ?? '', 'stopped');
  }

  async launch(): Promise<void> {
    const button = this.#part<HTMLButtonElement>('[data-action="launch"]');
    button.disabled = true;
    this.#status(t('launch.starting'), 'starting');
    try {
      const service = this.querySelector<HTMLInputElement>('.atelier-launch__catalog input:checked')?.value;
      const created = await api<LabStatus>('POST', '/api/labs', { body: { lab: this.#lab, ...this.#config?.choices(), ...(service ? { service } : {}) } });
      const session = { id: created.id, token: created.token, lab: this.#lab, expiresAt: created.expiresAt };
      saveSession(session);
      const [lab, dock] = await Promise.all([this.#untilStarted(session, created), this.#dock()]);
      await this.#toDock({ ...session, expiresAt: lab.expiresAt }, lab, dock, true);
    } catch (error) {
      this.#status(t('launch.failed', { message: (error as Error).message }), 'failed');
      button.disabled = false;
    }
  }

  async #toDock(session: LabSession, view: LabStatus, dock: Dock, focus: boolean): Promise<void> {
    saveSession(session);
    const docked = { lab: this.#lab, title: this.getAttribute('aria-label') ?? this.#lab, workspace: this.dataset.workspace ?? '' };
    const shown = dock.show(session, view, docked, focus);
    this.#follow({ lab: this.#lab, state: 'running' });
    await shown;
  }

  /**
   * A full server queues the launch: follow it (long-poll on the lab's progress) and say where
   * it stands — position and estimated wait, the provisioning step, or that it is slow.
   */
  async #untilStarted(session: LabSession, first: LabStatus): Promise<LabStatus> {
    let view = first;
    while (view.status === 'queued' || view.status === 'starting') {
      this.#showProgress(view);
      const path = `/api/labs/${encodeURIComponent(session.id)}?wait=${view.progress.length}`;
      view = await api<LabStatus>('GET', path, { token: session.token });
    }
    return view;
  }

  #showProgress(view: LabStatus): void {
    const time = formatDuration((view.estimatedWaitSeconds ?? 0) * 1000);
    if (view.status === 'queued') {
      this.#status(view.position === 1 ? t('launch.queuedNext', { time }) : t('launch.queued', { position: view.position ?? '?', time }), 'queued');
      return;
    }
    const last = view.progress.at(-1);
    const step = `${t('launch.starting')} ${t(`progress.${last?.step ?? 'queued'}`)}${last?.message ? ` (${last.message})` : ''}`;
    this.#status(view.slow ? t('launch.slow') : step, 'starting');
  }
}
