import { api, ApiError } from './api.ts';
import { forgetSession, saveSession, setTerminalInput, storedSession, type LabSession } from './lab-session.ts';
import { t } from './strings.ts';
import type { TerminalTabs } from './terminal-tabs.ts';
import { LaunchConfig } from './launch-config.ts';
import type { LabView } from './lab-note.ts';

interface LabStatus extends LabSession, LabView {
  status: 'queued' | 'starting' | 'running' | 'stopped' | 'failed';
  progress: { step: string; percent: number }[];
  position?: number;
  estimatedWaitSeconds?: number;
  slow?: boolean;
  maxExpiresAt?: string;
  idleExpiresAt?: string;
}

/** Warnings start this long before the lab expires or stops for inactivity. */
const warnBeforeMs = 10 * 60_000;
const idleWarnBeforeMs = 5 * 60_000;

/** <atelier-launch data-lab="…">: launch, watch, use and delete the page's lab. */
export class AtelierLaunch extends HTMLElement {
  #session: LabSession | undefined;
  #terminal: TerminalTabs | undefined;
  #timer: number | undefined;
  #config: LaunchConfig | undefined;
  #view: LabStatus | undefined;
  #lastRefresh = 0;

  get #lab(): string {
    return this.dataset.lab ?? '';
  }

  #part<T extends HTMLElement>(selector: string): T {
    return this.querySelector<T>(selector)!;
  }

  connectedCallback(): void {
    this.#part('[data-action="launch"]').addEventListener('click', () => void this.launch());
    this.#part('[data-action="delete"]').addEventListener('click', () => void this.remove());
    this.#part('[data-action="extend"]').addEventListener('click', () => void this.extend());
    const caps = { cpu: Number(this.dataset.cpu), memory: Number(this.dataset.memory) };
    this.#config = new LaunchConfig(this.#part('.atelier-launch__form'), caps);
    this.#part('.atelier-launch__configure').addEventListener('toggle', () => void this.#config?.load());
    const stored = storedSession(this.#lab);
    if (stored) void this.#resume(stored);
  }

  #status(message: string, state: string): void {
    this.#part('.atelier-launch__status').textContent = message;
    this.dataset.state = state;
  }

  async launch(): Promise<void> {
    const button = this.#part<HTMLButtonElement>('[data-action="launch"]');
    button.disabled = true;
    this.#status(t('launch.starting'), 'starting');
    try {
      const created = await api<LabStatus>('POST', '/api/labs', { body: { lab: this.#lab, ...this.#config?.choices() } });
      const session = { id: created.id, token: created.token, lab: this.#lab, expiresAt: created.expiresAt };
      saveSession(session);
      const lab = await this.#untilStarted(session, created);
      await this.#showRunning({ ...session, expiresAt: lab.expiresAt }, lab);
    } catch (error) {
      this.#status(t('launch.failed', { message: (error as Error).message }), 'failed');
      button.disabled = false;
    }
  }

  async #resume(session: LabSession): Promise<void> {
    try {
      const found = await api<LabStatus>('GET', `/api/labs/${encodeURIComponent(session.id)}`, { token: session.token });
      if (found.status === 'queued' || found.status === 'starting') this.#part<HTMLButtonElement>('[data-action="launch"]').disabled = true;
      const lab = await this.#untilStarted(session, found);
      if (lab.status === 'running') return await this.#showRunning({ ...session, expiresAt: lab.expiresAt }, lab);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'network') return this.#status(error.message, 'failed');
    }
    forgetSession(this.#lab);
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
    const step = view.progress.at(-1)?.step ?? 'queued';
    this.#status(view.slow ? t('launch.slow') : `${t('launch.starting')} ${t(`progress.${step}`)}`, 'starting');
  }

  async #showRunning(session: LabSession, view: LabStatus): Promise<void> {
    this.#session = session;
    this.#view = view;
    this.#part('[data-action="launch"]').hidden = true;
    this.#part('.atelier-launch__configure').hidden = true;
    const note = this.#part<HTMLDetailsElement>('.atelier-launch__note');
    note.hidden = false;
    void import('./lab-note.ts').then(({ renderNote }) => renderNote(this.#part('.atelier-launch__note-body'), view, this.dataset.workspace ?? ''));
    this.#part('[data-action="delete"]').hidden = false;
    this.#status(t('launch.running'), 'running');
    this.#tick();
    this.#timer = window.setInterval(() => this.#tick(), 1000);
    const container = this.#part('.atelier-launch__terminal');
    container.hidden = false;
    const { TerminalTabs } = await import('./terminal-tabs.ts');
    this.#terminal = new TerminalTabs(container, session, t('launch.terminalLabel', { lab: this.getAttribute('aria-label') ?? this.#lab }), {
      onError: (code, message) => {
        if (code === 'lab_gone' || code === 'forbidden' || code === 'unauthorized') this.#ended(t('errors.lab_gone'));
        else this.#status(message, 'failed');
      },
      onExit: () => this.#status(t('launch.reconnecting'), 'running'),
    });
    setTerminalInput((data) => this.#terminal?.send(data));
    this.#terminal.focus();
    const { listenForEvidence } = await import('./evidence.ts');
    listenForEvidence(this.#lab);
  }

  #tick(): void {
    const session = this.#session;
    if (!session) return;
    const now = Date.now();
    const left = new Date(session.expiresAt).getTime() - now;
    if (left <= 0) return this.#ended(t('launch.expired'));
    this.#part('.atelier-launch__timer').textContent = t('launch.expiresIn', { time: formatDuration(left) });
    const idleLeft = this.#view?.idleExpiresAt ? new Date(this.#view.idleExpiresAt).getTime() - now : Infinity;
    const extendable = this.#view?.maxExpiresAt !== undefined && new Date(this.#view.maxExpiresAt).getTime() > new Date(session.expiresAt).getTime();
    this.#part('[data-action="extend"]').hidden = !(left < warnBeforeMs && extendable);
    const warning = left < warnBeforeMs ? t('launch.expiresSoon', { time: formatDuration(left) }) : idleLeft < idleWarnBeforeMs ? t('launch.idleSoon', { time: formatDuration(Math.max(0, idleLeft)) }) : '';
    if (warning) this.#status(warning, 'warning');
    else if (this.dataset.state === 'warning') this.#status(t('launch.running'), 'running');
    // Activity moves the idle deadline on the server: refresh the view now and then.
    if (now - this.#lastRefresh > 60_000) {
      this.#lastRefresh = now;
      void api<LabStatus>('GET', `/api/labs/${encodeURIComponent(session.id)}`, { token: session.token })
        .then((view) => {
          this.#view = view;
          session.expiresAt = view.expiresAt;
        })
        .catch(() => undefined);
    }
  }

  async extend(): Promise<void> {
    const session = this.#session;
    if (!session) return;
    const button = this.#part<HTMLButtonElement>('[data-action="extend"]');
    button.disabled = true;
    try {
      const view = await api<LabStatus>('POST', `/api/labs/${encodeURIComponent(session.id)}/extend`, { token: session.token });
      this.#view = view;
      session.expiresAt = view.expiresAt;
      saveSession(session);
      this.#status(t('launch.extended', { time: new Date(view.expiresAt).toLocaleTimeString(document.documentElement.lang) }), 'running');
    } catch (error) {
      this.#status((error as Error).message, 'warning');
    } finally {
      button.disabled = false;
    }
  }

  async remove(): Promise<void> {
    const session = this.#session;
    if (!session || !window.confirm(t('launch.deleteConfirm'))) return;
    const button = this.#part<HTMLButtonElement>('[data-action="delete"]');
    button.disabled = true;
    this.#status(t('launch.deleting'), 'deleting');
    try {
      await api('DELETE', `/api/labs/${encodeURIComponent(session.id)}`, { token: session.token });
      this.#ended(t('launch.deleted'));
    } catch (error) {
      if (error instanceof ApiError && error.code === 'lab_gone') this.#ended(t('launch.deleted'));
      else this.#status((error as Error).message, 'failed');
    } finally {
      button.disabled = false;
    }
  }

  /** The lab is gone (deleted, expired, or unknown to the server): back to a launchable card. */
  #ended(message: string): void {
    window.clearInterval(this.#timer);
    this.#terminal?.dispose();
    this.#terminal = undefined;
    this.#session = undefined;
    setTerminalInput(undefined);
    forgetSession(this.#lab);
    const launch = this.#part<HTMLButtonElement>('[data-action="launch"]');
    launch.hidden = false;
    launch.disabled = false;
    this.#part('[data-action="delete"]').hidden = true;
    this.#part('[data-action="extend"]').hidden = true;
    this.#view = undefined;
    this.#part('.atelier-launch__configure').hidden = false;
    this.#part('.atelier-launch__note').hidden = true;
    this.#part('.atelier-launch__terminal').hidden = true;
    this.#part('.atelier-launch__timer').textContent = '';
    this.#status(message, 'stopped');
  }
}

function formatDuration(milliseconds: number): string {
  const totalSeconds = Math.ceil(milliseconds / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, '0')} min`;
  if (minutes > 0) return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
  return `${seconds} s`;
}
