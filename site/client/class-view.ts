import type { ClassView, MemberRow } from '../../server/classes/view.ts';
import { api } from './api.ts';
import { h } from './dom.ts';
import { formatLeft } from './services.ts';
import { pageLanguage, t } from './strings.ts';

type Column = 'stuck' | 'name' | 'progress';

/** Stuck longest first: the oldest current step; those done with the course last. */
const orders: Record<Column, (a: MemberRow, b: MemberRow) => number> = {
  stuck: (a, b) => (a.current?.since ?? Infinity) - (b.current?.since ?? Infinity),
  name: (a, b) => a.name.localeCompare(b.name, pageLanguage()),
  progress: (a, b) => a.done - b.done,
};

/** The live region speaks at most this often: a class's burst is one sentence, not fifty. */
const announceEveryMs = 5_000;

/** <atelier-class-view>: the class's table, live (SSE), with per-learner actions and a class message. */
class AtelierClassView extends HTMLElement {
  readonly #id = new URLSearchParams(location.search).get('id') ?? '';
  readonly #rows = new Map<string, MemberRow>();
  readonly #status = h('p', { class: 'atelier-app__status', role: 'status' });
  readonly #live = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  readonly #connection = h('p', { class: 'atelier-class__connection' });
  readonly #table = h('div', {});
  #title = '';
  #sort: Column = 'stuck';
  #source: EventSource | undefined;
  #clock: ReturnType<typeof setInterval> | undefined;
  #pending: string[] = [];
  #announceTimer: ReturnType<typeof setTimeout> | undefined;

  connectedCallback(): void {
    const text = h('textarea', { id: 'atelier-class-message', maxlength: 500, rows: 2, required: true });
    const form = h('form', { class: 'atelier-form' }, h('label', { for: 'atelier-class-message' }, t('classView.classMessage')), text, h('button', { type: 'submit' }, t('classView.send')));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#send({ text: text.value }).then(() => (text.value = ''));
    });
    const exportLink = h('a', { class: 'atelier-button', href: `/api/trainer/classes/${encodeURIComponent(this.#id)}/export.csv`, download: '' }, t('classView.exportCsv'));
    const back = h('a', { href: `/${pageLanguage()}/trainer/` }, t('classView.back'));
    this.replaceChildren(h('p', {}, back), this.#status, this.#connection, this.#live, this.#table, h('p', {}, exportLink), form);
    this.#open();
    this.#clock = setInterval(() => this.#render(), 30_000);
  }

  disconnectedCallback(): void {
    this.#source?.close();
    clearInterval(this.#clock);
    clearTimeout(this.#announceTimer);
  }

  #open(): void {
    const source = new EventSource(`/api/trainer/classes/${encodeURIComponent(this.#id)}/events`);
    this.#source = source;
    source.addEventListener('open', () => (this.#connection.textContent = t('classView.live')));
    source.addEventListener('error', () => {
      this.#connection.textContent = t('classView.reconnecting');
      // A 404 or 401 is final: EventSource gives up by itself (readyState CLOSED).
      if (source.readyState === EventSource.CLOSED) this.#status.textContent = t('classView.notFound');
    });
    source.addEventListener('snapshot', (event) => {
      const data = JSON.parse((event as MessageEvent<string>).data) as { class: ClassView; members: MemberRow[] };
      this.#title = data.class.title;
      this.#rows.clear();
      for (const row of data.members) this.#rows.set(row.member, row);
      this.#render();
    });
    source.addEventListener('members', (event) => {
      const { members } = JSON.parse((event as MessageEvent<string>).data) as { members: MemberRow[] };
      for (const row of members) {
        const before = this.#rows.get(row.member);
        if (!before) this.#announce(t('classView.announceJoined', { name: row.name }));
        else if (row.done > before.done && before.current) this.#announce(t('classView.announceDone', { name: row.name, step: before.current.label }));
        else if (row.failed.length > before.failed.length) this.#announce(t('classView.announceFailed', { name: row.name, step: row.failed.at(-1)!.label }));
        this.#rows.set(row.member, row);
      }
      this.#render();
    });
    source.addEventListener('removed', (event) => {
      for (const member of (JSON.parse((event as MessageEvent<string>).data) as { members: string[] }).members) this.#rows.delete(member);
      this.#render();
    });
  }

  #announce(sentence: string): void {
    this.#pending.push(sentence);
    this.#announceTimer ??= setTimeout(() => {
      this.#announceTimer = undefined;
      const [first, ...rest] = this.#pending;
      this.#pending = [];
      this.#live.textContent = rest.length === 0 ? first! : `${first} (+${rest.length})`;
    }, announceEveryMs);
  }

  #header(column: Column | undefined, label: string): HTMLTableCellElement {
    if (!column) return h('th', { scope: 'col' }, label);
    const sorted = this.#sort === column;
    const button = h('button', { type: 'button', class: 'atelier-sort', 'aria-label': t('classView.sortBy', { column: label }) }, label);
    button.addEventListener('click', () => {
      this.#sort = column;
      this.#render();
      this.querySelector<HTMLButtonElement>(`th[data-column="${column}"] button`)?.focus();
    });
    return h('th', { scope: 'col', 'data-column': column, 'aria-sort': sorted ? 'ascending' : 'none' }, button);
  }

  #render(): void {
    this.removeAttribute('aria-busy');
    const rows = [...this.#rows.values()].sort(orders[this.#sort]);
    if (rows.length === 0) {
      this.#table.replaceChildren(h('p', { class: 'atelier-empty' }, t('classView.none')));
      return;
    }
    const now = Date.now();
    const body = rows.map((row) => {
      const lab = row.lab
        ? row.lab.status === 'running'
          ? t('classView.labRunning', { left: formatLeft(row.lab.expiresAt - now) })
          : t(row.lab.status === 'queued' ? 'classView.labQueued' : 'classView.labStarting')
        : t('classView.labNone');
      return h(
        'tr',
        { 'data-member': row.member },
        h('th', { scope: 'row' }, row.name),
        h('td', {}, t('classView.steps', { done: row.done, total: row.total })),
        h('td', {}, row.current ? [row.current.label, h('br', {}), h('small', {}, t('classView.onItFor', { time: formatLeft(now - row.current.since) }))] : t('classView.finished')),
        h('td', {}, row.failed.length === 0 ? t('classView.noFailure') : h('ul', {}, row.failed.map((failure) => h('li', {}, h('strong', {}, failure.label), ' — ', failure.feedback)))),
        h('td', {}, lab),
        h(
          'td',
          { class: 'atelier-actions' },
          row.lab ? h('button', { type: 'button', 'aria-label': t('classView.extendLabel', { name: row.name }), onclick: () => void this.#extend(row) }, t('classView.extend')) : null,
          row.lab ? h('button', { type: 'button', class: 'atelier-danger', 'aria-label': t('classView.deleteLabel', { name: row.name }), onclick: () => void this.#delete(row) }, t('classView.deleteLab')) : null,
          h('button', { type: 'button', 'aria-label': t('classView.messageLabel', { name: row.name }), onclick: () => void this.#message(row) }, t('classView.message')),
        ),
      );
    });
    const caption = t('classView.caption', { title: this.#title, count: rows.length });
    this.#table.replaceChildren(
      h(
        'div',
        { class: 'atelier-table-scroll', tabindex: 0, role: 'region', 'aria-label': caption },
        h(
        'table',
        { class: 'atelier-table atelier-class__table' },
        h('caption', {}, caption),
        h(
          'thead',
          {},
          h('tr', {}, this.#header('name', t('classView.name')), this.#header('progress', t('classView.progress')), this.#header('stuck', t('classView.current')), this.#header(undefined, t('classView.failed')), this.#header(undefined, t('classView.lab')), this.#header(undefined, t('classView.actions'))),
        ),
        h('tbody', {}, body),
        ),
      ),
    );
  }

  async #act(run: () => Promise<unknown>, done: string): Promise<void> {
    try {
      await run();
      this.#status.textContent = done;
    } catch (error) {
      this.#status.textContent = (error as Error).message;
    }
  }

  #base(row: MemberRow): string {
    return `/api/trainer/classes/${encodeURIComponent(this.#id)}/members/${encodeURIComponent(row.member)}`;
  }

  #extend(row: MemberRow): Promise<void> {
    return this.#act(() => api('POST', `${this.#base(row)}/extend`), t('classView.extended', { name: row.name }));
  }

  #delete(row: MemberRow): Promise<void> {
    if (!window.confirm(t('classView.deleteConfirm', { name: row.name }))) return Promise.resolve();
    return this.#act(() => api('DELETE', `${this.#base(row)}/lab`), t('classView.deleted', { name: row.name }));
  }

  #message(row: MemberRow): Promise<void> {
    const text = window.prompt(t('classView.messageTo', { name: row.name }));
    return text ? this.#send({ text, member: row.member }) : Promise.resolve();
  }

  async #send(body: { text: string; member?: string }): Promise<void> {
    try {
      const { sent } = await api<{ sent: number }>('POST', `/api/trainer/classes/${encodeURIComponent(this.#id)}/messages`, { body });
      this.#status.textContent = t('classView.sent', { count: sent });
    } catch (error) {
      this.#status.textContent = (error as Error).message;
    }
  }
}

customElements.define('atelier-class-view', AtelierClassView);
