/**
 * The repository store: bare repositories on disk, `<root>/<learnerId>/<name>.git`. Learner data:
 * it survives lab deletion and server restarts. A repository appears atomically (built in
 * `<root>/.tmp/` then renamed), so two concurrent creations never leave a half-made one.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { git, runGit } from './git.ts';
import { isValidLearnerId, isValidRepoName } from './names.ts';
import { ForgeUsage } from './usage.ts';
import { RequestSlots } from './slots.ts';
import { openBlob, type OpenBlob } from './raw.ts';
import {
  containsPath,
  listCommits,
  listTree,
  readBlob,
  resolveCommit,
  type CommitSummary,
  type FileContent,
  type HasPathOptions,
  type TreeEntry,
} from './browse.ts';

export interface RepositorySummary {
  name: string;
  /** The branch HEAD names (`main` unless the first push chose another). */
  defaultBranch: string;
  /** Commit at the default branch; undefined for an empty repository. */
  head?: string;
}

export class InvalidRepositoryName extends Error {
  constructor(what: string) {
    super(`invalid ${what}`);
    this.name = 'InvalidRepositoryName';
  }
}

const seedAuthor = {
  GIT_AUTHOR_NAME: 'Atelier',
  GIT_AUTHOR_EMAIL: 'atelier@atelier.invalid',
  GIT_COMMITTER_NAME: 'Atelier',
  GIT_COMMITTER_EMAIL: 'atelier@atelier.invalid',
};

/** A learner already runs their share of browsing git commands ("My repositories", raw downloads). */
export class BrowseBusyError extends Error {
  override readonly name = 'BrowseBusyError';
  readonly max: number;
  constructor(max: number) {
    super(`at most ${max} repository views at once`);
    this.max = max;
  }
}

export class RepositoryStore {
  /** A few browsing commands per learner, 16 in all; a view waits up to 10 s for one of the 16. */
  readonly #browseSlots = new RequestSlots({ perLearner: 4, total: 16, maxWaitMs: 10_000 });
  readonly root: string;
  /** Bytes each learner's repositories take (the forge quota); forgotten on every change made here. */
  readonly usage: ForgeUsage;
  #template: Promise<string> | undefined;

  constructor(root: string) {
    this.root = root;
    mkdirSync(root, { recursive: true, mode: 0o700 });
    this.usage = new ForgeUsage((learnerId) => this.learnerDir(learnerId));
  }

  /** The learner's directory (for GIT_PROJECT_ROOT); throws on an invalid id. */
  learnerDir(learnerId: string): string {
    if (!isValidLearnerId(learnerId)) throw new InvalidRepositoryName('learner id');
    return join(this.root, learnerId);
  }

  /** The bare repository's directory; throws on an invalid id or name. */
  gitDir(learnerId: string, name: string): string {
    if (!isValidRepoName(name)) throw new InvalidRepositoryName('repository name');
    return join(this.learnerDir(learnerId), `${name}.git`);
  }

  exists(learnerId: string, name: string): boolean {
    try {
      return statSync(join(this.gitDir(learnerId, name), 'HEAD')).isFile();
    } catch {
      return false;
    }
  }

  /** Names of the learner's repositories, sorted (no git run: cheap enough for every push). */
  names(learnerId: string): string[] {
    const dir = this.learnerDir(learnerId);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((entry) => entry.endsWith('.git'))
      .map((entry) => entry.slice(0, -4))
      .filter((name) => isValidRepoName(name) && this.exists(learnerId, name))
      .sort();
  }

  /** The learner's repositories, by name. */
  async list(learnerId: string): Promise<RepositorySummary[]> {
    return Promise.all(
      this.names(learnerId).map(async (name) => {
        const gitDir = this.gitDir(learnerId, name);
        const headFile = await readFile(join(gitDir, 'HEAD'), 'utf8').catch(() => '');
        const defaultBranch = /^ref: refs\/heads\/(.+)$/m.exec(headFile)?.[1] ?? 'main';
        const summary: RepositorySummary = { name, defaultBranch };
        const head = await resolveCommit(gitDir, 'HEAD');
        if (head) summary.head = head;
        return summary;
      }),
    );
  }

  /** Creates an empty bare repository (`main`) unless it exists; true when created here. */
  async ensureEmpty(learnerId: string, name: string): Promise<boolean> {
    return this.create(learnerId, name, async () => {});
  }

  /**
   * Creates the repository from a seed directory unless it exists: a bare repository whose `main`
   * holds one commit of seedDir's files. True when created here.
   */
  async ensureFromSeed(learnerId: string, name: string, seedDir: string): Promise<boolean> {
    if (!statSync(seedDir).isDirectory()) throw new Error(`seed ${seedDir} is not a directory`);
    return this.create(learnerId, name, async (gitDir) => {
      const env = { ...seedAuthor, GIT_INDEX_FILE: join(gitDir, 'seed-index') };
      await git(['--work-tree', seedDir, 'add', '--all', '.'], { gitDir, cwd: seedDir, env });
      const tree = (await git(['write-tree'], { gitDir, env })).trim();
      const commit = (await git(['commit-tree', tree, '-m', 'Initial commit'], { gitDir, env })).trim();
      await git(['update-ref', 'refs/heads/main', commit, ''], { gitDir });
      rmSync(env.GIT_INDEX_FILE, { force: true });
    });
  }

  private async create(learnerId: string, name: string, fill: (gitDir: string) => Promise<void>): Promise<boolean> {
    const target = this.gitDir(learnerId, name);
    if (this.exists(learnerId, name)) return false;
    try {
      return await this.build(target, this.learnerDir(learnerId), fill);
    } finally {
      this.usage.forget(learnerId);
    }
  }

  /** Builds a bare repository in `.tmp/` and renames it to `target`; false if it appeared meanwhile. */
  private async build(target: string, parent: string, fill: (gitDir: string) => Promise<void>): Promise<boolean> {
    const tmp = join(this.#tmpRoot(), `${basename(target, '.git')}-${randomBytes(6).toString('hex')}.git`);
    try {
      await git(['init', '--quiet', '--bare', '-b', 'main', tmp], { cwd: this.#tmpRoot() });
      // A reflog in a bare repository: a force-push can be undone by hand.
      await git(['config', 'core.logAllRefUpdates', 'always'], { gitDir: tmp });
      await fill(tmp);
      mkdirSync(parent, { recursive: true, mode: 0o700 });
      try {
        renameSync(tmp, target);
      } catch (error) {
        if (statSync(join(target, 'HEAD'), { throwIfNoEntry: false })?.isFile()) return false; // created meanwhile by someone else
        throw error;
      }
      return true;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  #tmpRoot(): string {
    const tmpRoot = join(this.root, '.tmp');
    mkdirSync(tmpRoot, { recursive: true, mode: 0o700 });
    return tmpRoot;
  }

  /**
   * A pristine empty repository outside every learner's directory (`.template/` is no valid
   * learner id): what a repository not yet pushed to advertises. Never written to.
   */
  emptyTemplate(): Promise<string> {
    const gitDir = join(this.root, '.template', 'empty.git');
    this.#template ??= (async () => {
      if (!statSync(join(gitDir, 'HEAD'), { throwIfNoEntry: false })?.isFile()) await this.build(gitDir, dirname(gitDir), async () => {});
      return gitDir;
    })();
    this.#template.catch(() => (this.#template = undefined));
    return this.#template;
  }

  /** Removes the repository if it holds no branch or tag; true when removed. */
  async removeIfEmpty(learnerId: string, name: string): Promise<boolean> {
    if (!this.exists(learnerId, name)) return false;
    const gitDir = this.gitDir(learnerId, name);
    const refs = await runGit(['for-each-ref', '--count=1', '--format=%(refname)'], { gitDir });
    if (refs.code !== 0 || refs.stdout.length > 0) return false;
    // Out of the learner's directory in one rename, then deleted: never seen half-removed.
    const doomed = join(this.#tmpRoot(), `removed-${name}-${randomBytes(6).toString('hex')}.git`);
    renameSync(gitDir, doomed);
    this.usage.forget(learnerId);
    rmSync(doomed, { recursive: true, force: true });
    return true;
  }

  /**
   * Deletes what a killed receive-pack leaves in a repository: its quarantine directory
   * (`objects/tmp_objdir-incoming-*`, the pushed objects not yet accepted) and temporary pack and
   * object files, which would otherwise fill the learner's quota with nothing they can remove.
   * Only while no other push works on the repository (it would be theirs).
   */
  async removeLeftovers(learnerId: string, name: string): Promise<void> {
    if (!this.exists(learnerId, name)) return;
    const objects = join(this.gitDir(learnerId, name), 'objects');
    const leftovers = [
      ...(await readdir(objects).catch(() => [])).filter((entry) => entry.startsWith('tmp_objdir-') || entry.startsWith('tmp_obj_')).map((entry) => join(objects, entry)),
      ...(await readdir(join(objects, 'pack')).catch(() => [])).filter((entry) => entry.startsWith('tmp_')).map((entry) => join(objects, 'pack', entry)),
    ];
    await Promise.all(leftovers.map((path) => rm(path, { recursive: true, force: true })));
    if (leftovers.length > 0) this.usage.forget(learnerId);
  }

  /**
   * After a push: when HEAD names a branch that does not exist (the learner pushed `master` to a
   * new repository), point it at the branch that does, as forges do with the first pushed branch.
   */
  async fixDefaultBranch(learnerId: string, name: string): Promise<void> {
    const gitDir = this.gitDir(learnerId, name);
    if (await resolveCommit(gitDir, 'HEAD')) return;
    const refs = (await runGit(['for-each-ref', '--format=%(refname)', 'refs/heads/'], { gitDir })).stdout
      .toString('utf8')
      .split('\n')
      .filter(Boolean);
    const pick = ['refs/heads/main', 'refs/heads/master'].find((ref) => refs.includes(ref)) ?? refs[0];
    if (pick) await git(['symbolic-ref', 'HEAD', pick], { gitDir });
  }

  /**
   * Runs a browsing git command within the learner's share of `browseSlots`: every page view of
   * "My repositories" and every raw download starts git processes, and a learner's page (or
   * script) must not start hundreds at once. Throws BrowseBusyError beyond the share.
   */
  async #browse<T>(learnerId: string, run: () => Promise<T>): Promise<T> {
    const release = await this.#browseSlots.acquire(learnerId);
    if (typeof release === 'string') throw new BrowseBusyError(this.#browseSlots.limits.perLearner);
    try {
      return await run();
    } finally {
      release();
    }
  }

  /** Directory listing at `ref` (undefined: no such repository, ref or directory). */
  async tree(learnerId: string, name: string, ref: string, path = ''): Promise<TreeEntry[] | undefined> {
    if (!this.exists(learnerId, name)) return undefined;
    return this.#browse(learnerId, () => listTree(this.gitDir(learnerId, name), ref, path));
  }

  /** Newest-first commits reachable from `ref` ([] when none). */
  async log(learnerId: string, name: string, ref: string, limit = 50): Promise<CommitSummary[]> {
    if (!this.exists(learnerId, name)) return [];
    return this.#browse(learnerId, () => listCommits(this.gitDir(learnerId, name), ref, limit));
  }

  /** A file at `ref`, capped (undefined: no such repository, ref or file). */
  async readFile(learnerId: string, name: string, ref: string, path: string, maxBytes?: number): Promise<FileContent | undefined> {
    if (!this.exists(learnerId, name)) return undefined;
    return this.#browse(learnerId, () => readBlob(this.gitDir(learnerId, name), ref, path, maxBytes));
  }

  /** A file at `ref` as a stream of its exact bytes; its browsing slot is held until `close`. */
  async openFile(learnerId: string, name: string, ref: string, path: string): Promise<OpenBlob | undefined> {
    if (!this.exists(learnerId, name)) return undefined;
    const release = await this.#browseSlots.acquire(learnerId);
    if (typeof release === 'string') throw new BrowseBusyError(this.#browseSlots.limits.perLearner);
    const blob = await openBlob(this.gitDir(learnerId, name), ref, path).catch((error: unknown) => {
      release();
      throw error;
    });
    if (!blob) {
      release();
      return undefined;
    }
    blob.stream.once('close', release);
    return { ...blob, close: () => (blob.close(), release()) };
  }

  /** For the `git.pushed` check: a commit reachable from the default branch (or `ref`) has `path`. */
  async hasPath(learnerId: string, name: string, path: string, options: HasPathOptions = {}): Promise<boolean> {
    if (!isValidLearnerId(learnerId) || !isValidRepoName(name) || !this.exists(learnerId, name)) return false;
    return containsPath(this.gitDir(learnerId, name), path, options);
  }
}
