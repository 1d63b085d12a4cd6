/**
 * Skip and rebuild on real labs of datalab-discovery (the local driver, the forge, the S3
 * endpoint, a real kernel for notebooks): each check's `solve` script, run by
 * POST /api/labs/:id/checks/:check/solve, makes the check pass in the learner's lab and ticks its
 * step; then, after Delete, one POST /api/labs/:id/rebuild runs every page's checks in course order
 * in a fresh lab, in English, each passing: the solve scripts do the whole practical in order, in
 * a lab that has none of it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLabs } from '../../server/labs/registry.ts';
import type { RebuildLine } from '../../server/http/solve.ts';
import type { Activity } from '../../server/activity/activity.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { LearnerClient, inLabOk, repoLabsDir } from '../helpers/learner.ts';

const labId = 'datalab-discovery';
const checks = loadLabs(repoLabsDir).get(labId)!.checks;
/** The practical's check steps in the order of its pages (launch, ephemeral, git, s3, secrets). */
const courseOrder = ['notebook-function', 'made-file', 'file-gone', 'token-injected', 'cloned', 'pushed', 's3-downloaded', 's3-uploaded', 'notebook-read-shared', 'notebook-s3fs', 'notebook-wrote-result', 's3-shared'];

let server: TestServer;
let siteDir: string;
let learner: LearnerClient;
let lab: { id: string; token: string };
/** What this replica told of checks (the class view and the webhook hear it). */
const told: Extract<Activity, { check: string }>[] = [];

before(async () => {
  // A built page whose steps the check ticks (the server reads them from the built site).
  siteDir = mkdtempSync(join(tmpdir(), 'atelier-site-'));
  for (const language of ['fr', 'en']) {
    mkdirSync(join(siteDir, language, 'datalab-tp', 'git'), { recursive: true });
    writeFileSync(
      join(siteDir, language, 'datalab-tp', 'git', 'index.html'),
      `<!doctype html><html lang="${language}"><atelier-launch data-lab="${labId}"></atelier-launch><ul><li data-step="cloned" data-check="cloned">x</li><li data-step="pushed" data-check="pushed">y</li></ul></html>`,
    );
  }
  server = await startTestServer({ config: { labsDir: repoLabsDir, siteDir } });
  server.activity.on('activity', (activity, local) => {
    if (local && 'check' in activity) told.push(activity);
  });
  learner = new LearnerClient(server.url);
  await learner.me();
  // A clone and a push need the account's Git identity and token, injected at launch.
  assert.equal((await learner.api('/api/me/git', { method: 'PUT', body: { name: 'Ada Lovelace', email: 'ada@example.org' } })).status, 200);
  assert.equal((await learner.api('/api/me/git/token', { method: 'POST' })).status, 200);
  const started = await learner.launch(labId);
  lab = { id: started.id, token: started.token };
});
after(async () => {
  await server?.cleanup();
  if (server) rmSync(server.config.dataDir, { recursive: true, force: true });
  if (siteDir) rmSync(siteDir, { recursive: true, force: true });
});

async function skip(check: string, lang = 'fr') {
  return learner.api(`/api/labs/${lab.id}/checks/${check}/solve`, { method: 'POST', token: lab.token, lang });
}

async function rebuild(ids: string[], lang: string): Promise<RebuildLine[]> {
  // fetch itself: the client helper would parse the NDJSON body as one JSON document.
  const response = await fetch(`${server.url}/api/labs/${lab.id}/rebuild`, {
    method: 'POST',
    headers: { cookie: learner.cookie!, authorization: `Bearer ${lab.token}`, 'accept-language': lang, 'content-type': 'application/json' },
    body: JSON.stringify({ checks: ids }),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/);
  return text.trim().split('\n').map((line) => JSON.parse(line) as RebuildLine);
}

test('a check before its step fails; Skip runs its solve script, the check passes, says Skipped and ticks the step', async () => {
  assert.equal((await learner.api(`/api/labs/${lab.id}/checks/cloned`, { method: 'POST', token: lab.token })).body.ok, false);
  const response = await skip('cloned');
  assert.equal(response.status, 200, response.text);
  assert.deepEqual({ ok: response.body.ok, skipped: response.body.skipped, message: response.body.message }, { ok: true, skipped: true, message: "Passée : le script de l'étape l'a faite." });
  const progress = await learner.api('/api/progress?page=/datalab-tp/git/');
  assert.deepEqual(progress.body.steps, ['cloned']);
  // Done, and marked as done by its script, for the class view (the store's own table).
  const db = new DatabaseSync(join(server.config.dataDir, 'learners.db'), { readOnly: true });
  try {
    assert.deepEqual(db.prepare('SELECT learner_id, page, step FROM skipped_steps').all().map((row) => ({ ...row })), [{ learner_id: (await learner.me()).learner.id, page: '/datalab-tp/git/', step: 'cloned' }]);
  } finally {
    db.close();
  }
  // Told as a Check press's result is: the failure first, then the pass.
  assert.deepEqual(told.map(({ type, check, session }) => ({ type, check, session })), [
    { type: 'check.failed', check: 'cloned', session: lab.id },
    { type: 'check.passed', check: 'cloned', session: lab.id },
  ]);
  // Idempotent: a second run in a lab where the step is done passes again.
  assert.equal((await skip('cloned', 'en')).body.ok, true);
});

test("every solvable check of the practical, skipped in the course's order in one lab, passes (French names)", async () => {
  for (const id of courseOrder) {
    if (checks[id]!.solve === undefined) continue;
    const response = await skip(id);
    assert.equal(response.status, 200, `${id}: ${response.text}`);
    assert.equal(response.body.ok, true, `${id}: ${response.body.message}`);
  }
  // The push went to the forge: the French file is in the repository.
  await inLabOk(server, lab.id, 'git -C tp-datalab ls-remote --exit-code origin main >/dev/null && git -C tp-datalab cat-file -e origin/main:analyse.py');
});

test('a check that needs a new service, or has no script, cannot be skipped, and says why in the page language', async () => {
  const gone = await skip('file-gone', 'en');
  assert.equal(gone.status, 409);
  assert.equal(gone.body.error.code, 'not_solvable');
  assert.equal(gone.body.error.message, 'This step cannot be skipped: it passes only in a service launched after the earlier step: delete this one, then launch it again.');
  const token = await skip('token-injected');
  assert.equal(token.body.error.message, 'Impossible de passer cette étape : aucun script ne peut la faire à votre place.');
  assert.equal((await skip('no-such-check')).status, 404);
});

test('a script that fails says so with its own words, and the step stays undone', async () => {
  // A file where the clone should go: git refuses, and so does the pushed step's script.
  await inLabOk(server, lab.id, 'rm -rf tp-datalab && echo not-a-repo > tp-datalab');
  const response = await skip('pushed');
  assert.equal(response.status, 200);
  assert.equal(response.body.ok, false);
  assert.equal(response.body.skipped, false);
  assert.match(response.body.message, /^Le script de l'étape a échoué \(code 1\) : .*tp-datalab/s);
  await inLabOk(server, lab.id, 'rm -f tp-datalab');
});

test('one run at a time per lab: a second skip while one runs is refused (409 solve_busy)', async () => {
  const first = skip('notebook-function');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const second = await skip('made-file');
  assert.equal(second.status, 409);
  assert.equal(second.body.error.code, 'solve_busy');
  assert.equal((await first).body.ok, true);
});

test('rebuild: bad lists are refused before anything runs', async () => {
  const post = (body: unknown) => learner.api(`/api/labs/${lab.id}/rebuild`, { method: 'POST', token: lab.token, body });
  assert.equal((await post({ checks: [] })).status, 400);
  assert.equal((await post({ checks: ['made-file', 'made-file'] })).status, 400);
  assert.equal((await post({ checks: Array.from({ length: 51 }, (_, i) => `c${i}`) })).status, 400);
  assert.equal((await post({ checks: ['made-file', 'nope'] })).status, 404);
  assert.equal((await post({ checks: ['made-file'], extra: 1 })).status, 400);
});

test('after Delete, one rebuild runs the whole practical in order in a fresh lab, in English, each step passing', async () => {
  await learner.deleteLab(lab.id);
  const started = await learner.launch(labId);
  lab = { id: started.id, token: started.token };
  const lines = await rebuild(courseOrder, 'en');
  const finals = lines.filter((line) => line.type === 'step' && line.state !== 'solving' && line.state !== 'checking');
  assert.deepEqual(
    finals.map((line) => line.type === 'step' && [line.index, line.check, line.state]),
    courseOrder.map((id, index) => [index + 1, id, id === 'file-gone' ? 'passed-over' : 'passed']),
    JSON.stringify(lines.filter((line) => line.type === 'step' && line.state === 'failed')),
  );
  // A step is checked first; solved and checked again only when missing: the S3 page's notebook
  // steps share one script, which runs once.
  const moves = (id: string) => lines.filter((line) => line.type === 'step' && line.check === id).map((line) => line.type === 'step' && line.state);
  assert.deepEqual(moves('cloned'), ['checking', 'solving', 'checking', 'passed']);
  assert.deepEqual(moves('token-injected'), ['checking', 'passed']);
  assert.deepEqual(moves('notebook-read-shared'), ['checking', 'solving', 'checking', 'passed']);
  assert.deepEqual(moves('notebook-s3fs'), ['checking', 'passed']);
  // The probes' failures are not told: only passes reach the class view.
  assert.deepEqual(told.filter((activity) => activity.session === lab.id && activity.type === 'check.failed'), []);
  assert.deepEqual(lines.at(-1), { type: 'end', ok: true });
  await inLabOk(server, lab.id, 'git -C tp-datalab cat-file -e origin/main:analysis.py && test -s results.csv');
});

test('rebuild stops at the first failure with its message: the secret step of a lab launched without a group', async () => {
  const lines = await rebuild(['made-file', 'secret-injected', 's3-downloaded'], 'en');
  assert.deepEqual(lines.at(-1), { type: 'end', ok: false, check: 'secret-injected', message: lines.at(-2)!.type === 'step' ? (lines.at(-2) as { message: string }).message : '' });
  assert.match((lines.at(-1) as { message: string }).message, /^This service was launched without a secret group/);
  assert.ok(!lines.some((line) => line.type === 'step' && line.check === 's3-downloaded'), 'nothing after the failure runs');
});
