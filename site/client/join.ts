import { api } from './api.ts';
import { h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';
import { classFlag } from './class-flag.ts';


/** <atelier-join>: the class code (from the link) and the name the trainer will see. */
class AtelierJoin extends HTMLElement {
  readonly #status = h('p', { class: 'atelier-app__status', role: 'status' });
  readonly #mine = h('div', {});

  connectedCallback(): void {
    const code = h('input', { id: 'atelier-join-code', required: true, autocomplete: 'off', maxlength: 32, value: new URLSearchParams(location.search).get('code') ?? '' });
    const name = h('input', { id: 'atelier-join-name', required: true, maxlength: 60, autocomplete: 'name', 'aria-describedby': 'atelier-join-name-hint' });
    const form = h(
      'form',
      { class: 'atelier-form' },
      h('label', { for: 'atelier-join-code' }, t('join.code')),
      code,
      h('label', { for: 'atelier-join-name' }, t('join.name')),
      name,
      h('p', { id: 'atelier-join-name-hint', class: 'atelier-hint' }, t('join.nameHint')),
      h('button', { type: 'submit' }, t('join.button')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void api<{ class: { title: string; start: string }; name: string }>('POST', '/api/classes/join', { body: { code: code.value, name: name.value } })
        .then((joined) => {
          localStorage.setItem(classFlag, '1');
          // The client router keeps this visit's modules: messages start here, not on the next load.
          void import('./class-messages.ts');
          this.#status.textContent = t('join.joined', { title: joined.class.title, name: joined.name });
          form.replaceChildren(h('a', { class: 'atelier-button', href: `/${pageLanguage()}${joined.class.start}` }, t('join.start')));
          void this.#listMine();
        })
        .catch((error: Error) => (this.#status.textContent = error.message));
    });
    this.replaceChildren(this.#status, form, this.#mine);
    void this.#listMine();
  }

  /** The classes this learner is in, each with Leave: their own only, never anyone else's. */
  async #listMine(): Promise<void> {
    const { classes } = await api<{ classes: { id: string; title: string; name: string }[] }>('GET', '/api/classes/mine').catch(() => ({ classes: [] }));
    if (classes.length === 0) {
      this.#mine.replaceChildren();
      return;
    }
    const items = classes.map((group) => {
      const leave = h('button', { type: 'button', class: 'atelier-secondary', 'aria-label': t('join.leaveLabel', { title: group.title }) }, t('join.leave'));
      leave.addEventListener('click', () => {
        void api('DELETE', `/api/classes/mine/${encodeURIComponent(group.id)}`)
          .then(() => {
            this.#status.textContent = t('join.left');
            if (classes.length === 1) localStorage.removeItem(classFlag);
            return this.#listMine();
          })
          .catch((error: Error) => (this.#status.textContent = error.message));
      });
      return h('li', {}, `${group.title} (${group.name}) `, leave);
    });
    this.#mine.replaceChildren(h('h2', {}, t('join.mine')), h('ul', {}, items));
  }
}

customElements.define('atelier-join', AtelierJoin);
