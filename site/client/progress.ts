/**
 * Step progress: kept in localStorage (per page path without its language prefix, so the French
 * and English versions of a page share it) and on the server, so it follows the learner.
 * - On page load (and after each client-side navigation, `astro:page-load`), the changes the
 *   server has not acknowledged yet are merged (POST /api/progress: the learner's ticks and
 *   un-ticks of manual steps) and the server's state replaces the local one.
 * - A tick is written locally at once and sent (PUT); checked steps are never sent: the server
 *   ticks those itself when their check passes.
 * - Live: other tabs of this browser hear changes on a BroadcastChannel; other devices on the
 *   server's SSE stream (EventSource: built into browsers, where socket.io-client would weigh
 *   ~13 KB before any launch), open only while the page is visible; when it comes back, a sync.
 * Changes from elsewhere tick the page's checkboxes and are announced as `atelier:progress`.
 */
import { stepBox } from './step-box.ts';

const prefix = 'atelier:progress:v1:';
const pendingPrefix = 'atelier:progress:pending:v1:';

type Steps = Record<string, boolean>;

export interface ProgressChange {
  page: string;
  step: string;
  done: boolean;
}

function currentPage(): string {
  return location.pathname.replace(/^\/(fr|en)(\/|$)/, '/');
}

function readKey(key: string): Steps | undefined {
  try {
    const value = localStorage.getItem(key);
    return value === null ? undefined : (JSON.parse(value) as Steps);
  } catch {
    return undefined;
  }
}

const done = (page: string): Steps => readKey(prefix + page) ?? {};
/** Changes the server has not acknowledged; everything held locally when this page never synced. */
const pending = (page: string): Steps => readKey(pendingPrefix + page) ?? done(page);
const write = (key: string, steps: Steps): void => localStorage.setItem(key, JSON.stringify(steps));

export function isDone(step: string): boolean {
  return done(currentPage())[step] === true;
}

function item(step: string): HTMLElement | null {
  return document.querySelector<HTMLElement>(`li[data-step="${CSS.escape(step)}"]`);
}

function record(page: string, step: string, value: boolean): boolean {
  const steps = done(page);
  if ((steps[step] === true) === value) return false;
  if (value) steps[step] = true;
  else delete steps[step];
  write(prefix + page, steps);
  return true;
}

/** Shows a change that happened elsewhere (another tab, device, or the server's check). */
function show(change: ProgressChange): void {
  // Tabs share localStorage: another tab may have recorded it already, this page still shows the old state.
  const recorded = record(change.page, change.step, change.done);
  if (change.page !== currentPage()) return;
  const box = stepBox(item(change.step));
  if (!recorded && (!box || box.checked === change.done)) return;
  if (box) box.checked = change.done;
  document.dispatchEvent(new CustomEvent('atelier:progress', { detail: { step: change.step, done: change.done } }));
}

const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('atelier:progress') : undefined;
if (channel) channel.onmessage = (message: MessageEvent<ProgressChange>) => show(message.data);

async function send(method: 'PUT' | 'POST', body: unknown): Promise<{ learner: boolean; steps: string[] } | undefined> {
  const response = await fetch('/api/progress', { method, headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
  return response?.ok ? ((await response.json()) as { learner: boolean; steps: string[] }) : undefined;
}

export function setDone(step: string, value: boolean): void {
  const page = currentPage();
  record(page, step, value);
  channel?.postMessage({ page, step, done: value } satisfies ProgressChange);
  if (item(step)?.dataset.check !== undefined) return;
  write(pendingPrefix + page, { ...pending(page), [step]: value });
  void send('PUT', { page, step, done: value }).then((answer) => {
    if (!answer) return;
    const left = pending(page);
    if (left[step] === value) delete left[step];
    write(pendingPrefix + page, left);
    follow(answer.learner);
  });
}

let lastSynced = '';

/** Merges what the server has not seen, then takes the server's state for this page. */
async function sync(): Promise<void> {
  const page = currentPage();
  lastSynced = location.pathname;
  if (!document.querySelector('li[data-step]')) return;
  const sent = pending(page);
  const answer =
    Object.keys(sent).length > 0
      ? await send('POST', { page, steps: sent })
      : await fetch(`/api/progress?page=${encodeURIComponent(page)}`, { headers: { Accept: 'application/json' } })
          .then((response) => (response.ok ? (response.json() as Promise<{ learner: boolean; steps: string[] }>) : undefined))
          .catch(() => undefined);
  if (!answer || page !== currentPage()) return;
  const left = pending(page);
  for (const [step, value] of Object.entries(sent)) if (left[step] === value) delete left[step];
  write(pendingPrefix + page, left);
  const server = new Set(answer.steps);
  for (const step of new Set([...Object.keys(done(page)), ...server])) {
    // A checked step is the server's to say; a manual one changed here since stays as it is here.
    if (left[step] === undefined) show({ page, step, done: server.has(step) });
  }
  follow(answer.learner);
}

let stream: EventSource | undefined;
let known = false;

/** Listens to the learner's other devices while the page is visible (only once a learner exists). */
function follow(learner: boolean): void {
  known ||= learner;
  if (!known || stream || document.visibilityState !== 'visible' || typeof EventSource !== 'function') return;
  stream = new EventSource('/api/progress/events');
  // After a reconnection (server restart, stream expiry), what was missed meanwhile.
  let reopened = false;
  stream.onopen = () => {
    if (reopened) void sync();
    reopened = true;
  };
  stream.addEventListener('progress', (event) => show(JSON.parse((event as MessageEvent<string>).data) as ProgressChange));
  // Refused (too many streams) or gone: syncing on return to the page is enough.
  stream.onerror = () => {
    if (stream?.readyState === EventSource.CLOSED) stream = undefined;
  };
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') {
    stream?.close();
    stream = undefined;
  } else void sync();
});
// With client-side navigation the module runs once and each page load says so; without, at once.
document.addEventListener('astro:page-load', () => {
  if (location.pathname !== lastSynced) void sync();
});
void sync();
