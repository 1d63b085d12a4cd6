/**
 * A terminal must receive Tab (shell completion), so Tab alone cannot leave it. As the issue's
 * users asked, a documented chord does: Escape, then Tab (or Shift+Tab) within a moment.
 *
 * The Escape is held back for that moment: sent at once, it would sit in the shell's line editor
 * as a Meta prefix and eat the first key typed on coming back (readline reads ESC m as M-m).
 * A lone Escape (vim) reaches the shell when the moment is over, or as soon as another key
 * follows, before that key, so the order of keys never changes.
 */
export type KeyDecision = 'pass' | 'swallow' | 'leave';

type KeyLike = Pick<KeyboardEvent, 'type' | 'key' | 'ctrlKey' | 'altKey' | 'metaKey' | 'shiftKey'>;

export class FocusEscape {
  readonly #sendEscape: () => void;
  readonly #windowMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(sendEscape: () => void, windowMs = 600) {
    this.#sendEscape = sendEscape;
    this.#windowMs = windowMs;
  }

  get #armed(): boolean {
    return this.#timer !== undefined;
  }

  #flush(): void {
    if (!this.#armed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#sendEscape();
  }

  decide(event: KeyLike): KeyDecision {
    if (event.type !== 'keydown') return 'pass';
    const plain = !event.ctrlKey && !event.altKey && !event.metaKey;
    if (event.key === 'Escape' && plain && !event.shiftKey) {
      this.#flush();
      this.#timer = setTimeout(() => this.#flush(), this.#windowMs);
      return 'swallow';
    }
    if (!this.#armed) return 'pass';
    // Shift on its way to Shift+Tab types nothing: the chord stays armed.
    if (event.key === 'Shift') return 'pass';
    if (event.key === 'Tab' && plain) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      return 'leave';
    }
    this.#flush();
    return 'pass';
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
