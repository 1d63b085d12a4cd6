/**
 * Read-only view data of a bare repository (files and commit log at a ref), for the forge's web
 * view and for checks. git with argv arrays only, size caps, binary detection.
 */
import { git, runGit } from './git.ts';
import { isSafeRef, normalizeTreePath } from './names.ts';

export interface TreeEntry {
  name: string;
  /** Path from the repository root. */
  path: string;
  type: 'blob' | 'tree' | 'commit';
  /** git's mode: 100644, 100755, 120000 (symlink), 040000, 160000 (submodule). */
  mode: string;
  oid: string;
  /** Blobs only. */
  size?: number;
}

export interface CommitSummary {
  oid: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  /** ISO 8601. */
  authorDate: string;
  subject: string;
}

export interface FileContent {
  path: string;
  oid: string;
  size: number;
  /** NUL byte in the first 8000 bytes (git's own rule) or not UTF-8: no `content`. */
  binary: boolean;
  /** The file is larger than the cap: `content` holds its beginning only. */
  truncated: boolean;
  content?: string;
}

export const browseLimits = {
  treeEntries: 5000,
  logMax: 500,
  fileBytes: 1024 * 1024,
};

/** The commit a ref names, or undefined (unknown ref, empty repository, unsafe ref). */
export async function resolveCommit(gitDir: string, ref: string): Promise<string | undefined> {
  if (!isSafeRef(ref)) return undefined;
  const result = await runGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], { gitDir });
  const oid = result.stdout.toString('utf8').trim();
  return result.code === 0 && /^[0-9a-f]{40,64}$/.test(oid) ? oid : undefined;
}

/** Type and size of `<commit>:<path>`, or undefined when the path is absent. */
export async function statPath(gitDir: string, commit: string, path: string): Promise<{ oid: string; type: string; size: number } | undefined> {
  const spec = path === '' ? `${commit}^{tree}` : `${commit}:${path}`;
  const result = await runGit(['cat-file', '--batch-check'], { gitDir, input: `${spec}\n` });
  const match = /^([0-9a-f]{40,64}) (\w+) (\d+)$/.exec(result.stdout.toString('utf8').trim());
  if (result.code !== 0 || !match) return undefined;
  return { oid: match[1] as string, type: match[2] as string, size: Number(match[3]) };
}

/** Entries of the directory `path` at `ref` (directories first), or undefined if not a directory. */
export async function listTree(gitDir: string, ref: string, rawPath: string): Promise<TreeEntry[] | undefined> {
  const path = normalizeTreePath(rawPath);
  if (path === undefined) return undefined;
  const commit = await resolveCommit(gitDir, ref);
  if (!commit) return undefined;
  const stat = await statPath(gitDir, commit, path);
  if (!stat || stat.type !== 'tree') return undefined;
  const result = await runGit(['ls-tree', '-z', '-l', stat.oid], { gitDir, maxBytes: browseLimits.treeEntries * 400 });
  if (result.code !== 0) return undefined;
  const entries: TreeEntry[] = [];
  for (const record of result.stdout.toString('utf8').split('\0')) {
    const match = /^(\d+) (blob|tree|commit) ([0-9a-f]+) +(-|\d+)\t(.+)$/s.exec(record);
    if (!match || entries.length >= browseLimits.treeEntries) continue;
    const name = match[5] as string;
    const entry: TreeEntry = {
      name,
      path: path === '' ? name : `${path}/${name}`,
      type: match[2] as TreeEntry['type'],
      mode: match[1] as string,
      oid: match[3] as string,
    };
    if (match[4] !== '-') entry.size = Number(match[4]);
    entries.push(entry);
  }
  return entries.sort((a, b) => Number(b.type === 'tree') - Number(a.type === 'tree') || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The last `limit` commits reachable from `ref` (newest first); [] for an unknown ref. */
export async function listCommits(gitDir: string, ref: string, limit = 50): Promise<CommitSummary[]> {
  const commit = await resolveCommit(gitDir, ref);
  if (!commit) return [];
  const count = Math.max(1, Math.min(browseLimits.logMax, Math.floor(limit) || 1));
  const fields = 6;
  const output = await git(['log', '-z', `--max-count=${count}`, '--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%s', commit, '--'], { gitDir });
  const parts = output.split('\0');
  const commits: CommitSummary[] = [];
  for (let i = 0; i + fields <= parts.length; i += fields) {
    const [oid, parents, authorName, authorEmail, authorDate, subject] = parts.slice(i, i + fields) as [string, string, string, string, string, string];
    if (!/^[0-9a-f]{40,64}$/.test(oid)) break;
    commits.push({ oid, parents: parents ? parents.split(' ') : [], authorName, authorEmail, authorDate, subject });
  }
  return commits;
}

/** A NUL in the first 8000 bytes, as git decides; or bytes that are not UTF-8. */
export function isBinary(bytes: Buffer, truncated: boolean): boolean {
  if (bytes.subarray(0, 8000).includes(0)) return true;
  // A cut may fall inside a multi-byte character: ignore up to 3 trailing bytes then.
  let end = bytes.length;
  if (truncated) {
    let back = 0;
    while (back < 3 && end - back - 1 >= 0 && ((bytes[end - back - 1] as number) & 0xc0) === 0x80) back += 1;
    if (end - back - 1 >= 0 && ((bytes[end - back - 1] as number) & 0xc0) === 0xc0) end = end - back - 1;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end));
    return false;
  } catch {
    return true;
  }
}

/** The blob at `path` and `ref` (its normalized path, oid and size), or undefined when it is not a file there. */
export async function findBlob(gitDir: string, ref: string, rawPath: string): Promise<{ path: string; oid: string; size: number } | undefined> {
  const path = normalizeTreePath(rawPath);
  if (!path) return undefined;
  const commit = await resolveCommit(gitDir, ref);
  if (!commit) return undefined;
  const stat = await statPath(gitDir, commit, path);
  if (!stat || stat.type !== 'blob') return undefined;
  return { path, oid: stat.oid, size: stat.size };
}

/** The file at `path` and `ref` (capped at maxBytes), or undefined when it is not a file there. */
export async function readBlob(gitDir: string, ref: string, rawPath: string, maxBytes = browseLimits.fileBytes): Promise<FileContent | undefined> {
  const stat = await findBlob(gitDir, ref, rawPath);
  if (!stat) return undefined;
  const { path } = stat;
  const result = await runGit(['cat-file', 'blob', stat.oid], { gitDir, maxBytes });
  if (result.code !== 0) return undefined;
  const truncated = result.truncated || result.stdout.length < stat.size;
  const binary = isBinary(result.stdout, truncated);
  const file: FileContent = { path, oid: stat.oid, size: stat.size, binary, truncated };
  if (!binary) file.content = result.stdout.toString('utf8');
  return file;
}

export interface HasPathOptions {
  /** Default: HEAD, the repository's default branch. */
  ref?: string;
  /** The file's content must match (text files; checked on its first MiB). */
  contentRegex?: RegExp | string;
}

/**
 * Does a commit reachable from `ref` contain `path` (optionally with matching content)? Walks the
 * commits that changed the path (full history, so merged side branches count), newest first.
 */
export async function containsPath(gitDir: string, rawPath: string, options: HasPathOptions = {}): Promise<boolean> {
  const path = normalizeTreePath(rawPath);
  if (!path) return false;
  const commit = await resolveCommit(gitDir, options.ref ?? 'HEAD');
  if (!commit) return false;
  const regex = typeof options.contentRegex === 'string' ? new RegExp(options.contentRegex, 'm') : options.contentRegex;
  const changed = await runGit(['rev-list', '--full-history', '--max-count=200', commit, '--', path], {
    gitDir,
    env: { GIT_LITERAL_PATHSPECS: '1' },
  });
  if (changed.code !== 0) return false;
  const seen = new Set<string>();
  for (const candidate of changed.stdout.toString('utf8').split('\n').filter(Boolean)) {
    const stat = await statPath(gitDir, candidate, path);
    if (!stat) continue; // this commit deleted it
    if (!regex) return true;
    if (stat.type !== 'blob' || seen.has(stat.oid)) continue;
    seen.add(stat.oid);
    const blob = await runGit(['cat-file', 'blob', stat.oid], { gitDir, maxBytes: browseLimits.fileBytes });
    regex.lastIndex = 0;
    if (blob.code === 0 && regex.test(blob.stdout.toString('utf8'))) return true;
  }
  return false;
}
