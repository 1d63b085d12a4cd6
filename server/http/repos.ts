/**
 * "My repositories": a read-only view of the learner's forge, so the student can see that
 * their push arrived, as the practical asks.
 *   GET /api/me/repos                       → { repos: [{ name, cloneUrl }] }
 *   GET /api/me/repos/:repo/tree?path=      → { entries }
 *   GET /api/me/repos/:repo/file?path=      → { path, size, binary, content? }
 *   GET /api/me/repos/:repo/log             → { commits: [{ sha, author, date, subject }] }
 *   GET /api/me/repos/:repo/readme?path=    → { path, html } (sanitized) or { path, text }, or { path, size, tooLong, max }; 404 without one
 *   GET /api/me/repos/:repo/raw?path=       → 303 to a short-lived download link on the S3 origin (repo-raw.ts)
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { forgeUrlFor, type RepositoryStore } from '../forge/index.ts';
import { findReadme, readmeMaxBytes, ReadmeRenderer } from '../forge/readme.ts';
import type { LearnerStore } from '../learners/store.ts';
import { ApiError, parseWith } from './errors.ts';
import { currentLearner } from './identity.ts';
import { languageOf } from './language.ts';
import { originOf } from './me.ts';

const repoName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const treePath = z
  .string()
  .max(1024)
  .refine((path) => !path.includes('\0') && !path.split('/').some((part) => part === '..' || part === '.'), { message: 'not a path in the repository' });

export function registerRepoRoutes(
  app: FastifyInstance,
  store: LearnerStore,
  repos: RepositoryStore,
  rawLinkFor?: (learnerId: string, repo: string, path: string) => string,
): void {
  app.get('/api/me/repos', async (request) => {
    const learnerId = await currentLearner(request, store);
    if (!learnerId) return { repos: [] };
    const list = await repos.list(learnerId);
    return { repos: list.map(({ name }) => ({ name, cloneUrl: `${forgeUrlFor(originOf(request), learnerId)}/${name}.git` })) };
  });

  type Params = { Params: { repo: string }; Querystring: { path?: string } };
  const target = async (request: Parameters<typeof currentLearner>[0] & { params: { repo: string }; query: { path?: string } }) => {
    const language = languageOf(request.headers);
    const learnerId = await currentLearner(request, store);
    const repo = parseWith(repoName, request.params.repo, language, 'repo');
    // Another learner's repository and a missing one look the same.
    if (!learnerId || !repos.exists(learnerId, repo)) throw new ApiError('not_found');
    const path = parseWith(treePath, (request.query.path ?? '').replace(/\/+$/, ''), language, 'path');
    return { learnerId, repo, path };
  };

  app.get<Params>('/api/me/repos/:repo/tree', async (request) => {
    const { learnerId, repo, path } = await target(request);
    const entries = await repos.tree(learnerId, repo, 'HEAD', path);
    return { entries: (entries ?? []).map(({ name, path: entryPath, type, size }) => ({ name, path: entryPath, type, ...(size === undefined ? {} : { size }) })) };
  });

  app.get<Params>('/api/me/repos/:repo/file', async (request) => {
    const { learnerId, repo, path } = await target(request);
    const file = await repos.readFile(learnerId, repo, 'HEAD', path);
    if (!file) throw new ApiError('not_found');
    return { path: file.path, size: file.size, binary: file.binary, truncated: file.truncated, ...(file.content === undefined ? {} : { content: file.content }) };
  });

  // The file's bytes never come from the site's origin: a link to the S3 origin's copy.
  app.get<Params>('/api/me/repos/:repo/raw', async (request, reply) => {
    if (!rawLinkFor) throw new ApiError('not_found');
    const { learnerId, repo, path } = await target(request);
    if (!(await repos.readFile(learnerId, repo, 'HEAD', path, 1))) throw new ApiError('not_found');
    return reply.header('cache-control', 'no-store').redirect(rawLinkFor(learnerId, repo, path), 303);
  });

  const readmes = new ReadmeRenderer();
  app.addHook('onClose', async () => void (await readmes.close()));
  app.get<Params>('/api/me/repos/:repo/readme', async (request) => {
    const { learnerId, repo, path } = await target(request);
    const entries = (await repos.tree(learnerId, repo, 'HEAD', path)) ?? [];
    const blobs = entries.filter((entry) => entry.type === 'blob');
    const name = findReadme(blobs.map((entry) => entry.name));
    if (!name) throw new ApiError('not_found');
    const file = await repos.readFile(learnerId, repo, 'HEAD', path ? `${path}/${name}` : name, readmeMaxBytes);
    if (!file || file.binary) throw new ApiError('not_found');
    if (file.truncated) return { path: file.path, size: file.size, tooLong: true, max: readmeMaxBytes };
    const html = /\.(md|markdown)$/i.test(file.path) ? await readmes.render(file.content ?? '', blobs.find((entry) => entry.name === name)?.oid) : undefined;
    // Plain text (a README.txt, or one that could not be rendered): the page shows it as text.
    return html === undefined ? { path: file.path, text: file.content ?? '' } : { path: file.path, html };
  });

  app.get<Params>('/api/me/repos/:repo/log', async (request) => {
    const { learnerId, repo } = await target(request);
    const commits = await repos.log(learnerId, repo, 'HEAD', 50);
    return { commits: commits.map((commit) => ({ sha: commit.oid, author: commit.authorName, date: commit.authorDate, subject: commit.subject })) };
  });
}
