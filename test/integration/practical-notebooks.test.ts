/**
 * The practical's notebook steps as the pages write them: the ```python cells of each page of
 * content/{fr,en}/datalab-tp/, put in a notebook in a real datalab-discovery lab and run there by a
 * real kernel (`jupyter execute`, the Terminal-only route the pages give), then the page's checks:
 * reading the shared CSV through s3:// with pandas and through s3fs, writing the result to the
 * learner's bucket, reading the secret variable. A page whose code stops working fails here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { LearnerClient, inLabOk, repoLabsDir } from '../helpers/learner.ts';

const contentDir = join(import.meta.dirname, '..', '..', 'content');

let server: TestServer;
let learner: LearnerClient;

before(async () => {
  server = await startTestServer({ config: { labsDir: repoLabsDir } });
  learner = new LearnerClient(server.url);
  await learner.me();
});
after(async () => {
  await server?.cleanup();
  if (server) rmSync(server.config.dataDir, { recursive: true, force: true });
});

/** The ```python blocks of a page, in order: the cells the learner pastes. */
function pythonCells(language: 'fr' | 'en', page: string): string[] {
  const text = readFileSync(join(contentDir, language, 'datalab-tp', `${page}.mdx`), 'utf8');
  return [...text.matchAll(/^```python\n([\s\S]*?)^```$/gm)].map((match) => match[1]!.trimEnd());
}

/** Writes the cells as a notebook in ~/work and runs it in the lab with a real kernel, saving the outputs. */
async function runNotebook(lab: string, name: string, cells: string[]): Promise<void> {
  const payload = Buffer.from(JSON.stringify(cells)).toString('base64');
  await inLabOk(
    server,
    lab,
    `python3 -c 'import base64, json, sys, nbformat
cells = json.loads(base64.b64decode(sys.argv[1]))
nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), sys.argv[2])' ${payload} '${name}' && jupyter execute --inplace --allow-errors '${name}'`,
    120_000,
  );
}

async function check(lab: string, id: string, lang: 'fr' | 'en'): Promise<{ ok: boolean; found: string }> {
  const response = await learner.api(`/api/labs/${lab}/checks/${id}`, { method: 'POST', lang });
  assert.equal(response.status, 200, response.text);
  return response.body;
}

for (const language of ['fr', 'en'] as const) {
  test(`${language}: the launch page's first notebook, the S3 page's reads and write, the secrets page's variable, each ticked by its check`, async () => {
    const secretName = language === 'fr' ? 'PATATE_TOKEN' : 'POTATO_TOKEN';
    const group = language === 'fr' ? 'projet_patate' : 'potato_project';
    assert.equal((await learner.api(`/api/me/secrets/${group}`, { method: 'PUT', body: { vars: { [secretName]: '123456' } } })).status, 200);
    const lab = (await learner.launch('datalab-discovery', { secrets: group })).id;
    try {
      const initial = await check(lab, 'notebook-read-shared', language);
      assert.equal(initial.ok, false, 'nothing read yet');

      const launch = pythonCells(language, 'launch');
      assert.ok(launch.length > 0, 'the launch page has a notebook cell');
      await runNotebook(lab, language === 'fr' ? 'premier.ipynb' : 'first.ipynb', launch);
      const first = await check(lab, 'notebook-function', language);
      assert.equal(first.ok, true, first.found);

      const s3 = pythonCells(language, 's3');
      assert.ok(s3.length >= 3, 'the S3 page has its notebook cells');
      await runNotebook(lab, 'S3.ipynb', s3);
      for (const id of ['notebook-read-shared', 'notebook-s3fs', 'notebook-wrote-result']) {
        const result = await check(lab, id, language);
        assert.equal(result.ok, true, `${id}: ${result.found}`);
      }

      const secrets = pythonCells(language, 'secrets');
      assert.ok(secrets.length > 0, 'the secrets page has a notebook cell');
      await runNotebook(lab, 'secrets.ipynb', secrets);
      const secret = await check(lab, 'notebook-secret', language);
      assert.equal(secret.ok, true, secret.found);
    } finally {
      await learner.deleteLab(lab);
    }
  });
}
