/**
 * What the server needs to know of VS Code's install (server/cli/code-server.ts makes it): where
 * it is, whether it is complete and of the pinned versions, and whether it is wanted at all.
 * Below the web and the CLI: the composition root (server/app.ts) asks it whether to offer VS Code.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../config.ts';
import { LAB_CODE_SERVER_DIR } from '../drivers/local/sandbox-args.ts';

/** The committed package.json + package-lock.json that pin code-server and Node. */
export const codeServerManifest = join(projectRoot, 'labs', 'tools', 'code-server');
export const manifestFiles = ['package.json', 'package-lock.json'];

/** Where the Node and the code-server entry point are in an install (what a lab runs). */
export function codeServerPaths(target = LAB_CODE_SERVER_DIR): { node: string; entry: string } {
  return {
    node: join(target, 'node_modules', 'node', 'bin', 'node'),
    entry: join(target, 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
  };
}

/** What the installed directory must have been built from: the pinned manifest on this architecture. */
export function codeServerStamp(manifest = codeServerManifest): string {
  const hash = createHash('sha256').update(`${process.platform}-${process.arch}`);
  for (const file of manifestFiles) hash.update('\0').update(readFileSync(join(manifest, file)));
  return hash.digest('hex');
}

/** Written last, once the install is complete and starts: what codeServerReady compares. */
export function codeServerStampFile(target = LAB_CODE_SERVER_DIR): string {
  return join(target, '.atelier-manifest.sha256');
}

/** Whether the install at target is complete and of the pinned versions (the server offers VS Code only then). */
export function codeServerReady(target = LAB_CODE_SERVER_DIR, manifest = codeServerManifest): boolean {
  const stampFile = codeServerStampFile(target);
  return existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === codeServerStamp(manifest);
}

/** ATELIER_VSCODE: `off` skips the install (and VS Code); unset, empty or `on` keep it. */
export function vscodeWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.ATELIER_VSCODE ?? '';
  if (value === '' || value === 'on') return true;
  if (value === 'off') return false;
  throw new Error(`invalid configuration: ATELIER_VSCODE=${JSON.stringify(value)}: expected on or off`);
}
