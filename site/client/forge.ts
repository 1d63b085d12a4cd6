import { api } from './api.ts';
import { commandLine, formatBytes, formatDate, h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';

interface Repo {
  name: string;
  cloneUrl: string;
}
interface Entry {
  name: string;
  path: string;
  type: 'blob' | 'tree' | 'commit';
  size?: number;
}
interface Commit {
  sha: string;
  author: string;
  date: string;
  subject: string;
}
interface FileView {
  path: string;
  size: number;
  binary: boolean;
  truncated?: boolean;
  content?: string;
}
type Readme = { path: string } & ({ html: string } | { text: string } | { size: number; tooLong: true; max: number });

const repoPath = (repo: string) => `/api/me/repos/${encodeURIComponent(repo)}`;
const pageSearch = (repo?: string, path = '') => (repo ? `?repo=${encodeURIComponent(repo)}${path ? `&path=${encodeURIComponent(path)}` : ''}` : '');

/** <atelier-forge>: a read-only view of the learner's repositories: files, README, contents and history. */
class AtelierForge extends HTMLElement {
  connectedCallback(): void {
    const params = new URLSearchParams(location.search);
    const repo = params.get('repo');
    void (repo ? this.#showRepo(repo, params.get('path') ?? '') : this.#showList());
  }

  #navigate(repo?: string, path = ''): void {
    history.pushState(null, '', location.pathname + pageSearch(repo, path));
    void (repo ? this.#showRepo(repo, path) : this.#showList());
  }

  /** A link that works as one (new tab, copy) and navigates in place on a plain click. */
  #link(label: Node | string, repo?: string, path = '', attributes: Record<string, string> = {}): HTMLAnchorElement {
    return h('a', { ...attributes, href: location.pathname + pageSearch(repo, path), onclick: (event: Event) => (event.preventDefault(), this.#navigate(repo, path)) }, label);
  }

  #fail(error: unknown): void {
    this.replaceChildren(h('p', { class: 'atelier-error', role: 'alert' }, (error as Error).message));
  }

  async #showList(): Promise<void> {
    try {
      const { repos } = await api<{ repos: Repo[] }>('GET', '/api/me/repos');
      this.replaceChildren(
        repos.length
          ? h(
              'ul',
              { class: 'atelier-cards' },
              repos.map((repo) =>
                h(
                  'li',
                  { class: 'atelier-card', 'data-repo': repo.name },
                  h('h2', { class: 'atelier-card__title' }, this.#link(repo.name, repo.name)),
                  h('p', {}, t('forge.cloneCommand')),
                  commandLine(`git clone ${repo.cloneUrl}`, t('account.copy'), t('account.copied')),
                ),
              ),
            )
          : h('div', { class: 'atelier-empty' }, h('p', { class: 'atelier-empty__title' }, t('forge.none'))),
      );
    } catch (error) {
      this.#fail(error);
    }
  }

  #breadcrumbs(repo: string, path: string): HTMLElement {
    const parts = path.replace(/\/$/, '').split('/').filter(Boolean);
    const isFile = path !== '' && !path.endsWith('/');
    const items = [
      h('li', {}, this.#link(t('forge.back'))),
      h('li', {}, parts.length ? this.#link(repo, repo) : h('span', { 'aria-current': 'location' }, repo)),
      ...parts.map((part, index) => {
        const last = index === parts.length - 1;
        const target = parts.slice(0, index + 1).join('/') + (last && isFile ? '' : '/');
        return h('li', {}, last ? h('span', { 'aria-current': 'location' }, part) : this.#link(part, repo, target));
      }),
    ];
    return h('nav', { class: 'atelier-breadcrumbs', 'aria-label': t('forge.path') }, h('ol', {}, items));
  }

  async #showRepo(repo: string, path: string): Promise<void> {
    const language = pageLanguage();
    try {
      const isFile = path !== '' && !path.endsWith('/');
      const [listing, history] = await Promise.all([
        isFile
          ? api<FileView>('GET', `${repoPath(repo)}/file?path=${encodeURIComponent(path)}`)
          : api<{ entries: Entry[] }>('GET', `${repoPath(repo)}/tree?path=${encodeURIComponent(path)}`),
        api<{ commits: Commit[] }>('GET', `${repoPath(repo)}/log`),
      ]);
      const body = 'entries' in listing ? this.#tree(repo, listing.entries) : await fileBody(repo, listing);
      const readme = h('div');
      this.replaceChildren(
        this.#breadcrumbs(repo, path),
        h('h2', {}, isFile ? path.split('/').pop()! : t('forge.files')),
        body,
        readme,
        h('h2', {}, t('forge.log')),
        h(
          'ol',
          { class: 'atelier-log' },
          history.commits.map((commit) =>
            h('li', {}, h('code', {}, commit.sha.slice(0, 8)), h('span', { class: 'atelier-log__subject' }, commit.subject), h('small', {}, `${commit.author}, ${formatDate(commit.date, language)}`)),
          ),
        ),
      );
      if ('entries' in listing) void this.#readme(repo, path, readme);
    } catch (error) {
      this.#fail(error);
    }
  }

  #tree(repo: string, entries: Entry[]): HTMLElement {
    const language = pageLanguage();
    if (entries.length === 0) return h('div', { class: 'atelier-empty' }, h('p', { class: 'atelier-empty__title' }, t('forge.empty')));
    return h(
      'div',
      { class: 'atelier-table-scroll' },
      h(
        'table',
        { class: 'atelier-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('files.name')), h('th', { scope: 'col' }, t('files.size')))),
        h(
          'tbody',
          {},
          entries.map((entry) =>
            h(
              'tr',
              { 'data-path': entry.path },
              h(
                'th',
                { scope: 'row' },
                entry.type === 'commit'
                  ? entry.name
                  : entry.type === 'tree'
                    ? this.#link(`${entry.name}/`, repo, `${entry.path}/`, { class: 'atelier-files__folder-link' })
                    : this.#link(entry.name, repo, entry.path),
              ),
              h('td', { class: 'atelier-num' }, entry.size !== undefined ? formatBytes(entry.size, language) : ''),
            ),
          ),
        ),
      ),
    );
  }

  async #readme(repo: string, path: string, host: HTMLElement): Promise<void> {
    const language = pageLanguage();
    let readme: Readme;
    try {
      readme = await api<Readme>('GET', `${repoPath(repo)}/readme?path=${encodeURIComponent(path)}`);
    } catch {
      return; // no README in this folder
    }
    const title = h('h2', { class: 'atelier-readme__title' }, readme.path.split('/').pop()!);
    const content = h('div', { class: 'atelier-readme__body sl-markdown-content' });
    if ('html' in readme) content.innerHTML = readme.html; // sanitized by the server (server/forge/readme-render.ts)
    else if ('text' in readme) content.append(h('pre', { class: 'atelier-pre' }, readme.text));
    else content.append(h('p', {}, t('forge.readmeTooLong', { size: formatBytes(readme.size, language), max: formatBytes(readme.max, language) }), ' ', this.#link(readme.path, repo, readme.path)));
    host.replaceChildren(h('section', { class: 'atelier-card atelier-readme', 'aria-labelledby': 'atelier-readme-title' }, Object.assign(title, { id: 'atelier-readme-title' }), content));
  }
}

async function fileBody(repo: string, file: FileView): Promise<HTMLElement> {
  const language = pageLanguage();
  const download = h('p', {}, h('a', { href: `${repoPath(repo)}/raw?path=${encodeURIComponent(file.path)}`, class: 'atelier-button atelier-forge__raw' }, t('forge.download')));
  if (file.binary || file.content === undefined) return h('div', {}, h('p', {}, t('forge.binary', { size: formatBytes(file.size, language) })), download);
  // The highlighter loads only when a file is shown; until then (and if it fails) plain text.
  const plain = h('pre', { class: 'atelier-pre' }, file.content);
  const holder = h('div', { class: 'atelier-file' }, plain);
  const { highlight } = await import('./highlight.ts');
  void highlight(file.path, file.content)
    .then((highlighted) => highlighted && plain.replaceWith(highlighted))
    .catch(() => undefined);
  return h('div', {}, holder, file.truncated ? h('p', { class: 'atelier-field-hint' }, t('forge.cutShown', { size: formatBytes(file.content.length, language) })) : null, download);
}

window.addEventListener('popstate', () => (document.querySelector('atelier-forge') as AtelierForge | null)?.connectedCallback());
customElements.define('atelier-forge', AtelierForge);
