import { api } from './api.ts';
import { commandLine, formatBytes, formatDate, h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';

interface Listing {
  bucket: string;
  prefix: string;
  folders: string[];
  files: { key: string; size: number; lastModified: string }[];
  /** The server shows a folder's first entries only. */
  truncated?: boolean;
}

const baseName = (key: string) => key.replace(/\/$/, '').split('/').pop() ?? key;
/** Quoted for a POSIX shell when needed, so the shown command can be pasted as is. */
const shellWord = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);
/** A folder name the server takes as one path segment (server/http/files.ts). */
const folderName = (name: string) => name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && name.length <= 200;

/**
 * <atelier-files>: browse the learner's bucket (breadcrumbs, folders), upload by drop or file
 * picker with a progress bar per file, make folders, preview, download, delete; each action with
 * its mc command to copy, as the datalab's file browser shows.
 */
class AtelierFiles extends HTMLElement {
  #prefix = '';
  #bucket = '';
  readonly #status = h('p', { class: 'atelier-app__status', role: 'status' });
  readonly #command = h('div', { class: 'atelier-files__command' });
  readonly #uploads = h('ul', { class: 'atelier-uploads', 'aria-label': t('files.upload') });
  readonly #preview = h('section', { class: 'atelier-card atelier-preview', hidden: true, 'aria-labelledby': 'atelier-preview-title' });
  readonly #listing = h('div', { class: 'atelier-files__listing' });
  readonly #crumbs = h('nav', { class: 'atelier-breadcrumbs', 'aria-label': t('files.path') });

  connectedCallback(): void {
    this.#prefix = new URLSearchParams(location.search).get('prefix') ?? '';
    this.replaceChildren(this.#crumbs, this.#toolbar(), this.#dropZone(), this.#uploads, this.#status, this.#listing, this.#preview, this.#command);
    void this.#load();
  }

  #showCommand(line: string, note?: string): void {
    this.#command.replaceChildren(h('p', {}, note ?? t('files.command')), commandLine(line, t('files.copy'), t('files.copied')));
  }

  /** Lists the current folder; shows `command` (the last action's), or the listing's own. */
  async #load(command?: (bucket: string) => string): Promise<void> {
    try {
      const listing = await api<Listing>('GET', `/api/me/files?prefix=${encodeURIComponent(this.#prefix)}`);
      this.#bucket = listing.bucket;
      this.#render(listing);
      this.#showCommand(command ? command(listing.bucket) : `mc ls ${shellWord(`s3/${listing.bucket}/${listing.prefix}`)}`);
    } catch (error) {
      this.#listing.replaceChildren(h('p', { class: 'atelier-error', role: 'alert' }, (error as Error).message));
    }
  }

  #go(prefix: string): void {
    this.#prefix = prefix;
    this.#preview.hidden = true;
    history.replaceState(null, '', prefix ? `?prefix=${encodeURIComponent(prefix)}` : location.pathname);
    void this.#load();
  }

  #toolbar(): HTMLElement {
    const input = h('input', { name: 'folder', 'aria-label': t('files.folderName'), placeholder: t('files.folderName'), maxlength: 200, autocomplete: 'off', spellcheck: 'false' });
    const error = h('p', { class: 'atelier-field-error', id: 'atelier-folder-error' });
    input.setAttribute('aria-describedby', error.id);
    const form = h(
      'form',
      { class: 'atelier-files__folder' },
      h('span', { class: 'atelier-files__folder-label' }, t('files.newFolder')),
      input,
      h('button', { type: 'submit' }, t('files.createFolder')),
      error,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!folderName(name)) {
        error.textContent = t('files.folderInvalid');
        input.setAttribute('aria-invalid', 'true');
        return void input.focus();
      }
      error.textContent = '';
      input.removeAttribute('aria-invalid');
      void this.#makeFolder(name).then(() => (input.value = ''));
    });
    return h('div', { class: 'atelier-files__toolbar' }, form);
  }

  /** A zero-byte `name/` marker: the folder exists at once, and `mc ls` shows it too. */
  async #makeFolder(name: string): Promise<void> {
    const key = `${this.#prefix}${name}/`;
    try {
      await putWithProgress(`/api/me/files?key=${encodeURIComponent(key)}`, new Blob([]), () => undefined);
      await this.#load();
      this.#showCommand(`mc cp ${t('files.exampleFile')} ${shellWord(`s3/${this.#bucket}/${key}`)}`, t('files.folderCommand'));
      this.#status.textContent = t('files.folderCreated', { name });
    } catch (error) {
      this.#status.textContent = (error as Error).message;
    }
  }

  #dropZone(): HTMLElement {
    const input = h('input', { type: 'file', multiple: true, class: 'atelier-files__input sr-only', id: 'atelier-files-input' });
    input.addEventListener('change', () => {
      void this.#upload([...(input.files ?? [])]);
      input.value = '';
    });
    const zone = h(
      'div',
      { class: 'atelier-drop' },
      h('p', { class: 'atelier-drop__title' }, t('files.drop')),
      h('p', {}, t('files.dropOr')),
      input,
      h('label', { for: input.id, class: 'atelier-button atelier-primary' }, t('files.choose')),
      h('p', { class: 'atelier-field-hint' }, t('files.dropHint')),
    );
    zone.addEventListener('dragover', (event) => {
      event.preventDefault();
      zone.dataset.over = 'true';
    });
    zone.addEventListener('dragleave', () => delete zone.dataset.over);
    zone.addEventListener('drop', (event) => {
      event.preventDefault();
      delete zone.dataset.over;
      void this.#upload([...(event.dataTransfer?.files ?? [])]);
    });
    return zone;
  }

  #render(listing: Listing): void {
    const language = pageLanguage();
    const crumbs = listing.prefix.split('/').filter(Boolean);
    const crumb = (label: string, prefix: string, current: boolean) =>
      h('li', {}, current ? h('span', { 'aria-current': 'location' }, label) : h('a', { href: prefix ? `?prefix=${encodeURIComponent(prefix)}` : location.pathname, onclick: (event: Event) => (event.preventDefault(), this.#go(prefix)) }, label));
    this.#crumbs.replaceChildren(
      h('ol', {}, crumb(listing.bucket, '', crumbs.length === 0), ...crumbs.map((name, index) => crumb(name, `${crumbs.slice(0, index + 1).join('/')}/`, index === crumbs.length - 1))),
    );
    const rows = [
      ...listing.folders.map((folder) =>
        h(
          'tr',
          { 'data-folder': folder },
          h('th', { scope: 'row' }, h('a', { href: `?prefix=${encodeURIComponent(folder)}`, class: 'atelier-files__folder-link', onclick: (event: Event) => (event.preventDefault(), this.#go(folder)) }, `${baseName(folder)}/`)),
          h('td', { class: 'atelier-files__kind' }, t('files.folder')),
          h('td', {}),
          h('td', {}),
        ),
      ),
      ...listing.files.map((file) => {
        const name = baseName(file.key);
        return h(
          'tr',
          { 'data-key': file.key },
          h('th', { scope: 'row' }, name),
          h('td', { class: 'atelier-num' }, formatBytes(file.size, language)),
          h('td', {}, formatDate(file.lastModified, language)),
          h(
            'td',
            { class: 'atelier-actions' },
            h('button', { type: 'button', 'aria-label': t('files.previewLabel', { name }), onclick: () => void this.#showPreview(file.key) }, t('files.preview')),
            h(
              'a',
              {
                class: 'atelier-button',
                href: `/api/me/files/content?key=${encodeURIComponent(file.key)}`,
                download: name,
                'aria-label': t('files.downloadLabel', { name }),
                onclick: () => this.#showCommand(`mc cp ${shellWord(`s3/${this.#bucket}/${file.key}`)} .`),
              },
              t('files.download'),
            ),
            h('button', { type: 'button', class: 'atelier-danger', 'aria-label': t('files.deleteLabel', { name }), onclick: () => void this.#delete(file.key) }, t('files.delete')),
          ),
        );
      }),
    ];
    this.#listing.replaceChildren(
      rows.length
        ? h(
            'div',
            { class: 'atelier-table-scroll' },
            h(
              'table',
              { class: 'atelier-table' },
              h(
                'thead',
                {},
                h('tr', {}, h('th', { scope: 'col' }, t('files.name')), h('th', { scope: 'col' }, t('files.size')), h('th', { scope: 'col' }, t('files.modified')), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('files.actions')))),
              ),
              h('tbody', {}, rows),
            ),
          )
        : h('div', { class: 'atelier-empty' }, h('p', { class: 'atelier-empty__title' }, t('files.empty'))),
      ...(listing.truncated ? [h('p', { class: 'atelier-files__truncated' }, t('files.truncated', { count: rows.length }))] : []),
    );
  }

  async #showPreview(key: string): Promise<void> {
    const name = baseName(key);
    const close = h('button', { type: 'button', onclick: () => (this.#preview.hidden = true) }, t('files.closePreview'));
    const body = h('div', { class: 'atelier-preview__body', 'aria-busy': 'true' }, '…');
    this.#preview.replaceChildren(h('div', { class: 'atelier-preview__head' }, h('h2', { id: 'atelier-preview-title' }, t('files.previewOf', { name })), close), body);
    this.#preview.hidden = false;
    this.#preview.scrollIntoView({ block: 'nearest' });
    this.#showCommand(`mc cat ${shellWord(`s3/${this.#bucket}/${key}`)} | head -n 20`);
    try {
      const { renderPreview } = await import('./file-preview.ts');
      body.replaceChildren(...(await renderPreview(key, name)));
    } catch (error) {
      body.replaceChildren(h('p', { class: 'atelier-error' }, (error as Error).message));
    }
    body.removeAttribute('aria-busy');
  }

  async #upload(files: File[]): Promise<void> {
    if (files.length === 0) return;
    const copy = (name: string) => (bucket: string) => `mc cp ${shellWord(name)} ${shellWord(`s3/${bucket}/${this.#prefix}${name}`)}`;
    const items = files.map((file) => {
      const bar = h('progress', { max: 100, value: 0, 'aria-label': file.name });
      const state = h('span', { class: 'atelier-uploads__state' }, t('files.waiting'));
      const item = h('li', {}, h('span', { class: 'atelier-uploads__name' }, file.name), bar, state);
      this.#uploads.append(item);
      return { file, bar, state, item };
    });
    let sent: File | undefined;
    for (const [index, { file, bar, state, item }] of items.entries()) {
      this.#showCommand(copy(file.name)(this.#bucket));
      try {
        await putWithProgress(`/api/me/files?key=${encodeURIComponent(this.#prefix + file.name)}`, file, (percent) => {
          bar.value = percent;
          state.textContent = `${percent} %`;
        });
        item.remove();
        sent = file;
      } catch (error) {
        item.remove();
        this.#status.textContent = t('files.uploadFailed', { name: file.name, reason: (error as Error).message });
        // The files after it are not sent: a full quota refuses them too.
        for (const rest of items.slice(index + 1)) rest.item.remove();
        if (sent) await this.#load();
        return;
      }
    }
    if (!sent) return;
    await this.#load(copy(sent.name));
    this.#status.textContent = t('files.uploaded', { name: sent.name });
  }

  async #delete(key: string): Promise<void> {
    if (!window.confirm(t('files.deleteConfirm', { name: baseName(key) }))) return;
    try {
      await api('DELETE', `/api/me/files?key=${encodeURIComponent(key)}`);
      await this.#load((bucket) => `mc rm ${shellWord(`s3/${bucket}/${key}`)}`);
      this.#status.textContent = t('files.deleted', { name: baseName(key) });
    } catch (error) {
      this.#status.textContent = (error as Error).message;
    }
  }
}

/** fetch() cannot report upload progress; XMLHttpRequest can, and big files need it. */
function putWithProgress(url: string, body: Blob, onProgress: (percent: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('PUT', url);
    request.setRequestHeader('Accept-Language', pageLanguage());
    request.setRequestHeader('Content-Type', body.type || 'application/octet-stream');
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(Math.round((event.loaded / event.total) * 100));
    request.onload = () => {
      if (request.status < 300) return resolve();
      try {
        reject(new Error((JSON.parse(request.responseText) as { error: { message: string } }).error.message));
      } catch {
        reject(new Error(t('errors.internal')));
      }
    };
    request.onerror = () => reject(new Error(t('errors.network')));
    request.send(body);
  });
}

customElements.define('atelier-files', AtelierFiles);
