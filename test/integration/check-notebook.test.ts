/**
 * The notebook check against a real server and sandbox: .ipynb files written in the lab (as the
 * learner's JupyterLab would save them, and as a learner trying their luck would not) and the
 * verdict and sentence of each. Executed or not, matching source and output or not, a 20 MB
 * junk file, invalid JSON, a link to /etc/passwd, checkpoints, a notebook too deep.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { makeLabsDir, startTestServer, type TestServer } from '../helpers/server.ts';
import { LearnerClient, inLabOk } from '../helpers/learner.ts';

const labYaml = `
id: notebooks
title: { fr: Notebooks, en: Notebooks }
workspace: /home/onyxia/work
resources: { cpu: 1, memory: 512Mi, disk: 128Mi, pids: 128 }
ttl: 10m
idle: 10m
checks:
  reads-csv:
    kind: notebook
    source: 'read_csv\\(\\s*["'']s3://'
    cell: { fr: lit un CSV depuis s3://, en: reads a CSV from s3:// }
  answer:
    kind: notebook
    path: { fr: ~/work/reponse.ipynb, en: ~/work/answer.ipynb }
    source: 'print\\('
    output: '^42$'
`;

let server: TestServer;
let labsDir: string;
let learner: LearnerClient;
let lab: string;

before(async () => {
  labsDir = makeLabsDir({ notebooks: labYaml });
  server = await startTestServer({ config: { labsDir } });
  learner = new LearnerClient(server.url);
  await learner.me();
  lab = (await learner.launch('notebooks')).id;
});
after(async () => {
  await server?.cleanup();
  rmSync(labsDir, { recursive: true, force: true });
  if (server) rmSync(server.config.dataDir, { recursive: true, force: true });
});

async function check(id: string, lang = 'en'): Promise<{ ok: boolean; found: string }> {
  const response = await learner.api(`/api/labs/${lab}/checks/${id}`, { method: 'POST', lang });
  assert.equal(response.status, 200, response.text);
  return response.body;
}

interface Cell {
  source: string;
  count?: number | null;
  outputs?: object[];
}

/** A notebook as JupyterLab saves it (nbformat 4, sources as lists of lines). */
function notebookJson(cells: Cell[]): string {
  return JSON.stringify({
    cells: [
      { cell_type: 'markdown', metadata: {}, source: ['# read_csv("s3://in a markdown cell")'] },
      ...cells.map((cell) => ({
        cell_type: 'code',
        execution_count: cell.count === undefined ? 1 : cell.count,
        metadata: {},
        outputs: cell.outputs ?? [],
        source: cell.source.split(/(?<=\n)/),
      })),
    ],
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  });
}

/** Writes a file in the lab's workspace, as the lab user, from the server's side of a pipe. */
async function write(path: string, content: string): Promise<void> {
  await inLabOk(server, lab, `mkdir -p "$(dirname '${path}')" && base64 -d > '${path}' <<'EOF'\n${Buffer.from(content).toString('base64')}\nEOF`);
}

const readCell: Cell = { source: 'import pandas as pd\ndf = pd.read_csv("s3://atelier/diffusion/tp-datalab/communes.csv")\ndf.head()' };

test('no notebook, or only a link to /etc/passwd named x.ipynb: nothing to read', async () => {
  assert.equal((await check('reads-csv')).found, 'No notebook (.ipynb) in ~/work yet.');
  assert.equal((await check('reads-csv', 'fr')).found, 'Pas encore de notebook (.ipynb) dans ~/work.');
  await inLabOk(server, lab, 'ln -s /etc/passwd x.ipynb && ln -s /etc/passwd answer.ipynb');
  assert.equal((await check('reads-csv')).found, 'No notebook (.ipynb) in ~/work yet.', 'a link is not followed');
  assert.equal((await check('answer')).found, '~/work/answer.ipynb leads outside your home folder.');
  assert.equal((await check('answer', 'fr')).found, 'Pas encore de notebook reponse.ipynb dans ~/work.', 'the French page’s own path');
  await inLabOk(server, lab, 'rm x.ipynb answer.ipynb');
});

test('a 20 MB junk file and invalid JSON are named, not read', async () => {
  await inLabOk(server, lab, 'head -c 20000000 /dev/urandom > big.ipynb');
  assert.equal((await check('reads-csv')).found, 'big.ipynb was not read: notebooks over 8 MiB are not checked.');
  await inLabOk(server, lab, 'rm big.ipynb && printf \'{"cells": [\' > bad.ipynb');
  assert.equal((await check('reads-csv')).found, 'bad.ipynb cannot be read as a notebook: is it a .ipynb saved by Jupyter?');
  await inLabOk(server, lab, 'rm bad.ipynb');
});

test('a notebook whose cells never ran fails, and says to run them; a checkpoint does not count', async () => {
  await write('S3.ipynb', notebookJson([{ ...readCell, count: null }]));
  await write('.ipynb_checkpoints/S3-checkpoint.ipynb', notebookJson([readCell]));
  const notRun = await check('reads-csv');
  assert.equal(notRun.ok, false);
  assert.equal(notRun.found, 'S3.ipynb has no executed cell yet: run its cells, then save it (Ctrl+S).');
});

test('executed cells that do something else fail, naming the notebook and counting its cells', async () => {
  await write('S3.ipynb', notebookJson([{ source: 'import os' }, { source: 'pd.read_csv("communes.csv")', count: 2 }, { ...readCell, count: null }]));
  assert.equal((await check('reads-csv')).found, 'S3.ipynb has 2 executed cells, none of which reads a CSV from s3://.');
  assert.equal((await check('reads-csv', 'fr')).found, 'S3.ipynb a 2 cellules exécutées, mais aucune ne lit un CSV depuis s3://.');
});

test('an executed cell reading s3:// passes, in a folder below the workspace too, but not five folders down', async () => {
  await inLabOk(server, lab, 'rm S3.ipynb');
  await write('a/b/c/d/e/S3.ipynb', notebookJson([readCell]));
  assert.equal((await check('reads-csv')).found, 'No notebook (.ipynb) in ~/work yet.', 'deeper than 4 folders');
  await inLabOk(server, lab, 'mv a/b/c/d/e/S3.ipynb a/b/c/d/S3.ipynb');
  const passed = await check('reads-csv');
  assert.equal(passed.ok, true, passed.found);
  assert.equal(passed.found, 'a/b/c/d/S3.ipynb has an executed cell that does it.');
  await inLabOk(server, lab, 'rm -r a');
});

test('with an output pattern: a failing cell says its error, another output fails, the right one passes', async () => {
  await write('answer.ipynb', notebookJson([{ source: 'print(6 * 7)', outputs: [{ output_type: 'error', ename: 'NameError', evalue: "name 'prnt' is not defined", traceback: [] }] }]));
  assert.equal((await check('answer')).found, "In answer.ipynb, the cell for this step ran but ended with an error (NameError: name 'prnt' is not defined).");
  await write('answer.ipynb', notebookJson([{ source: 'print(6 * 8)', outputs: [{ output_type: 'stream', name: 'stdout', text: ['48\n'] }] }]));
  assert.equal((await check('answer')).found, 'In answer.ipynb, the cell for this step ran, but its output is not what the step expects.');
  assert.equal((await check('answer', 'fr')).found, 'Pas encore de notebook reponse.ipynb dans ~/work.');
  await write('answer.ipynb', notebookJson([{ source: 'x = 1' }, { source: 'print(6 * 7)', outputs: [{ output_type: 'stream', name: 'stdout', text: ['42\n'] }] }]));
  assert.equal((await check('answer')).ok, true);
  await write('answer.ipynb', notebookJson([{ source: 'print(6 * 7)\n6 * 7', outputs: [{ output_type: 'execute_result', execution_count: 1, metadata: {}, data: { 'text/plain': ['42'] } }] }]));
  assert.equal((await check('answer')).ok, true, 'a result’s text/plain counts as output');
});
