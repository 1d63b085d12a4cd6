/**
 * The split between the course and the dock on wide screens: dragged with the pointer or moved
 * with the arrow keys on its separator (the WAI-ARIA window splitter pattern), remembered.
 */
const key = 'atelier:dock-width';
const min = 30;
const max = 75;

export class DockWidth {
  readonly #separator: HTMLElement;
  #percent: number;

  constructor(separator: HTMLElement) {
    this.#separator = separator;
    const saved = Number(localStorage.getItem(key));
    separator.setAttribute('aria-valuemin', String(min));
    separator.setAttribute('aria-valuemax', String(max));
    // Until the learner moves it, the stylesheet's default (room for 100 columns) applies.
    this.#percent = Number.isFinite(saved) && saved >= min && saved <= max ? saved : 0;
    if (this.#percent) this.#apply(this.#percent, false);
    else this.#measure();
    separator.addEventListener('keydown', (event) => {
      const step = { ArrowLeft: 2, ArrowRight: -2, Home: max - this.#percent, End: min - this.#percent }[event.key];
      if (step === undefined) return;
      event.preventDefault();
      this.#apply(this.#percent + step, true);
    });
    separator.addEventListener('pointerdown', (event) => {
      separator.setPointerCapture(event.pointerId);
      const move = (moved: PointerEvent) => this.#apply(((window.innerWidth - moved.clientX) / window.innerWidth) * 100, true);
      const up = () => {
        separator.removeEventListener('pointermove', move);
        separator.removeEventListener('pointerup', up);
      };
      separator.addEventListener('pointermove', move);
      separator.addEventListener('pointerup', up);
    });
  }

  /** After a client-side navigation replaced <html>'s attributes. */
  reapply(): void {
    if (localStorage.getItem(key)) this.#apply(this.#percent, false);
  }

  /** The width the stylesheet gave, as the separator's value. */
  #measure(): void {
    requestAnimationFrame(() => {
      const width = this.#separator.parentElement?.getBoundingClientRect().width ?? 0;
      this.#percent = Math.round((width / window.innerWidth) * 100) || 58;
      this.#separator.setAttribute('aria-valuenow', String(this.#percent));
      this.#separator.setAttribute('aria-valuetext', `${this.#percent} %`);
    });
  }

  #apply(percent: number, save: boolean): void {
    this.#percent = Math.round(Math.min(max, Math.max(min, percent)));
    document.documentElement.style.setProperty('--atelier-dock-width', `${this.#percent}vw`);
    this.#separator.setAttribute('aria-valuenow', String(this.#percent));
    this.#separator.setAttribute('aria-valuetext', `${this.#percent} %`);
    if (save) localStorage.setItem(key, String(this.#percent));
  }
}
