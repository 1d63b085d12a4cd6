import { api } from './api.ts';
import { formatBytes, formatDate, h } from './dom.ts';
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

/** <atelier-files>: browse the learner's bucket, upload, download, delete; each with its mc command. */
class AtelierFiles extends HTMLElement {
  #prefix = '';
  #bucket = '';

  connectedCallback(): void {
    this.#prefix = new URLSearchParams(location.search).get('prefix') ?? '';
    void this.#load();
  }

  #command(line: string): void {
    this.querySelector('.atelier-files__command')!.replaceChildren(t('files.command'), ' ', h('code', {}, line));
  }

  #status(message: string): void {
    this.querySelector('.atelier-files__status')!.textContent = message;
  }

  /** Lists the current folder; shows `command` (the last action's), or the listing's own. */
  async #load(command?: (bucket: string) => string): Promise<void> {
    try {
      const listing = await api<Listing>('GET', `/api/me/files?prefix=${encodeURIComponent(this.#prefix)}`);
      this.#bucket = listing.bucket;
      this.#render(listing);
      this.#command(command ? command(listing.bucket) : `mc ls ${shellWord(`s3/${listing.bucket}/${listing.prefix}`)}`);
    } catch (error) {
      this.replaceChildren(h('p', { class: 'atelier-error', role: 'alert' }, (error as Error).message));
    }
  }

  #go(prefix: string): void {
    this.#prefix = prefix;
    history.replaceState(null, '', prefix ? `?prefix=${encodeURIComponent(prefix)}` : location.pathname);
    void this.#load();
  }

  #render(listing: Listing): void {
    const language = pageLanguage();
    const crumbs = listing.prefix.split('/').filter(Boolean);
    const path = h(
      'nav',
      { class: 'atelier-files__path', 'aria-label': t('files.bucket') },
      h('button', { type: 'button', class: 'atelier-link', onclick: () => this.#go('') }, listing.bucket),
      ...crumbs.flatMap((crumb, index) => [' / ', h('button', { type: 'button', class: 'atelier-link', onclick: () => this.#go(`${crumbs.slice(0, index + 1).join('/')}/`) }, crumb)]),
    );
    const rows = [
      ...listing.folders.map((folder) =>
        h('tr', {}, h('td', {}, h('button', { type: 'button', class: 'atelier-link', onclick: () => this.#go(folder) }, `📁 ${baseName(folder)}/`)), h('td', {}), h('td', {}), h('td', {})),
      ),
      ...listing.files.map((file) =>
        h(
          'tr',
          { 'data-key': file.key },
          h('td', {}, baseName(file.key)),
          h('td', {}, formatBytes(file.size, language)),
          h('td', {}, formatDate(file.lastModified, language)),
          h(
            'td',
            {},
            h('a', { href: `/api/me/files/content?key=${encodeURIComponent(file.key)}`, download: baseName(file.key), onclick: () => this.#command(`mc cp ${shellWord(`s3/${this.#bucket}/${file.key}`)} .`) }, t('files.download')),
            ' ',
            h('button', { type: 'button', class: 'atelier-danger', onclick: () => void this.#delete(file.key) }, t('files.delete')),
          ),
        ),
      ),
    ];
    const input = h('input', { type: 'file', multiple: true, class: 'atelier-files__input' });
    input.addEventListener('change', () => void this.#upload([...(input.files ?? [])]));
    this.replaceChildren(
      path,
      h('label', { class: 'atelier-files__upload' }, t('files.upload'), input),
      h('p', { class: 'atelier-files__status', role: 'status' }),
      rows.length
        ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, t('files.name')), h('th', {}, t('files.size')), h('th', {}, t('files.modified')), h('th', {}))), h('tbody', {}, rows))
        : h('p', {}, t('files.empty')),
      ...(listing.truncated ? [h('p', { class: 'atelier-files__truncated' }, t('files.truncated', { count: rows.length }))] : []),
      h('p', { class: 'atelier-files__command' }),
    );
  }

  async #upload(files: File[]): Promise<void> {
    const copy = (name: string) => (bucket: string) => `mc cp ${shellWord(name)} ${shellWord(`s3/${bucket}/${this.#prefix}${name}`)}`;
    for (const file of files) {
      const key = this.#prefix + file.name;
      this.#command(copy(file.name)(this.#bucket));
      try {
        await putWithProgress(`/api/me/files?key=${encodeURIComponent(key)}`, file, (percent) =>
          this.#status(t('files.uploading', { name: file.name, percent })),
        );
      } catch (error) {
        this.#status((error as Error).message);
        return;
      }
    }
    const last = files.at(-1);
    if (!last) return;
    await this.#load(copy(last.name));
    this.#status(t('files.uploaded', { name: last.name }));
  }

  async #delete(key: string): Promise<void> {
    if (!window.confirm(t('files.deleteConfirm', { name: baseName(key) }))) return;
    try {
      await api('DELETE', `/api/me/files?key=${encodeURIComponent(key)}`);
      await this.#load((bucket) => `mc rm ${shellWord(`s3/${bucket}/${key}`)}`);
      this.#status(t('files.deleted', { name: baseName(key) }));
    } catch (error) {
      this.#status((error as Error).message);
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
