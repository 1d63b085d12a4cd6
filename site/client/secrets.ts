import { api } from './api.ts';
import { formatDate, h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';

interface SecretGroup {
  group: string;
  names: string[];
  updatedAt: string;
}

/** The server's rules (server/http/me.ts), checked as the learner types. */
const variableName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const groupName = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** A row of the form: a saved variable (value kept unless one is typed) or a new one. */
interface Row {
  element: HTMLElement;
  name: () => string;
  value: HTMLInputElement;
  saved: boolean;
  nameInput?: HTMLInputElement;
}

let rowCount = 0;

/**
 * <atelier-secrets>: named groups of environment variables, injected into a lab at launch.
 * Values are write-only here: the server returns names, never values; editing a group keeps each
 * saved value unless a new one is typed, and removes a variable only by its Remove button.
 */
class AtelierSecrets extends HTMLElement {
  #groups: SecretGroup[] = [];
  readonly #status = h('p', { class: 'atelier-app__status', role: 'status' });

  connectedCallback(): void {
    void this.#load();
  }

  async #load(message = ''): Promise<void> {
    try {
      const { groups } = await api<{ groups: SecretGroup[] }>('GET', '/api/me/secrets');
      this.#groups = groups;
      this.#render();
      this.#status.textContent = message;
    } catch (error) {
      this.replaceChildren(h('p', { class: 'atelier-error', role: 'alert' }, (error as Error).message));
    }
  }

  #render(editing?: SecretGroup): void {
    const language = pageLanguage();
    const list = this.#groups.length
      ? h(
          'ul',
          { class: 'atelier-cards' },
          this.#groups.map((group) =>
            h(
              'li',
              { class: 'atelier-card atelier-secret-group', 'data-group': group.group },
              h(
                'div',
                { class: 'atelier-secret-group__head' },
                h('strong', {}, group.group),
                h('small', {}, t('secrets.count', { count: group.names.length }), ' · ', t('secrets.updated', { date: formatDate(group.updatedAt, language) })),
              ),
              h('ul', { class: 'atelier-chips' }, group.names.map((name) => h('li', {}, h('code', {}, name)))),
              h(
                'div',
                { class: 'atelier-actions' },
                h('button', { type: 'button', 'aria-label': t('secrets.editLabel', { group: group.group }), onclick: () => this.#render(group) }, t('secrets.editAction')),
                h(
                  'button',
                  { type: 'button', class: 'atelier-danger', 'aria-label': t('secrets.deleteLabel', { group: group.group }), onclick: () => void this.#delete(group.group) },
                  t('secrets.delete'),
                ),
              ),
            ),
          ),
        )
      : h('div', { class: 'atelier-empty' }, h('p', { class: 'atelier-empty__title' }, t('secrets.none')));
    const form = this.#form(editing);
    this.replaceChildren(this.#status, list, form);
    if (editing) form.querySelector<HTMLInputElement>('input')?.focus();
  }

  #form(editing?: SecretGroup): HTMLFormElement {
    const rows: Row[] = [];
    const rowsHost = h('div', { class: 'atelier-vars' });
    const addRow = (row: Row) => {
      rows.push(row);
      rowsHost.append(row.element);
    };
    const removeRow = (row: Row) => {
      rows.splice(rows.indexOf(row), 1);
      row.element.remove();
      addButton.focus();
    };
    for (const name of editing?.names ?? []) addRow(savedRow(name, removeRow));
    if (!editing) addRow(newRow(removeRow));

    const hintId = 'atelier-group-hint';
    const errorId = 'atelier-group-error';
    const groupError = h('p', { class: 'atelier-field-error', id: errorId });
    const group = h('input', {
      name: 'group',
      required: true,
      maxlength: 32,
      spellcheck: 'false',
      autocomplete: 'off',
      value: editing?.group ?? '',
      readonly: editing !== undefined,
      'aria-describedby': `${hintId} ${errorId}`,
    });
    const checkGroup = () => {
      const value = group.value.trim();
      const message = value && !groupName.test(value) ? t('secrets.groupInvalid', { name: value }) : '';
      groupError.textContent = message;
      group.setAttribute('aria-invalid', String(message !== ''));
      return value !== '' && message === '';
    };
    group.addEventListener('input', checkGroup);

    const status = h('p', { class: 'atelier-field-error', role: 'alert' });
    const addButton = h('button', { type: 'button', onclick: () => addRow(newRow(removeRow)) }, t('secrets.addVariable'));
    const form = h(
      'form',
      { class: 'atelier-card atelier-form', novalidate: true },
      h('h2', {}, editing ? t('secrets.editTitle', { group: editing.group }) : t('secrets.newGroup')),
      editing ? h('p', {}, t('secrets.editIntro')) : null,
      h('label', {}, t('secrets.group'), group),
      h('p', { class: 'atelier-field-hint', id: hintId }, t('secrets.groupHint')),
      groupError,
      h('fieldset', {}, h('legend', {}, t('secrets.variables')), rowsHost, addButton),
      status,
      h(
        'div',
        { class: 'atelier-actions' },
        h('button', { type: 'submit', class: 'atelier-primary' }, t('secrets.save')),
        editing ? h('button', { type: 'button', onclick: () => this.#render() }, t('secrets.cancel')) : null,
      ),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!checkGroup()) return void group.focus();
      const vars: Record<string, string> = {};
      const keep: string[] = [];
      const seen = new Set<string>();
      for (const row of rows) {
        const name = row.name();
        if (!row.saved && name === '' && row.value.value === '') continue;
        const problem = !variableName.test(name)
          ? t('secrets.nameInvalid', { name })
          : seen.has(name)
            ? t('secrets.nameDuplicate', { name })
            : !row.saved && row.value.value === ''
              ? t('secrets.valueRequired', { name })
              : '';
        if (problem) {
          status.textContent = problem;
          (problem === t('secrets.valueRequired', { name }) ? row.value : row.nameInput ?? row.value).focus();
          return;
        }
        seen.add(name);
        if (row.value.value !== '') vars[name] = row.value.value;
        else keep.push(name);
      }
      if (seen.size === 0) return void (status.textContent = t('secrets.noVariable'));
      const name = group.value.trim();
      api('PUT', `/api/me/secrets/${encodeURIComponent(name)}`, { body: { vars, keep } })
        .then(() => this.#load(t('secrets.saved', { group: name })))
        .catch((error: Error) => (status.textContent = error.message));
    });
    return form;
  }

  async #delete(group: string): Promise<void> {
    if (!window.confirm(t('secrets.deleteConfirm', { group }))) return;
    try {
      await api('DELETE', `/api/me/secrets/${encodeURIComponent(group)}`);
      await this.#load();
    } catch (error) {
      this.#status.textContent = (error as Error).message;
    }
  }
}

function removeButton(name: () => string, onClick: () => void): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'atelier-danger', onclick: onClick }, t('secrets.remove'));
  // The accessible name follows the variable's name as it is typed.
  const label = () => button.setAttribute('aria-label', t('secrets.removeLabel', { name: name() || t('secrets.name') }));
  label();
  button.addEventListener('focus', label);
  return button;
}

/** A saved variable: its name, "set", and a value input whose emptiness means "keep". */
function savedRow(name: string, remove: (row: Row) => void): Row {
  rowCount += 1;
  const id = `atelier-var-${rowCount}`;
  const value = h('input', { id, type: 'password', autocomplete: 'off', placeholder: t('secrets.keep') });
  const row: Row = { element: h('div'), name: () => name, value, saved: true };
  row.element = h(
    'div',
    { class: 'atelier-var', 'data-var': name },
    h('label', { for: id, class: 'atelier-var__name' }, h('code', {}, name), h('span', { class: 'atelier-badge', 'data-status': 'set' }, t('secrets.set'))),
    value,
    removeButton(row.name, () => remove(row)),
  );
  return row;
}

/** A variable to add: its name (checked as typed) and its value. */
function newRow(remove: (row: Row) => void): Row {
  rowCount += 1;
  const error = h('p', { class: 'atelier-field-error', id: `atelier-var-error-${rowCount}` });
  const nameInput = h('input', {
    'aria-label': t('secrets.name'),
    placeholder: t('secrets.name'),
    maxlength: 64,
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-describedby': error.id,
  });
  const value = h('input', { 'aria-label': t('secrets.value'), placeholder: t('secrets.value'), type: 'password', autocomplete: 'off' });
  nameInput.addEventListener('input', () => {
    const name = nameInput.value.trim();
    const wrong = name !== '' && !variableName.test(name);
    error.textContent = wrong ? t('secrets.nameInvalid', { name }) : '';
    nameInput.setAttribute('aria-invalid', String(wrong));
  });
  const row: Row = { element: h('div'), name: () => nameInput.value.trim(), value, saved: false, nameInput };
  row.element = h(
    'div',
    { class: 'atelier-var atelier-var--new' },
    nameInput,
    value,
    removeButton(row.name, () => remove(row)),
    error,
  );
  return row;
}

customElements.define('atelier-secrets', AtelierSecrets);
