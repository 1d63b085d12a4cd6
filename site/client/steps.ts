import { api } from './api.ts';
import { pageLab, storedSession, typeIntoTerminal } from './lab-session.ts';
import { isDone, setDone } from './progress.ts';
import { t } from './strings.ts';

interface CheckResult {
  ok: boolean;
  message: string;
  hint?: string;
}

function stepBox(item: Element | null): HTMLInputElement | null {
  return item?.querySelector<HTMLInputElement>(':scope > input[type="checkbox"], :scope > p > input[type="checkbox"]') ?? null;
}

/**
 * Task items become real checkboxes with saved state. A step with a server check can only be
 * ticked by its check passing: the browser does not decide that a step is done.
 */
export function upgradeTaskItems(): void {
  for (const item of document.querySelectorAll<HTMLElement>('li[data-step]')) {
    const box = stepBox(item);
    if (!box) continue;
    const step = item.dataset.step!;
    box.checked = isDone(step);
    box.disabled = item.dataset.check !== undefined;
    box.addEventListener('change', () => setDone(step, box.checked));
  }
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

  async run(): Promise<void> {
    const lab = pageLab();
    const session = lab ? storedSession(lab) : undefined;
    if (!session) return this.#result(t('steps.needLab'), 'failed');
    const button = this.querySelector('button')!;
    button.disabled = true;
    this.#result(t('steps.checking'), 'checking');
    try {
      const path = `/api/labs/${encodeURIComponent(session.id)}/checks/${encodeURIComponent(this.dataset.check ?? '')}`;
      const result = await api<CheckResult>('POST', path, { token: session.token });
      const item = this.closest<HTMLElement>('li[data-step]');
      if (result.ok && item) {
        setDone(item.dataset.step!, true);
        const box = stepBox(item);
        if (box) box.checked = true;
      }
      const text = result.ok ? t('steps.passed') : [result.message, result.hint && t('steps.hint', { hint: result.hint })].filter(Boolean).join(' ');
      this.#result(text, result.ok ? 'passed' : 'failed');
    } catch (error) {
      this.#result((error as Error).message, 'failed');
    } finally {
      button.disabled = false;
    }
  }
}

/** <atelier-run data-command="…">: types the block's command into the lab's terminal. */
export class AtelierRun extends HTMLElement {
  connectedCallback(): void {
    this.querySelector('button')?.addEventListener('click', () => {
      const command = (this.dataset.command ?? '').replace(/\n/g, '\r');
      if (typeIntoTerminal(`${command}\r`)) return;
      let note = this.querySelector<HTMLElement>('.atelier-run__note');
      if (!note) {
        note = document.createElement('span');
        note.className = 'atelier-run__note';
        note.setAttribute('role', 'status');
        this.append(note);
      }
      note.textContent = t('steps.needLab');
    });
  }
}
