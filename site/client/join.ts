import { api } from './api.ts';
import { h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';
import { classFlag } from './class-flag.ts';


/** <atelier-join>: the class code (from the link) and the name the trainer will see. */
class AtelierJoin extends HTMLElement {
  readonly #status = h('p', { class: 'atelier-app__status', role: 'status' });

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
        })
        .catch((error: Error) => (this.#status.textContent = error.message));
    });
    this.replaceChildren(this.#status, form);
  }
}

customElements.define('atelier-join', AtelierJoin);
