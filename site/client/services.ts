import { api } from './api.ts';
import { formatDate, h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';

interface MyLab {
  id: string;
  lab: string;
  title: string;
  status: 'queued' | 'starting' | 'running';
  createdAt: string;
  expiresAt: string;
  course?: string;
  /** The catalogue's service it was launched with (terminal, jupyterlab, vscode). */
  service?: string;
}

/** How often the list is asked for again (labs launched or reaped elsewhere); the clocks tick every second. */
const refreshMs = 15_000;

/** "1 h 12 min 05 s", "4 min 05 s": the time left, to the second, as the datalab's list shows it. */
export function formatLeft(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = String(seconds % 60).padStart(2, '0');
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, '0')} min ${rest} s`;
  return minutes > 0 ? `${minutes} min ${rest} s` : `${seconds % 60} s`;
}

/** <atelier-services>: the learner's running labs, their time left, their course, and Delete. */
class AtelierServices extends HTMLElement {
  #labs: MyLab[] = [];
  #clock: ReturnType<typeof setInterval> | undefined;
  #refresh: ReturnType<typeof setInterval> | undefined;
  readonly #status = h('p', { class: 'atelier-app__status', role: 'status' });
  readonly #list = h('div', { class: 'atelier-services__list' });

  connectedCallback(): void {
    this.replaceChildren(this.#status, this.#list);
    void this.#load();
    this.#clock = setInterval(() => this.#tick(), 1000);
    this.#refresh = setInterval(() => void this.#load(), refreshMs);
  }

  disconnectedCallback(): void {
    clearInterval(this.#clock);
    clearInterval(this.#refresh);
  }

  async #load(): Promise<void> {
    try {
      const { labs } = await api<{ labs: MyLab[] }>('GET', '/api/me/labs');
      this.#labs = labs;
      this.#render();
    } catch (error) {
      this.#status.textContent = (error as Error).message;
    }
  }

  #render(): void {
    const language = pageLanguage();
    if (this.#labs.length === 0) {
      this.#list.replaceChildren(
        h(
          'div',
          { class: 'atelier-empty' },
          h('p', { class: 'atelier-empty__title' }, t('services.none')),
          h('p', {}, t('services.noneHint'), ' ', h('a', { href: `/${language}/` }, t('services.practicals'))),
        ),
      );
      return;
    }
    const rows = this.#labs.map((lab) =>
      h(
        'tr',
        { 'data-lab': lab.id },
        h(
          'th',
          { scope: 'row' },
          h('span', { class: 'atelier-services__title' }, lab.title),
          h('small', {}, [lab.service ? `${t(`catalog.${lab.service}.name`)} · ` : '', t('services.launched', { date: formatDate(lab.createdAt, language) })].join('')),
        ),
        h('td', {}, h('span', { class: 'atelier-badge', 'data-status': lab.status }, t(`services.status.${lab.status}`))),
        h('td', { class: 'atelier-services__left', 'data-expires': lab.expiresAt }),
        h(
          'td',
          { class: 'atelier-actions' },
          lab.course
            ? h('a', { class: 'atelier-button', href: `/${language}${lab.course}`, 'aria-label': t('services.openCourseLabel', { title: lab.title }) }, t('services.openCourse'))
            : null,
          h(
            'button',
            { type: 'button', class: 'atelier-danger', 'aria-label': t('services.deleteLabel', { title: lab.title }), onclick: () => void this.#delete(lab) },
            t('services.delete'),
          ),
        ),
      ),
    );
    this.#list.replaceChildren(
      h(
        'table',
        { class: 'atelier-table' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', { scope: 'col' }, t('services.service')), h('th', { scope: 'col' }, t('services.state')), h('th', { scope: 'col' }, t('services.timeLeft')), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('services.actions')))),
        ),
        h('tbody', {}, rows),
      ),
    );
    this.#tick();
  }

  /** Each lab's time left, from its expiry: the clock of the page, not a count the server keeps. */
  #tick(): void {
    for (const cell of this.#list.querySelectorAll<HTMLElement>('[data-expires]')) {
      const left = Date.parse(cell.dataset.expires!) - Date.now();
      cell.textContent = t('services.left', { left: formatLeft(left) });
    }
  }

  async #delete(lab: MyLab): Promise<void> {
    if (!window.confirm(t('services.deleteConfirm', { title: lab.title }))) return;
    try {
      await api('DELETE', `/api/me/labs/${encodeURIComponent(lab.id)}`);
      this.#status.textContent = t('services.deleted', { title: lab.title });
    } catch (error) {
      this.#status.textContent = (error as Error).message;
    }
    await this.#load();
  }
}

customElements.define('atelier-services', AtelierServices);
