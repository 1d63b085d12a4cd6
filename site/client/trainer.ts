import type { ClassView } from '../../server/classes/view.ts';
import { api } from './api.ts';
import { copyButton, formatDate, h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';

/** `YYYY-MM-DDTHH:MM` in local time, as <input type="datetime-local"> wants it. */
function localInput(ms: number): string {
  const date = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return date.toISOString().slice(0, 16);
}

export const joinLink = (code: string) => `${location.origin}/${pageLanguage()}/join/?code=${encodeURIComponent(code)}`;

/** <atelier-trainer>: sign in with the token, the trainer's classes (join link and code), a new class. */
class AtelierTrainer extends HTMLElement {
  readonly #status = h('p', { class: 'atelier-app__status', role: 'status' });
  readonly #body = h('div', {});

  connectedCallback(): void {
    this.replaceChildren(this.#status, this.#body);
    void this.#load();
  }

  async #load(): Promise<void> {
    try {
      const { trainer } = await api<{ trainer: { id: string } | null }>('GET', '/api/trainer/session');
      if (trainer) await this.#classes();
      else this.#signIn();
    } catch (error) {
      this.#status.textContent = (error as Error).message;
    }
  }

  #signIn(): void {
    const token = h('input', { id: 'atelier-trainer-token', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'atelier-trainer-token-hint' });
    const form = h(
      'form',
      { class: 'atelier-form' },
      h('h2', {}, t('trainer.signInTitle')),
      h('label', { for: 'atelier-trainer-token' }, t('trainer.tokenLabel')),
      token,
      h('p', { id: 'atelier-trainer-token-hint', class: 'atelier-hint' }, t('trainer.tokenHint')),
      h('button', { type: 'submit' }, t('trainer.signIn')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void api('POST', '/api/trainer/session', { body: { token: token.value } })
        .then(() => this.#classes())
        .catch((error: Error) => {
          this.#status.textContent = error.message;
          token.focus();
        });
    });
    this.#body.replaceChildren(form);
  }

  async #classes(): Promise<void> {
    const [{ classes }, { courses }] = await Promise.all([
      api<{ classes: ClassView[] }>('GET', '/api/trainer/classes'),
      api<{ courses: { path: string; title: string }[] }>('GET', '/api/trainer/courses'),
    ]);
    const language = pageLanguage();
    const signOut = h('button', { type: 'button', class: 'atelier-secondary' }, t('trainer.signOut'));
    signOut.addEventListener('click', () => void api('DELETE', '/api/trainer/session').then(() => this.#signIn()));
    const items = classes.map((group) =>
      h(
        'li',
        { class: 'atelier-trainer__class' },
        h('h3', {}, group.title),
        h('p', {}, `${group.courseTitle} · ${t('trainer.dates', { start: formatDate(new Date(group.startsAt).toISOString(), language), end: formatDate(new Date(group.endsAt).toISOString(), language) })}`),
        group.closedAt === null
          ? h(
              'p',
              {},
              `${t('trainer.joinCode')} : `,
              h('strong', { class: 'atelier-trainer__code' }, group.joinCode),
              ' ',
              copyButton(() => joinLink(group.joinCode), t('trainer.copy'), t('trainer.copied'), t('trainer.copyLabel', { title: group.title })),
            )
          : h('p', {}, h('span', { class: 'atelier-badge' }, t('trainer.closedOn'))),
        h(
          'p',
          { class: 'atelier-actions' },
          h('a', { class: 'atelier-button', href: `/${language}/trainer/class/?id=${encodeURIComponent(group.id)}`, 'aria-label': t('trainer.openLabel', { title: group.title }) }, t('trainer.open')),
          group.closedAt === null ? h('button', { type: 'button', class: 'atelier-danger', 'aria-label': t('trainer.closeLabel', { title: group.title }), onclick: () => void this.#close(group) }, t('trainer.closeClass')) : null,
        ),
      ),
    );
    const course = h('select', { id: 'atelier-class-course', required: true }, ...courses.map((c) => h('option', { value: c.path }, c.title)));
    const title = h('input', { id: 'atelier-class-title', required: true, maxlength: 120 });
    const now = Date.now();
    const starts = h('input', { id: 'atelier-class-starts', type: 'datetime-local', required: true, value: localInput(now) });
    const ends = h('input', { id: 'atelier-class-ends', type: 'datetime-local', required: true, value: localInput(now + 3 * 3600_000) });
    const form = h(
      'form',
      { class: 'atelier-form' },
      h('h2', {}, t('trainer.createTitle')),
      h('label', { for: 'atelier-class-course' }, t('trainer.course')),
      course,
      h('label', { for: 'atelier-class-title' }, t('trainer.classTitle')),
      title,
      h('label', { for: 'atelier-class-starts' }, t('trainer.startsAt')),
      starts,
      h('label', { for: 'atelier-class-ends' }, t('trainer.endsAt')),
      ends,
      h('button', { type: 'submit' }, t('trainer.create')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = { course: course.value, title: title.value, startsAt: new Date(starts.value).getTime(), endsAt: new Date(ends.value).getTime() };
      void api<ClassView>('POST', '/api/trainer/classes', { body })
        .then(async (created) => {
          await this.#classes();
          this.#status.textContent = t('trainer.created', { title: created.title });
        })
        .catch((error: Error) => (this.#status.textContent = error.message));
    });
    this.#body.replaceChildren(
      h('p', {}, t('trainer.signedIn'), ' ', signOut),
      h('h2', {}, t('trainer.classes')),
      classes.length === 0 ? h('p', {}, t('trainer.none')) : h('ul', { class: 'atelier-trainer__classes' }, items),
      form,
    );
  }

  async #close(group: ClassView): Promise<void> {
    if (!window.confirm(t('trainer.closeConfirm', { title: group.title }))) return;
    try {
      await api('POST', `/api/trainer/classes/${encodeURIComponent(group.id)}/close`);
      await this.#classes();
    } catch (error) {
      this.#status.textContent = (error as Error).message;
    }
  }
}

customElements.define('atelier-trainer', AtelierTrainer);
