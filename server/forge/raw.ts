/**
 * A file of a repository as a stream of its exact bytes, however large (a learner's raw
 * download); what browse.ts reads for the page is capped and text only.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { findBlob } from './browse.ts';
import { gitEnvironment } from './git.ts';

export interface OpenBlob {
  path: string;
  size: number;
  stream: Readable;
  /** Stops git (a client that left). */
  close(): void;
}

/** The file at `path` and `ref`, or undefined when it is not a file there. */
export async function openBlob(gitDir: string, ref: string, rawPath: string): Promise<OpenBlob | undefined> {
  const blob = await findBlob(gitDir, ref, rawPath);
  if (!blob) return undefined;
  const git = spawn('git', ['--git-dir', gitDir, 'cat-file', 'blob', blob.oid], { env: gitEnvironment(), stdio: ['ignore', 'pipe', 'ignore'] });
  return { path: blob.path, size: blob.size, stream: git.stdout, close: () => git.kill('SIGKILL') };
}
