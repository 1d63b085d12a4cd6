/**
 * The Dockerfiles of deploy/ cannot be built here (no container engine), so what they say is held
 * against the code they stand for: the Node the project pins, the files they copy, the paths and
 * user the lab server starts programs from (server/drivers/local/sandbox-args.ts,
 * server/services/catalog.ts), and the port, user and data directory the chart expects; and
 * BuildKit's own parser and checks (deploy/tools/dockerfile-lint) read them as `docker build` would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ensureCodeServer } from '../../server/cli/code-server.ts';
import { projectRoot } from '../../server/config.ts';
import { LAB_CODE_SERVER_DIR, LAB_HOME, LAB_PATH, LAB_PYTHON_DIR, LAB_UID } from '../../server/drivers/local/sandbox-args.ts';
import { codeServerPaths } from '../../server/services/code-server-install.ts';
import { serviceSpec } from '../../server/services/catalog.ts';
import { ensureDockerfileLint } from '../helpers/dockerfile-lint.ts';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** A Dockerfile's instructions, continuation lines joined and comments dropped. */
function instructions(path: string): Instruction[] {
  const result: Instruction[] = [];
  let pending = '';
  let start = 0;
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((raw, index) => {
      const line = raw.trim();
      if (pending === '' && (line === '' || line.startsWith('#'))) return;
      if (pending !== '' && line.startsWith('#')) return;
      if (pending === '') start = index + 1;
      pending += `${line.replace(/\\$/, '')} `;
      if (line.endsWith('\\')) return;
      const [keyword, ...rest] = pending.trim().split(/\s+/);
      result.push({ keyword: keyword!.toUpperCase(), args: rest.join(' '), line: start });
      pending = '';
    });
  assert.equal(pending, '', `${path} ends inside a continued instruction`);
  return result;
}

const serverFile = join(projectRoot, 'deploy', 'server.Dockerfile');
const labFile = join(projectRoot, 'deploy', 'lab-image', 'Dockerfile');
const onyxiaFile = join(projectRoot, 'deploy', 'lab-image', 'onyxia.Dockerfile');
const values = parse(readFileSync(join(projectRoot, 'deploy', 'chart', 'atelier', 'values.yaml'), 'utf8'));
const packageJson = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8'));

const args = (all: Instruction[], keyword: string) => all.filter((instruction) => instruction.keyword === keyword).map((instruction) => instruction.args);
const runs = (all: Instruction[]) => args(all, 'RUN').join('\n');

/** COPY sources taken from the build context (not from another stage). */
function contextSources(all: Instruction[]): string[] {
  return args(all, 'COPY')
    .filter((copy) => !/--from=/.test(copy))
    .flatMap((copy) => {
      const words = copy.split(' ').filter((word) => !word.startsWith('--'));
      return words.slice(0, -1);
    });
}

/** The context's ignore patterns of a Dockerfile (BuildKit's `<Dockerfile>.dockerignore`). */
function ignored(dockerfile: string): string[] {
  return readFileSync(`${dockerfile}.dockerignore`, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

for (const file of [serverFile, labFile, onyxiaFile]) {
  test(`${file.slice(projectRoot.length + 1)}: says it was never built, and every file it copies is in the repository and not ignored`, () => {
    assert.match(readFileSync(file, 'utf8'), /NOT BUILT HERE: no container engine/);
    const all = instructions(file);
    assert.ok(all.some((instruction) => instruction.keyword === 'FROM'), 'no FROM');
    const skip = existsSync(`${file}.dockerignore`) ? ignored(file) : [];
    for (const source of contextSources(all)) {
      if (source === '.') continue;
      assert.ok(existsSync(join(projectRoot, source)), `COPY ${source}: not in the repository`);
      assert.ok(!skip.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)), `COPY ${source}: excluded by the .dockerignore`);
    }
  });
}

test('the server image: the Node the project pins, npm ci and astro build, server/main.ts as the chart’s user on its port and data directory', () => {
  const all = instructions(serverFile);
  const nodeImage = args(all, 'ARG').find((arg) => arg.startsWith('NODE_IMAGE='))!;
  assert.equal(nodeImage, `NODE_IMAGE=node:${packageJson.devDependencies.node}-bookworm-slim`);
  assert.match(runs(all), /npm ci --omit=dev/);
  assert.match(runs(all), /npx astro build/);
  const command = JSON.parse(args(all, 'CMD').at(-1)!) as string[];
  assert.equal(command[0], 'node');
  assert.ok(existsSync(join(projectRoot, command.at(-1)!)), `CMD runs ${command.at(-1)}, which does not exist`);
  assert.equal(args(all, 'USER').at(-1), `${values.podSecurityContext.runAsUser}:${values.podSecurityContext.runAsGroup}`);
  assert.equal(args(all, 'EXPOSE').at(-1), '4321');
  assert.match(args(all, 'ENV').join(' '), /ATELIER_DATA_DIR=\/var\/lib\/atelier/);
  // The site build reads the tutorials, the site's sources and the labs: none may be ignored.
  for (const needed of ['content', 'site', 'labs', 'server', 'i18n', 'astro.config.mjs']) assert.ok(!ignored(serverFile).includes(needed), `${needed} is ignored`);
});

test('the lab image: the labs’ Python and VS Code where the server starts them, the lab user and PATH of the driver', () => {
  const all = instructions(labFile);
  const run = runs(all);
  assert.match(run, new RegExp(`python3 -m venv ${LAB_PYTHON_DIR} `));
  assert.match(run, new RegExp(`${LAB_PYTHON_DIR}/bin/pip install .* -r /tmp/lab-python/requirements.txt`));
  // The same installer as on a host, exported under that name.
  assert.match(run, /import\('\/src\/server\/cli\/code-server\.ts'\); await ensureCodeServer\(\)/);
  assert.equal(typeof ensureCodeServer, 'function');
  assert.ok(args(all, 'COPY').includes(`--from=code-server ${LAB_CODE_SERVER_DIR} ${LAB_CODE_SERVER_DIR}`));
  assert.match(run, new RegExp(`useradd --uid ${LAB_UID} --gid ${LAB_UID} --home-dir ${LAB_HOME} `));
  assert.ok(args(all, 'ENV').some((env) => env.includes(`PATH=${LAB_PATH} `)), 'the image’s PATH is not the lab’s');
  assert.equal(args(all, 'USER').at(-1), `${LAB_UID}:${LAB_UID}`);
  for (const lab of ['datalab-discovery', 'terminal-basics']) {
    const workspace = parse(readFileSync(join(projectRoot, 'labs', lab, 'lab.yaml'), 'utf8')).workspace as string;
    assert.equal(args(all, 'WORKDIR').at(-1), workspace);
  }
  assert.ok(args(all, 'COPY').includes('--chmod=0755 labs/tools/mc /usr/local/bin/mc'));
  // mc's shebang names Debian's Python, which needs Debian's boto3.
  assert.match(readFileSync(join(projectRoot, 'labs', 'tools', 'mc'), 'utf8'), /^#!\/usr\/bin\/python3\n/);
  assert.match(run, /python3-boto3/);
});

test('the datalab-based image links its programs where the catalogue starts them', () => {
  const run = runs(instructions(onyxiaFile));
  const jupyter = serviceSpec('jupyterlab', { password: 'p', workspace: '/w' }).argv[0]!;
  assert.equal(dirname(jupyter), `${LAB_PYTHON_DIR}/bin`);
  assert.match(run, new RegExp(`ln -s "\\$python_bin" ${LAB_PYTHON_DIR}/bin;`));
  const vscode = serviceSpec('vscode', { password: 'p', workspace: '/w' }).argv;
  assert.equal(vscode[0], codeServerPaths().node);
  assert.match(run, new RegExp(`ln -s /usr/lib/code-server/lib/node ${codeServerPaths().node};`));
  const out = `${LAB_CODE_SERVER_DIR}/node_modules/code-server/out`;
  assert.ok(vscode[1]!.startsWith(`${out}/`), `${vscode[1]} is not under ${out}`);
  assert.match(run, new RegExp(`ln -s /usr/lib/code-server/out ${out};`));
});

test('BuildKit’s parser and checks accept the three Dockerfiles, and refuse a broken one', async () => {
  const lint = await ensureDockerfileLint();
  const run = promisify(execFile);
  const { stdout } = await run(lint, [serverFile, labFile, onyxiaFile]);
  assert.match(stdout, /server\.Dockerfile: 3 stage\(s\)/);
  const dir = mkdtempSync(join(tmpdir(), 'atelier-dockerfile-'));
  try {
    const broken = join(dir, 'Dockerfile');
    writeFileSync(broken, 'FROM debian:bookworm-slim AS Base\nCOPY --chmodd=0755 a b\n');
    const refused = await run(lint, [broken]).then(
      () => assert.fail('a broken Dockerfile was accepted'),
      (error: { code?: number; stdout?: string }) => error,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stdout!, /unknown flag: --chmodd/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
