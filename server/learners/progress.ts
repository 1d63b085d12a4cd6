/**
 * A learner's step progress, kept by the server so that it follows them from browser to browser:
 * steps ticked by hand (the learner's word is all there is), and steps ticked by a check passing
 * on the server (never by the browser: the check is the only evidence). Every change is announced
 * on the learner events, which the page streams (http/progress.ts) and the `/learner` socket
 * relay to the learner's open pages.
 */
import type { LearnerStore } from './store.ts';
import type { PageSteps } from './page-steps.ts';

/** Pages one learner may hold progress on: far more than the site has, so a client can not grow the store without end. */
export const maxProgressPages = 200;

export interface ProgressChange {
  page: string;
  step: string;
  done: boolean;
}

export type ProgressRefusalCode = 'unknown_page' | 'unknown_step' | 'step_checked' | 'too_many_progress_pages';

export class ProgressRefusal extends Error {
  readonly code: ProgressRefusalCode;
  readonly params: Record<string, string | number>;
  constructor(code: ProgressRefusalCode, params: Record<string, string | number> = {}) {
    super(code);
    this.name = 'ProgressRefusal';
    this.code = code;
    this.params = params;
  }
}

export class Progress {
  readonly #store: LearnerStore;
  readonly #pages: PageSteps;
  readonly #announce: (learnerId: string, change: ProgressChange) => void;

  constructor(store: LearnerStore, pages: PageSteps, announce: (learnerId: string, change: ProgressChange) => void) {
    this.#store = store;
    this.#pages = pages;
    this.#announce = announce;
  }

  of(learnerId: string, page: string): Promise<string[]> {
    return this.#store.progress(learnerId, page);
  }

  all(learnerId: string): Promise<Record<string, string[]>> {
    return this.#store.allProgress(learnerId);
  }

  /**
   * Applies the learner's own changes to `page`'s manual steps and returns the steps done after.
   * `strict` (one step set explicitly) refuses a checked step; a merge of what a browser held
   * skips them (older browsers stored check results locally: they are not evidence).
   */
  async apply(learnerId: string, page: string, changes: Record<string, boolean>, strict: boolean): Promise<string[]> {
    const entry = this.#pages.page(page);
    if (!entry) throw new ProgressRefusal('unknown_page');
    const manual = Object.entries(changes).filter(([step]) => {
      if (!entry.steps.has(step)) throw new ProgressRefusal('unknown_step', { step });
      if (entry.steps.get(step) === undefined) return true;
      if (strict) throw new ProgressRefusal('step_checked', { step });
      return false;
    });
    if (manual.some(([, done]) => done) && (await this.of(learnerId, page)).length === 0 && (await this.#store.progressPages(learnerId)) >= maxProgressPages) {
      throw new ProgressRefusal('too_many_progress_pages', { max: maxProgressPages });
    }
    for (const [step, done] of manual) await this.#set(learnerId, page, step, done);
    return this.of(learnerId, page);
  }

  /** A check of `lab` passed on the server: every step it ticks is done. */
  async checkPassed(learnerId: string, lab: string, check: string): Promise<void> {
    for (const { page, step } of this.#pages.stepsOfCheck(lab, check)) await this.#set(learnerId, page, step, true);
  }

  /** A check of `lab` passed after its solve script ran ("Skip this step"): its steps are done, and marked skipped. */
  async checkSkipped(learnerId: string, lab: string, check: string): Promise<void> {
    await this.checkPassed(learnerId, lab, check);
    for (const { page, step } of this.#pages.stepsOfCheck(lab, check)) await this.#store.markSkipped(learnerId, page, step);
  }

  async #set(learnerId: string, page: string, step: string, done: boolean): Promise<void> {
    if (await this.#store.setProgress(learnerId, page, step, done)) this.#announce(learnerId, { page, step, done });
  }
}
