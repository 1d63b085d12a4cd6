/**
 * The page's current step: the first one not done yet. It carries aria-current="step", the skip
 * link at the top of the page jumps to it, and the dock names it.
 */
import { stepBox } from './step-box.ts';

export interface CurrentStep {
  element: HTMLElement;
  id: string;
  text: string;
  index: number;
  total: number;
}

function isDone(item: HTMLElement): boolean {
  return stepBox(item)?.checked ?? false;
}

/** The item's own words, without its Check button, result, help (hints, solution) or nested lists. */
function stepText(item: HTMLElement): string {
  const copy = item.cloneNode(true) as HTMLElement;
  for (const part of copy.querySelectorAll('atelier-check, .atelier-step-help, ul, ol, input')) part.remove();
  const text = (copy.textContent ?? '').replace(/\s+/g, ' ').trim();
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

export function currentStep(): CurrentStep | undefined {
  const items = [...document.querySelectorAll<HTMLElement>('li[data-step]')];
  const at = items.findIndex((item) => !isDone(item));
  for (const item of items) item.removeAttribute('aria-current');
  const skip = document.querySelector<HTMLAnchorElement>('.atelier-skip-step');
  if (at < 0) {
    if (skip) skip.hidden = true;
    return undefined;
  }
  const element = items[at]!;
  element.id ||= `step-${element.dataset.step}`;
  // Focusable by script only, so the skip link and the dock can move the keyboard there.
  element.tabIndex = -1;
  element.setAttribute('aria-current', 'step');
  if (skip) {
    skip.hidden = false;
    skip.href = `#${element.id}`;
  }
  return { element, id: element.id, text: stepText(element), index: at + 1, total: items.length };
}
