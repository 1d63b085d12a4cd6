/**
 * A trainer's messages on every page of a learner in a class: each one a notice (role="status":
 * announced politely, never stealing focus) in the open dock, or over the page's corner without
 * one, until the learner marks it read.
 * Loaded only when the learner joined a class on this browser (join.ts sets the flag), so other
 * learners' pages open no stream. One EventSource for the visit; the server replays the unread.
 */
import { api } from './api.ts';
import { h } from './dom.ts';
import { t } from './strings.ts';
import { classFlag } from './class-flag.ts';

const region = h('section', { class: 'atelier-class-messages', 'aria-label': t('classMessage.from') });
const shown = new Set<string>();

/** In the open dock, under its status line; else over the page's corner. */
function place(): void {
  const slot = document.documentElement.dataset.dock === 'open' ? document.querySelector('.atelier-dock__messages') : null;
  const home = slot ?? document.body;
  if (region.parentElement !== home) home.append(region);
  region.classList.toggle('atelier-class-messages--docked', slot !== null);
}

function show(message: { id: string; text: string }): void {
  if (shown.has(message.id)) return;
  shown.add(message.id);
  const dismiss = h('button', { type: 'button', class: 'atelier-secondary' }, t('classMessage.dismiss'));
  const notice = h('div', { class: 'atelier-class-message', role: 'status' }, h('strong', {}, t('classMessage.from')), h('p', {}, message.text), dismiss);
  dismiss.addEventListener('click', () => {
    void api('POST', `/api/classes/mine/messages/${encodeURIComponent(message.id)}/read`).catch(() => undefined);
    notice.remove();
  });
  region.append(notice);
  place();
}

const source = new EventSource('/api/classes/mine/messages/events');
source.addEventListener('message', (event) => show(JSON.parse((event as MessageEvent<string>).data) as { id: string; text: string }));
// Not a member any more (left, or the learner was purged): stop asking on every page.
source.addEventListener('error', () => {
  if (source.readyState === EventSource.CLOSED) localStorage.removeItem(classFlag);
});
document.addEventListener('astro:page-load', place);
// The dock opens and closes without a page load (a launch, Delete, collapse).
new MutationObserver(place).observe(document.documentElement, { attributes: true, attributeFilter: ['data-dock'] });
