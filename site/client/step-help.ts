/**
 * Help under a step (written by site/markdown/hints.ts): hints revealed one at a time, and the
 * two actions that change the learner's lab, each after a confirmation: Skip (the check's solve
 * script, then the check) and Rebuild (the page's earlier check steps, in order, in the running
 * lab or in one launched for it).
 */
import type { RebuildLine } from '../../server/http/solve.ts';
import { api, ApiError } from './api.ts';
import { pageLab, storedSession, type LabSession } from './lab-session.ts';
import { ndjsonLines } from './ndjson.ts';
import { pageLanguage, t } from './strings.ts';
import type { AtelierCheck } from './steps.ts';
import type { AtelierLaunch } from './launch-card.ts';

/** <atelier-hints data-total="N">: the button shows the next hint; once all are shown, it hides them. */
export class AtelierHints extends HTMLElement {
  connectedCallback(): void {
    this.querySelector('button')?.addEventListener('click', () => this.#next());
  }

  #next(): void {
    const button = this.querySelector('button')!;
    const hints = [...this.querySelectorAll<HTMLElement>('.atelier-hint')];
    const shown = hints.filter((hint) => !hint.hidden).length;
    if (shown === hints.length) {
      for (const hint of hints) hint.hidden = true;
    } else {
      hints[shown]!.hidden = false;
    }
    const now = shown === hints.length ? 0 : shown + 1;
    button.setAttribute('aria-expanded', String(now > 0));
    button.textContent = now === hints.length ? t('stepHelp.hideHints') : t('stepHelp.hint', { n: now + 1, total: hints.length });
  }
}

/** A step's own words, as its checkbox is named. */
function stepText(check: string): string {
  return document.querySelector(`li[data-check="${CSS.escape(check)}"] .atelier-step__text`)?.textContent?.trim() ?? check;
}

/** The step of `check` is done on the server: its Check button shows it as a pass would. */
function markPassed(check: string): void {
  document.querySelector<AtelierCheck>(`li[data-check="${CSS.escape(check)}"] atelier-check`)?.markPassed();
}

/** <atelier-step-actions data-skip="check" data-rebuild="check check…">. */
export class AtelierStepActions extends HTMLElement {
  connectedCallback(): void {
    this.querySelector('[data-action="skip"]')?.addEventListener('click', () => void this.#skip());
    this.querySelector('[data-action="rebuild"]')?.addEventListener('click', () => void this.#rebuild());
  }

  #say(message: string, state: string): void {
    this.querySelector('.atelier-step-actions__status')!.textContent = message;
    this.dataset.state = state;
  }

  #busy(busy: boolean): void {
    for (const button of this.querySelectorAll('button')) button.disabled = busy;
  }

  async #skip(): Promise<void> {
    const check = this.dataset.skip!;
    const lab = pageLab();
    const session = lab ? storedSession(lab) : undefined;
    if (!session) return this.#say(t('steps.needLab'), 'failed');
    if (!window.confirm(t('stepHelp.skipConfirm'))) return;
    this.#busy(true);
    this.#say(t('stepHelp.skipping'), 'running');
    try {
      const result = await api<{ ok: boolean; message: string }>('POST', `/api/labs/${encodeURIComponent(session.id)}/checks/${encodeURIComponent(check)}/solve`, { token: session.token });
      if (result.ok) markPassed(check);
      this.#say(result.message, result.ok ? 'passed' : 'failed');
    } catch (error) {
      this.#say((error as Error).message, 'failed');
    } finally {
      this.#busy(false);
    }
  }

  /** The page's running lab, or one launched by its card for the rebuild. */
  async #lab(): Promise<LabSession | undefined> {
    const lab = pageLab();
    if (!lab) return undefined;
    const running = storedSession(lab);
    if (running) return running;
    this.#say(t('stepHelp.rebuildLaunching'), 'running');
    await document.querySelector<AtelierLaunch>('atelier-launch')?.launch();
    return storedSession(lab);
  }

  async #rebuild(): Promise<void> {
    const checks = (this.dataset.rebuild ?? '').split(' ').filter(Boolean);
    if (!window.confirm(t('stepHelp.rebuildConfirm', { count: checks.length }))) return;
    this.#busy(true);
    try {
      const session = await this.#lab();
      if (!session) return this.#say(t('steps.needLab'), 'failed');
      await this.#follow(session, checks);
    } catch (error) {
      this.#say((error as Error).message, 'failed');
    } finally {
      this.#busy(false);
    }
  }

  /** Sends the rebuild and says each line as it arrives ("2/5: Clone the repository…"). */
  async #follow(session: LabSession, checks: string[]): Promise<void> {
    const response = await fetch(`/api/labs/${encodeURIComponent(session.id)}/rebuild`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept-Language': pageLanguage(), Authorization: `Bearer ${session.token}` },
      body: JSON.stringify({ checks }),
    }).catch(() => {
      throw new ApiError(0, 'network', t('errors.network'));
    });
    if (!response.ok || !response.body) {
      const payload = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      throw new ApiError(response.status, payload.error?.code ?? 'internal', payload.error?.message ?? t('errors.internal'));
    }
    let last: { index: number; total: number; check: string } | undefined;
    for await (const line of ndjsonLines<RebuildLine>(response.body)) {
      if (line.type === 'end') {
        if (line.ok) this.#say(t('stepHelp.rebuildDone'), 'passed');
        else this.#say(t('stepHelp.rebuildFailed', { n: last?.index ?? 0, total: last?.total ?? checks.length, step: stepText(line.check ?? last?.check ?? ''), message: line.message ?? '' }), 'failed');
        return;
      }
      last = line;
      const step = stepText(line.check);
      if (line.state === 'solving') this.#say(t('stepHelp.rebuildSolving', { n: line.index, total: line.total, step }), 'running');
      else if (line.state === 'checking') this.#say(t('stepHelp.rebuildChecking', { n: line.index, total: line.total, step }), 'running');
      else if (line.state === 'passed') markPassed(line.check);
    }
    // The stream ended without its last line: the server went away mid-way.
    this.#say(t('errors.network'), 'failed');
  }
}
