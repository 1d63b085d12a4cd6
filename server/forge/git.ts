/**
 * Running git for the forge: argv arrays only (no shell), a clean environment (never the server's
 * own), a timeout, and a cap on what is read back.
 */
import { spawn } from 'node:child_process';

/** The environment every git the forge starts gets: nothing from the server's own. */
export function gitEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    // No system or user configuration: repositories behave the same on every host.
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    ...extra,
  };
}

/**
 * Settings of the git processes serving learners (http-backend and what it starts), given through
 * GIT_CONFIG_* so every repository, old or new, gets them without touching its own config.
 * Partial clone (`--filter`) needs the filter, and the lazy fetches of the blobs it left out
 * want objects by id, which git's own server allows with allowAnySHA1InWant. A learner only
 * reaches their own repositories, so naming any object of them gives nothing away. Only the
 * filters that cost the server nothing more than a clone are offered (those of the big forges:
 * blob:none, blob:limit, tree:0); `sparse:oid`, which makes it read a pattern file and walk
 * every path against it, is refused.
 */
export const servingSettings: Readonly<Record<string, string>> = {
  'uploadpack.allowFilter': 'true',
  'uploadpack.allowAnySHA1InWant': 'true',
  'uploadpackfilter.allow': 'false',
  'uploadpackfilter.blob:none.allow': 'true',
  'uploadpackfilter.blob:limit.allow': 'true',
  'uploadpackfilter.tree.allow': 'true',
  'uploadpackfilter.tree.maxDepth': '0',
};

/** `settings` as the GIT_CONFIG_COUNT/KEY/VALUE variables git reads (git 2.31+). */
export function configEnvironment(settings: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  const entries = Object.entries(settings);
  entries.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key;
    env[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  env.GIT_CONFIG_COUNT = String(entries.length);
  return env;
}

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** stdout was cut at maxBytes (the process was stopped). */
  truncated: boolean;
}

export interface GitRunOptions {
  /** The repository (bare): passed as --git-dir. */
  gitDir?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Read at most this many bytes of stdout, then stop git (default 8 MiB). */
  maxBytes?: number;
  timeoutMs?: number;
  input?: string | Buffer;
}

export class GitError extends Error {
  readonly code: number;
  readonly stderr: string;
  constructor(args: readonly string[], code: number, stderr: string) {
    super(`git ${args[0] ?? ''} failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    this.name = 'GitError';
    this.code = code;
    this.stderr = stderr;
  }
}

/** Runs git; resolves with its exit code and output (never rejects on a non-zero exit). */
export function runGit(args: readonly string[], options: GitRunOptions = {}): Promise<GitResult> {
  const maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
  const argv = options.gitDir ? ['--git-dir', options.gitDir, ...args] : [...args];
  return new Promise((resolve, reject) => {
    const child = spawn('git', argv, {
      cwd: options.cwd ?? options.gitDir ?? '/',
      env: gitEnvironment(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let length = 0;
    let truncated = false;
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      if (truncated) return;
      const room = maxBytes - length;
      if (chunk.length >= room) {
        chunks.push(chunk.subarray(0, room));
        length = maxBytes;
        truncated = true;
        child.kill('SIGKILL');
        return;
      }
      chunks.push(chunk);
      length += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 16_384) stderr += chunk.toString('utf8');
    });
    child.stdin.on('error', () => {});
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: truncated ? 0 : code ?? (signal ? 128 : 1), stdout: Buffer.concat(chunks), stderr, truncated });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs git and returns stdout as text; throws GitError on a non-zero exit. */
export async function git(args: readonly string[], options: GitRunOptions = {}): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) throw new GitError(args, result.code, result.stderr);
  return result.stdout.toString('utf8');
}
