/**
 * The server's keys: the cookie secret (learner cookies; service hand-offs and raw repository
 * links derive theirs from it by HMAC under labels of their own) and the sealing key (secret
 * groups, tokens and S3 secret keys at rest).
 *
 * With ATELIER_SECRET_KEY_FILE (one high-entropy secret, mounted from a Kubernetes Secret that
 * every replica shares) each key is derived from it by HKDF-SHA256 with a distinct label, so no
 * replica makes a key of its own. Without it, each key is a random file in the data directory's
 * keys/ (mode 0600), made on first use, as a single server always did.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config.ts';

/** `openssl rand -base64 32` prints 44 characters: anything shorter than 32 bytes is refused. */
export const minSecretBytes = 32;

export interface ServerKeys {
  cookie: Buffer;
  sealing: Buffer;
}

/** A bad ATELIER_SECRET_KEY_FILE: the message names the variable and the problem, never the file's content. */
export class SecretKeyFileError extends ConfigError {
  constructor(problem: string) {
    super(`invalid configuration: ATELIER_SECRET_KEY_FILE ${problem}`);
    this.name = 'SecretKeyFileError';
  }
}

/** A 32-byte server key kept in the data directory (mode 0600), created on first use. */
export function loadOrCreateKey(path: string): Buffer {
  if (!existsSync(path)) {
    try {
      writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // Another process created it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
}

/** Labels of the derived keys: a new purpose takes a new label, never an old one. */
const labels: Record<keyof ServerKeys, string> = { cookie: 'atelier cookie secret v1', sealing: 'atelier sealing key v1' };

/** Every key from one secret. */
export function deriveKeys(secret: Buffer): ServerKeys {
  const derive = (label: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), label, 32));
  return { cookie: derive(labels.cookie), sealing: derive(labels.sealing) };
}

function readSecret(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SecretKeyFileError(`cannot be read (${code ?? 'error'}): ${path}`);
  }
  // A newline at the end (an editor's, `echo`'s) is not part of the secret.
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end -= 1;
  const secret = raw.subarray(0, end);
  if (secret.length < minSecretBytes) {
    throw new SecretKeyFileError(`holds ${secret.length} bytes: at least ${minSecretBytes} of a random secret are needed (e.g. \`openssl rand -base64 32\`)`);
  }
  return secret;
}

export function serverKeys(options: { keysDir: string; secretKeyFile?: string | undefined }): ServerKeys {
  if (options.secretKeyFile !== undefined) return deriveKeys(readSecret(options.secretKeyFile));
  return { cookie: loadOrCreateKey(join(options.keysDir, 'cookie.key')), sealing: loadOrCreateKey(join(options.keysDir, 'sealing.key')) };
}
