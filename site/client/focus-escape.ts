/**
 * A terminal must receive Tab (shell completion), so Tab alone cannot leave it. As in VS Code's
 * and Jupyter's terminals, a documented chord does: Escape, then Tab (or Shift+Tab) within a
 * moment. Escape still reaches the shell; only the Tab that follows it is taken.
 */
export class FocusEscape {
  #armedAt = -Infinity;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(windowMs = 1500, now: () => number = () => performance.now()) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** True when this key event should move focus out of the terminal instead of reaching it. */
  leaves(event: Pick<KeyboardEvent, 'type' | 'key' | 'ctrlKey' | 'altKey' | 'metaKey'>): boolean {
    if (event.type !== 'keydown') return false;
    if (event.key === 'Escape') {
      this.#armedAt = this.#now();
      return false;
    }
    if (event.key === 'Shift') return false; // Shift on its way to Shift+Tab keeps the chord armed.
    const armed = this.#now() - this.#armedAt <= this.#windowMs;
    this.#armedAt = -Infinity;
    return armed && event.key === 'Tab' && !event.ctrlKey && !event.altKey && !event.metaKey;
  }
}
