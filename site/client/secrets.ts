import { api } from './api.ts';
import { formatDate, h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';

interface SecretGroup {
  group: string;
  names: string[];
  updatedAt: string;
}

const variableName = '^[A-Za-z_][A-Za-z0-9_]*$';
const groupName = '^[a-z0-9][a-z0-9-]{0,31}$';

/**
 * <atelier-secrets>: named groups of environment variables, injected into a lab at launch.
 * Values are write-only here: the server returns names, never values.
 */
class AtelierSecrets extends HTMLElement {
  connectedCallback(): void {
    void this.#load();
  }

  async #load(message = ''): Promise<void> {
    try {
      const { groups } = await api<{ groups: SecretGroup[] }>('GET', '/api/me/secrets');
      this.#render(groups, message);
    } catch (error) {
      this.replaceChildren(h('p', { class: 'atelier-error', role: 'alert' }, (error as Error).message));
    }
  }

  #render(groups: SecretGroup[], message: string): void {
    const language = pageLanguage();
    const list = groups.length
      ? h(
          'ul',
          { class: 'atelier-list' },
          groups.map((group) =>
            h(
              'li',
              { 'data-group': group.group },
              h('strong', {}, group.group),
              ' ',
              h('span', {}, group.names.map((name) => h('code', {}, name))),
              ' ',
              h('small', {}, t('secrets.updated', { date: formatDate(group.updatedAt, language) })),
              ' ',
              h('button', { type: 'button', onclick: () => this.#edit(group) }, t('secrets.edit')),
              h('button', { type: 'button', class: 'atelier-danger', onclick: () => void this.#delete(group.group) }, t('secrets.delete')),
            ),
          ),
        )
      : h('p', {}, t('secrets.none'));
    this.replaceChildren(h('p', { role: 'status' }, message), list, h('h2', {}, t('secrets.newGroup')), this.#form());
  }

  #edit(group: SecretGroup): void {
    const form = this.querySelector('form');
    if (!form) return;
    (form.querySelector('input[name="group"]') as HTMLInputElement).value = group.group;
    const rows = form.querySelector('.atelier-vars')!;
    rows.replaceChildren(...group.names.map((name) => variableRow(name)));
    form.scrollIntoView({ behavior: 'smooth' });
  }

  #form(): HTMLFormElement {
    const rows = h('div', { class: 'atelier-vars' }, variableRow());
    const status = h('span', { role: 'status' });
    const form = h(
      'form',
      { class: 'atelier-form' },
      h('label', {}, t('secrets.group'), h('input', { name: 'group', required: true, pattern: groupName, maxlength: 32 })),
      h('fieldset', {}, h('legend', {}, t('secrets.variables')), rows),
      h('button', { type: 'button', onclick: () => rows.append(variableRow()) }, t('secrets.addVariable')),
      h('div', {}, h('button', { type: 'submit' }, t('secrets.save')), status),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const group = (form.querySelector('input[name="group"]') as HTMLInputElement).value.trim();
      const vars: Record<string, string> = {};
      for (const row of rows.querySelectorAll('.atelier-var')) {
        const [name, value] = row.querySelectorAll('input');
        if (name!.value.trim()) vars[name!.value.trim()] = value!.value;
      }
      api('PUT', `/api/me/secrets/${encodeURIComponent(group)}`, { body: { vars } })
        .then(() => this.#load(t('secrets.saved', { group })))
        .catch((error: Error) => (status.textContent = error.message));
    });
    return form;
  }

  async #delete(group: string): Promise<void> {
    if (!window.confirm(t('secrets.deleteConfirm', { group }))) return;
    await api('DELETE', `/api/me/secrets/${encodeURIComponent(group)}`).catch(() => undefined);
    await this.#load();
  }
}

function variableRow(name = ''): HTMLElement {
  return h(
    'div',
    { class: 'atelier-var' },
    h('input', { 'aria-label': t('secrets.name'), placeholder: t('secrets.name'), value: name, pattern: variableName, maxlength: 64, spellcheck: 'false' }),
    h('input', { 'aria-label': t('secrets.value'), placeholder: t('secrets.value'), type: 'password', autocomplete: 'off' }),
  );
}

customElements.define('atelier-secrets', AtelierSecrets);
