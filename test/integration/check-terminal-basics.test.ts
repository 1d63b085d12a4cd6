/**
 * The checks of labs/terminal-basics/lab.yaml against a real server and sandbox, as the English
 * page runs them (English example names: my-folder, data/raw.csv): each fails after the obvious
 * shortcut and passes after the real step, typed in the lab's terminal. The French page's names
 * do not pass the English page's checks, and the other way round.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { connectTerminal, type TerminalClient } from '../helpers/terminal.ts';
import { LearnerClient, inLabOk, repoLabsDir } from '../helpers/learner.ts';

let server: TestServer;
let learner: LearnerClient;
let lab: { id: string; token: string };
/** The learner's one terminal, as the page's: every step typed there. */
let terminal: TerminalClient;

before(async () => {
  server = await startTestServer({ config: { labsDir: repoLabsDir } });
  learner = new LearnerClient(server.url);
  await learner.me();
  const started = await learner.launch('terminal-basics');
  lab = { id: started.id, token: started.token };
  terminal = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'main' });
  await terminal.screen;
});
after(async () => {
  terminal?.close();
  await server?.cleanup();
  if (server) rmSync(server.config.dataDir, { recursive: true, force: true });
});

async function check(id: string, lang = 'en'): Promise<{ ok: boolean; found: string; message: string }> {
  const response = await learner.api(`/api/labs/${lab.id}/checks/${id}`, { method: 'POST', lang });
  assert.equal(response.status, 200, response.text);
  return response.body;
}

/** Types a command line into the learner's terminal and waits for its exit status. */
async function type(command: string): Promise<void> {
  const from = terminal.output().length;
  const marker = `done-${Math.random().toString(36).slice(2)}`;
  terminal.type(`${command}; echo "${marker}-$?"\r`);
  const output = await terminal.waitFor(new RegExp(`${marker}-(\\d+)`), 10_000, from);
  assert.equal(new RegExp(`${marker}-(\\d+)`).exec(output.slice(from))![1], '0', command);
}

test('made-dir: a file named my-folder fails; the French name fails the English page; mkdir my-folder passes', async () => {
  const first = await check('made-dir');
  assert.equal(first.ok, false);
  assert.equal(first.message, 'No folder my-folder in ~/work yet. Hint: Type mkdir my-folder in the terminal, from ~/work.');
  await type('touch my-folder mon-dossier');
  assert.equal((await check('made-dir')).found, '~/work/my-folder is a file, not a folder.');
  await type('rm my-folder mon-dossier && mkdir mon-dossier');
  assert.equal((await check('made-dir')).ok, false, 'mon-dossier is the French page’s folder');
  assert.equal((await check('made-dir', 'fr')).ok, true);
  await type('rmdir mon-dossier && mkdir my-folder');
  const passed = await check('made-dir');
  assert.equal(passed.ok, true, passed.message);
  assert.equal(passed.message, 'Done');
});

test('removed-file: with notes.txt never created it fails; created, checked, then removed, it passes', async () => {
  assert.equal((await check('removed-file')).found, 'Check the earlier step first: a file named notes.txt inside my-folder.');
  await type('cd my-folder && touch notes.txt');
  assert.equal((await check('made-file')).ok, true);
  assert.equal((await check('removed-file')).found, 'notes.txt is still in ~/work/my-folder.');
  await type('rm notes.txt');
  assert.equal((await check('removed-file')).ok, true);
});

test('back-home: a shell still in my-folder fails, so does a fresh terminal in a new lab; cd .. passes', async () => {
  const inside = await check('back-home');
  assert.equal(inside.ok, false);
  assert.equal(inside.found, "None of your terminals is in ~/work, or the exercise's folder is no longer there.");
  await type('cd ..');
  assert.equal((await check('back-home')).ok, true);
});

test('made-nested: a folder named raw.csv fails; mkdir then touch passes', async () => {
  await type('mkdir -p my-folder/data/raw.csv');
  assert.equal((await check('made-nested')).found, '~/work/my-folder/data/raw.csv is a folder, not a file.');
  await type('rmdir my-folder/data/raw.csv && touch my-folder/data/raw.csv');
  assert.equal((await check('made-nested')).ok, true);
  assert.equal((await check('made-nested', 'fr')).found, 'Pas encore de fichier brut.csv dans ~/work/mon-dossier/donnees.');
});

test('in a relaunched lab, a fresh terminal in ~/work does not pass back-home: the steps before it belong to the old lab', async () => {
  await learner.deleteLab(lab.id);
  const started = await learner.launch('terminal-basics');
  lab = { id: started.id, token: started.token };
  await inLabOk(server, lab.id, 'mkdir -p my-folder');
  const fresh = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'fresh' });
  try {
    await fresh.screen;
    const result = await check('back-home');
    assert.equal(result.ok, false);
    assert.equal(result.found, 'The earlier step was checked in another service: do it again in this one (no notes.txt left inside my-folder).');
  } finally {
    fresh.close();
  }
});
