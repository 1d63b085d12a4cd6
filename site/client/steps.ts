import { api } from './api.ts';
import { pageLab, storedSession, typeIntoTerminal } from './lab-session.ts';
import { isDone, setDone } from './progress.ts';
import { currentStep } from './current-step.ts';
import { stepBox } from './step-box.ts';
import { t } from './strings.ts';

interface CheckResult {
  ok: boolean;
  message: string;
}

/**
 * Task items become real checkboxes with saved state. A step with a server check can only be
 * ticked by its check passing: the browser does not decide that a step is done. Runs on every
 * page the client router shows, once per item.
 */
export function upgradeTaskItems(): void {
  for (const item of document.querySelectorAll<HTMLElement>('li[data-step]:not([data-upgraded])')) {
    const box = stepBox(item);
    if (!box) continue;
    item.dataset.upgraded = '';
    const step = item.dataset.step!;
    box.checked = isDone(step);
    box.disabled = item.dataset.check !== undefined;
    box.addEventListener('change', () => {
      setDone(step, box.checked);
      currentStep();
    });
  }
  currentStep();
}

/** <atelier-check data-check="…">: asks the lab server to check the step against the real lab. */
export class AtelierCheck extends HTMLElement {
  connectedCallback(): void {
    this.querySelector('button')?.addEventListener('click', () => void this.run());
  }

  #result(message: string, state: string): void {
    const result = this.querySelector('.atelier-check__result')!;
    result.textContent = message;
    this.dataset.state = state;
  }

  /** The server found the step done (on request, or by itself when the evidence arrived). */
  markPassed(): void {
    const item = this.closest<HTMLElement>('li[data-step]');
    if (item) {
      setDone(item.dataset.step!, true);
      const box = stepBox(item);
      if (box) box.checked = true;
    }
    this.#result(t('steps.passed'), 'passed');
    currentStep();
    document.dispatchEvent(new CustomEvent('atelier:progress', { detail: { step: item?.dataset.step, done: true } }));
  }

  /** Where the check runs: in the page's lab, or (data-scope="learner") on the learner's account. */
  #request(): { path: string; token?: string } | undefined {
    const check = encodeURIComponent(this.dataset.check ?? '');
    if (this.dataset.scope === 'learner') return { path: `/api/me/checks/${check}` };
    const lab = pageLab();
    const session = lab ? storedSession(lab) : undefined;
    return session ? { path: `/api/labs/${encodeURIComponent(session.id)}/checks/${check}`, token: session.token } : undefined;
  }

  async run(): Promise<void> {
    const request = this.#request();
    if (!request) return this.#result(t('steps.needLab'), 'failed');
    const button = this.querySelector('button')!;
    button.disabled = true;
    this.#result(t('steps.checking'), 'checking');
    try {
      const result = await api<CheckResult>('POST', request.path, { token: request.token });
      if (result.ok) return this.markPassed();
      // The server's message already carries the hint.
      this.#result(result.message, 'failed');
    } catch (error) {
      this.#result((error as Error).message, 'failed');
    } finally {
      button.disabled = false;
    }
  }
}

/** <atelier-run data-command="…">: types the block's command into the dock's terminal. */
export class AtelierRun extends HTMLElement {
  connectedCallback(): void {
    // Its own button: the code block inside has a copy button of its own, first in the markup.
    this.querySelector('.atelier-run__button')?.addEventListener('click', () => {
      const command = (this.dataset.command ?? '').replace(/\n/g, '\r');
      if (typeIntoTerminal(`${command}\r`)) return this.#note('');
      this.#note(pageLab() && storedSession(pageLab()!) ? t('dock.offline') : t('steps.needLab'));
    });
  }

  #note(message: string): void {
    let note = this.querySelector<HTMLElement>('.atelier-run__note');
    if (!note) {
      note = document.createElement('span');
      note.className = 'atelier-run__note';
      note.setAttribute('role', 'status');
      this.append(note);
    }
    note.textContent = message;
  }
}
