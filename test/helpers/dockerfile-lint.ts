/**
 * deploy/tools/dockerfile-lint (BuildKit's Dockerfile parser and checks), built with Go once per
 * version of its sources into the project's cache.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atelierCache, ensureGoTool } from '../../server/cli/go-tool.ts';
import { projectRoot } from '../../server/config.ts';

const source = join(projectRoot, 'deploy', 'tools', 'dockerfile-lint');

export function ensureDockerfileLint(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(source, file))).update('\0');
  const target = join(atelierCache(), 'tools', `dockerfile-lint-${hash.digest('hex').slice(0, 16)}`, 'dockerfile-lint');
  return ensureGoTool({ package: '.', cwd: source, target, note: 'about 15 s the first time' });
}
