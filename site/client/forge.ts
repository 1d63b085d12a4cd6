import { api } from './api.ts';
import { copyable, formatBytes, formatDate, h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';

interface Repo {
  name: string;
  cloneUrl: string;
}
interface Entry {
  name: string;
  path: string;
  type: 'blob' | 'tree';
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
  content?: string;
}

const repoPath = (repo: string) => `/api/me/repos/${encodeURIComponent(repo)}`;

/** <atelier-forge>: a read-only view of the learner's repositories: files, contents and history. */
class AtelierForge extends HTMLElement {
  connectedCallback(): void {
    const params = new URLSearchParams(location.search);
    const repo = params.get('repo');
    void (repo ? this.#showRepo(repo, params.get('path') ?? '') : this.#showList());
  }

  #navigate(repo?: string, path = ''): void {
    const search = repo ? `?repo=${encodeURIComponent(repo)}${path ? `&path=${encodeURIComponent(path)}` : ''}` : '';
    history.pushState(null, '', location.pathname + search);
    void (repo ? this.#showRepo(repo, path) : this.#showList());
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
              { class: 'atelier-list' },
              repos.map((repo) =>
                h(
                  'li',
                  {},
                  h('button', { type: 'button', class: 'atelier-link', onclick: () => this.#navigate(repo.name) }, repo.name),
                  ' ',
                  copyable(repo.cloneUrl, t('account.copy'), t('account.copied')),
                ),
              ),
            )
          : h('p', {}, t('forge.none')),
      );
    } catch (error) {
      this.#fail(error);
    }
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
      const body =
        'entries' in listing
          ? listing.entries.length
            ? h(
                'ul',
                { class: 'atelier-list' },
                listing.entries.map((entry) =>
                  h(
                    'li',
                    {},
                    h(
                      'button',
                      { type: 'button', class: 'atelier-link', onclick: () => this.#navigate(repo, entry.type === 'tree' ? `${entry.path}/` : entry.path) },
                      entry.type === 'tree' ? `📁 ${entry.name}/` : entry.name,
                    ),
                    entry.size !== undefined ? h('small', {}, ` ${formatBytes(entry.size, language)}`) : null,
                  ),
                ),
              )
            : h('p', {}, t('forge.empty'))
          : h(
              'div',
              {},
              listing.binary ? h('p', {}, t('forge.binary', { size: formatBytes(listing.size, language) })) : h('pre', { class: 'atelier-pre' }, listing.content ?? ''),
              // The bytes come from the S3 origin (the site answers with a link there).
              h('p', {}, h('a', { href: `${repoPath(repo)}/raw?path=${encodeURIComponent(path)}`, class: 'atelier-forge__raw' }, t('forge.download'))),
            );
      this.replaceChildren(
        h('p', {}, h('button', { type: 'button', class: 'atelier-link', onclick: () => this.#navigate() }, `← ${t('forge.back')}`)),
        h('h2', {}, repo, path ? ` / ${path}` : ''),
        h('h3', {}, t('forge.files')),
        body,
        h('h3', {}, t('forge.log')),
        h(
          'ol',
          { class: 'atelier-log' },
          history.commits.map((commit) =>
            h('li', {}, h('code', {}, commit.sha.slice(0, 8)), ' ', commit.subject, ' ', h('small', {}, `${commit.author}, ${formatDate(commit.date, language)}`)),
          ),
        ),
      );
    } catch (error) {
      this.#fail(error);
    }
  }
}

window.addEventListener('popstate', () => (document.querySelector('atelier-forge') as AtelierForge | null)?.connectedCallback());
customElements.define('atelier-forge', AtelierForge);
