/**
 * The "Découverte du Datalab" practical, step by step, against a real server, the real driver and
 * the real forge and S3 endpoint: every check of labs/datalab-discovery/lab.yaml is run through
 * `POST /api/labs/:id/checks/:check`, first failing (one sentence of what was found, then the
 * hint, in French and in English), then failing again after the obvious shortcut (an empty file,
 * `rm` instead of a relaunch, `mkdir .git`, an export in ~/.profile…), then passing once the
 * learner really did the step in the lab, from its terminal, as the lab user, or in a notebook
 * run by a real kernel (the pages' own python cells). The learner
 * follows the French page (its example names); English names pass the English page's checks.
 * Steps the server can see happen (a push, an S3 upload) also tick by themselves: the learner's
 * pages hear `passed` over socket.io's `/learner` namespace.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadLabs } from '../../server/labs/registry.ts';
import type { CheckDefinition } from '../../server/labs/schema.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { connectTerminal } from '../helpers/terminal.ts';
import { LearnerClient, connectLearnerEvents, inLab, inLabOk, repoLabsDir, type LearnerEvents } from '../helpers/learner.ts';

const labId = 'datalab-discovery';
const definition = loadLabs(repoLabsDir).get(labId)!;
const checks = definition.checks;
const communes = readFileSync(join(repoLabsDir, labId, 'shared', 'communes.csv'), 'utf8');
const contentDir = join(import.meta.dirname, '..', '..', 'content');

let server: TestServer;
let learner: LearnerClient;
/** The learner's current lab (id and token). */
let lab: { id: string; token: string };
/** The learner's /learner socket, and another learner's (who must hear nothing). */
let events: LearnerEvents | undefined;
let bystander: LearnerEvents | undefined;
/** Checks seen failing in both languages, and seen passing. */
const seenFailing = new Set<string>();
const seenPassing = new Set<string>();

/**
 * A new learner whose signed cookie does (or does not) hold a `+`: the cookie's signature is
 * base64, so about every other learner gets one. The test of `+` cookies on /learner below fails
 * on its own (see there); the rest of this file uses learners without one, so each failure names
 * one cause.
 */
async function newLearner(withPlus: boolean): Promise<LearnerClient> {
  for (let attempt = 0; attempt < 64; attempt += 1) {
    const client = new LearnerClient(server.url);
    await client.me();
    if (client.cookie!.includes('+') === withPlus) return client;
  }
  throw new Error(`no learner cookie ${withPlus ? 'with' : 'without'} a + in 64 tries`);
}

before(async () => {
  server = await startTestServer({ config: { labsDir: repoLabsDir } });
  learner = await newLearner(false);
});
after(async () => {
  events?.close();
  bystander?.close();
  await server?.cleanup();
  if (server) rmSync(server.config.dataDir, { recursive: true, force: true });
});

/** What a check expects, worded in `language`: the lab's `expect`, or the generic wording of its kind. */
function expectedText(check: CheckDefinition, language: 'fr' | 'en'): string {
  if (check.expect) return check.expect[language];
  throw new Error(`the lab's ${check.kind} checks all have an expect`);
}

/** The check names a path, key or variable per language: a step done with the French names passes the French page only. */
function dependsOnLanguage(check: CheckDefinition): boolean {
  return Object.values(check).some((value) => typeof value === 'object' && value !== null && 'fr' in value && 'en' in value && check.expect !== value && check.hint !== value);
}

type Result = { check: string; ok: boolean; expected: string; found: string; hint?: string; message: string };

async function runCheck(id: string, language: string): Promise<Result> {
  const response = await learner.api(`/api/labs/${lab.id}/checks/${id}`, { method: 'POST', lang: language });
  assert.equal(response.status, 200, `${id} (${language}): ${response.status} ${response.text}`);
  assert.equal(response.body.check, id);
  return response.body as Result;
}

/**
 * The check fails, and says so in French and in English: one sentence of what was found (`found`,
 * when given, is that sentence or a pattern it matches), then the lab's own hint.
 */
async function expectFailing(id: string, found?: { fr: string | RegExp; en: string | RegExp }): Promise<void> {
  const check = checks[id]!;
  const fr = await runCheck(id, 'fr');
  const en = await runCheck(id, 'en-US,en;q=0.9');
  for (const [language, result] of [['fr', fr], ['en', en]] as const) {
    assert.equal(result.ok, false, `${id} should fail now (${language}): ${result.message}`);
    assert.equal(result.expected, expectedText(check, language), `${id} expected (${language})`);
    if (typeof found?.[language] === 'string') assert.equal(result.found, found[language], `${id} found (${language})`);
    else if (found) assert.match(result.found, found[language], `${id} found (${language})`);
    assert.match(result.found, /^\S.*[.?]$/, `${id} found is a sentence (${language}): ${result.found}`);
    assert.doesNotMatch(result.found, /attendu|expected|trouvé|found/i, `${id} found says what is there, not "expected … found …"`);
    assert.equal(result.hint, check.hint?.[language], `${id} hint (${language})`);
    const hint = check.hint ? (language === 'fr' ? ` Astuce : ${check.hint.fr}` : ` Hint: ${check.hint.en}`) : '';
    assert.equal(result.message, `${result.found}${hint}`, `${id} message (${language})`);
  }
  assert.notEqual(fr.found, en.found, `${id}: found is translated`);
  seenFailing.add(id);
}

/**
 * The check passes on the French page; on the English one too unless it names things per language
 * (the learner used the French names), or `english` says otherwise (a file absent in both names).
 */
async function expectPassing(id: string, english: 'passes' | 'fails' = dependsOnLanguage(checks[id]!) ? 'fails' : 'passes'): Promise<void> {
  const fr = await runCheck(id, 'fr');
  assert.equal(fr.ok, true, `${id} should pass now: ${fr.message}`);
  assert.equal(fr.message, 'Validé');
  assert.equal(fr.hint, undefined);
  const en = await runCheck(id, 'en');
  if (english === 'fails') {
    assert.equal(en.ok, false, `${id}: the English page looks for the English names (${en.message})`);
  } else {
    assert.equal(en.ok, true, `${id} (en): ${en.message}`);
    assert.equal(en.message, 'Done');
  }
  seenPassing.add(id);
}

async function launch(extra: Record<string, unknown> = {}): Promise<void> {
  const started = await learner.launch(labId, extra);
  assert.equal(started.status, 'running');
  assert.notEqual(started.id, lab?.id, 'a relaunch is a new lab instance');
  lab = { id: started.id, token: started.token };
}

async function relaunch(extra: Record<string, unknown> = {}): Promise<void> {
  await learner.deleteLab(lab.id);
  await launch(extra);
}

/** Types a command line into a new terminal of the lab and resolves with its exit status. */
async function inTerminal(command: string, name: string, timeoutMs = 15_000): Promise<number> {
  const terminal = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: name });
  try {
    await terminal.screen;
    const from = terminal.output().length;
    terminal.type(`${command}; echo "exit-status-$?-done"\r`);
    const output = await terminal.waitFor(/exit-status-(\d+)-done/, timeoutMs, from);
    return Number(/exit-status-(\d+)-done/.exec(output.slice(from))![1]);
  } finally {
    terminal.close();
  }
}

/** The ```python blocks of a page of the practical, in order: the cells the learner pastes. */
function pythonCells(language: 'fr' | 'en', page: string): string[] {
  const text = readFileSync(join(contentDir, language, 'datalab-tp', `${page}.mdx`), 'utf8');
  const cells = [...text.matchAll(/^```python\n([\s\S]*?)^```$/gm)].map((match) => match[1]!.trimEnd());
  assert.ok(cells.length > 0, `${language}/${page} has notebook cells`);
  return cells;
}

/**
 * Saves the cells as a notebook in ~/work (with nbformat, as the Terminal-only route of the pages
 * does) and, unless `run` is false, runs it in the lab with a real kernel (`jupyter execute`),
 * which saves the outputs in it as JupyterLab does.
 */
async function notebookInLab(name: string, cells: string[], run = true): Promise<void> {
  const payload = Buffer.from(JSON.stringify(cells)).toString('base64');
  const write = `python3 -c 'import base64, json, sys, nbformat
cells = json.loads(base64.b64decode(sys.argv[1]))
nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), sys.argv[2])' ${payload} '${name}'`;
  await inLabOk(server, lab.id, run ? `${write} && jupyter execute --inplace --allow-errors '${name}'` : write, 120_000);
}

/** Puts bytes in the learner's bucket as `mc` in the lab does. */
async function upload(key: string, content: string): Promise<void> {
  await inLabOk(server, lab.id, `printf '%s' '${content}' > /tmp/upload && mc cp -q /tmp/upload "s3/$AWS_BUCKET/${key}"`);
}

test('a fresh learner in a first lab: every step fails, in French and in English, with a sentence and the hint', async () => {
  await launch();
  await expectFailing('made-file', { fr: 'Pas encore de fichier mon-fichier.txt dans ~/work.', en: 'No file my-file.txt in ~/work yet.' });
  await expectFailing('file-gone', {
    fr: "Validez d'abord l'étape précédente : un fichier mon-fichier.txt contenant une phrase, dans ~/work.",
    en: 'Check the earlier step first: a file my-file.txt holding a sentence, in ~/work.',
  });
  await expectFailing('token-injected', {
    fr: "Votre compte n'a pas encore de nom Git : renseignez-le dans Mon compte.",
    en: 'Your account has no Git name yet: fill it in under My account.',
  });
  await expectFailing('cloned', { fr: 'Pas encore de dossier tp-datalab dans ~/work.', en: 'No folder tp-datalab in ~/work yet.' });
  await expectFailing('pushed', {
    fr: 'Pas encore de analyse.py sur la branche principale de tp-datalab, sur la forge : le commit est-il poussé ?',
    en: 'No analysis.py on the main branch of tp-datalab on the forge yet: was the commit pushed?',
  });
  await expectFailing('s3-downloaded', { fr: 'Pas encore de fichier communes.csv dans ~/work.', en: 'No file communes.csv in ~/work yet.' });
  await expectFailing('s3-uploaded', { fr: "Pas encore d'objet tp/resultats.csv dans votre bucket.", en: 'No object tp/results.csv in your bucket yet.' });
  await expectFailing('s3-shared', { fr: "Pas encore d'objet diffusion/resultats.csv dans votre bucket.", en: 'No object diffusion/results.csv in your bucket yet.' });
  await expectFailing('secret-injected', {
    fr: "Ce service a été lancé sans groupe de secrets : PATATE_TOKEN n'a pas pu y être injectée.",
    en: 'This service was launched without a secret group, so POTATO_TOKEN could not be injected.',
  });
  for (const id of ['notebook-function', 'notebook-read-shared', 'notebook-s3fs', 'notebook-secret']) {
    await expectFailing(id, { fr: 'Pas encore de notebook (.ipynb) dans ~/work.', en: 'No notebook (.ipynb) in ~/work yet.' });
  }
  await expectFailing('notebook-wrote-result', {
    fr: "Pas encore d'objet tp/population-departements.csv dans votre bucket.",
    en: 'No object tp/department-population.csv in your bucket yet.',
  });
});

test('made-file: an empty file fails; a sentence written with echo in the terminal passes; English names pass the English page', async () => {
  assert.equal(await inTerminal('touch mon-fichier.txt', 'empty'), 0);
  await expectFailing('made-file', { fr: "~/work/mon-fichier.txt est là, mais son contenu ne correspond pas à la consigne.", en: 'No file my-file.txt in ~/work yet.' });
  assert.equal(await inTerminal('echo "Mon premier fichier sur le Datalab" > mon-fichier.txt', 'made-file'), 0);
  await expectPassing('made-file');
  await inLabOk(server, lab.id, 'echo "My first file" > my-file.txt');
  assert.equal((await runCheck('made-file', 'en')).ok, true, 'my-file.txt passes the English page');
});

test('file-gone: `rm` in the same lab fails (no relaunch); a relaunched lab passes', async () => {
  await inLabOk(server, lab.id, 'rm mon-fichier.txt my-file.txt');
  await expectFailing('file-gone', {
    fr: "C'est encore le service de l'étape précédente : supprimez-le, puis relancez-en un neuf.",
    en: 'This is still the service of the earlier step: delete it, then launch a new one.',
  });
  await relaunch();
  await expectPassing('file-gone', 'passes');
  await expectFailing('made-file'); // the new workspace is empty again
});

test('token-injected: exports in ~/.profile and ~/.bashrc fail; settings saved after the launch fail; a relaunch passes; a new token fails again', async () => {
  await inLabOk(server, lab.id, `for f in ~/.profile ~/.bashrc ~/.bash_profile; do echo 'export GIT_USER_NAME=Ada GIT_USER_MAIL=ada@example.org GIT_PERSONAL_ACCESS_TOKEN=fake' >> "$f"; done`);
  await expectFailing('token-injected');
  assert.equal((await learner.api('/api/me/git', { method: 'PUT', body: { name: 'Ada Lovelace', email: 'ada@example.org' } })).status, 200);
  await expectFailing('token-injected', {
    fr: "Votre compte n'a pas encore de jeton Git : générez-en un dans Mon compte.",
    en: 'Your account has no Git token yet: generate one under My account.',
  });
  assert.equal((await learner.api('/api/me/git/token', { method: 'POST' })).status, 200);
  // Settings reach a lab at launch: the running one still lacks them.
  await expectFailing('token-injected', {
    fr: 'GIT_USER_NAME ne correspond pas à votre compte dans ce service : il a été lancé avant votre dernier réglage.',
    en: 'GIT_USER_NAME in this service does not match your account: it was launched before your latest change.',
  });
  await relaunch();
  await expectPassing('token-injected');
  assert.equal((await learner.api('/api/me/git/token', { method: 'POST' })).status, 200);
  await expectFailing('token-injected', {
    fr: 'GIT_PERSONAL_ACCESS_TOKEN ne correspond pas à votre compte dans ce service : il a été lancé avant votre dernier réglage.',
    en: 'GIT_PERSONAL_ACCESS_TOKEN in this service does not match your account: it was launched before your latest change.',
  });
  await relaunch();
  await expectPassing('token-injected');
});

test('cloned: mkdir .git, git init, an origin without commits, a clone of another repository fail; git clone in the terminal passes', async () => {
  await inLabOk(server, lab.id, 'mkdir -p tp-datalab/.git');
  await expectFailing('cloned', { fr: "~/work/tp-datalab n'est pas un dépôt Git : un dossier, mais pas un clone.", en: '~/work/tp-datalab is not a Git repository: a folder, but not a clone.' });
  await inLabOk(server, lab.id, 'rm -rf tp-datalab && git init -q tp-datalab');
  await expectFailing('cloned', { fr: "~/work/tp-datalab n'a pas de dépôt distant origin : il n'a pas été cloné.", en: '~/work/tp-datalab has no origin remote: it was not cloned.' });
  await inLabOk(server, lab.id, 'git -C tp-datalab remote add origin "$FORGE_URL/tp-datalab.git"');
  await expectFailing('cloned', { fr: '~/work/tp-datalab ne contient encore aucun commit.', en: '~/work/tp-datalab holds no commit yet.' });
  // A repository of the learner's own, other than tp-datalab, cloned under the expected name.
  await inLabOk(server, lab.id, 'rm -rf tp-datalab && git init -q autre && cd autre && echo x > x && git add x && git commit -qm x && git push -q "$FORGE_URL/autre.git" HEAD:main && cd .. && git clone -q "$FORGE_URL/autre.git" tp-datalab');
  await expectFailing('cloned', { fr: '~/work/tp-datalab vient d\'une autre adresse que votre dépôt tp-datalab.', en: '~/work/tp-datalab comes from another address than your repository tp-datalab.' });
  await inLabOk(server, lab.id, 'git -C tp-datalab remote set-url origin "$FORGE_URL/tp-datalab.git"');
  await expectFailing('cloned', {
    fr: "Le commit de ~/work/tp-datalab n'existe pas dans votre dépôt tp-datalab sur la forge.",
    en: 'The commit of ~/work/tp-datalab is not in your repository tp-datalab on the forge.',
  });
  await inLabOk(server, lab.id, 'rm -rf tp-datalab autre');
  assert.equal(await inTerminal('cd ~/work && git clone "$FORGE_URL/tp-datalab.git"', 'clone'), 0);
  await expectPassing('cloned');
});

test('/learner refuses sockets without a valid learner cookie', async () => {
  await assert.rejects(connectLearnerEvents(server.url, undefined), /unauthorized/);
  await assert.rejects(connectLearnerEvents(server.url, 'atelier_learner=uforged.bad-signature'), /unauthorized/);
  events = await connectLearnerEvents(server.url, learner.cookie);
  bystander = await connectLearnerEvents(server.url, (await newLearner(false)).cookie);
});

test('/learner accepts every valid learner cookie, also one whose signature holds a "+"', async () => {
  // The cookie, exactly as the server set it and as a browser sends it back.
  const client = await newLearner(true);
  const id = (await client.me()).learner.id;
  const api = await client.api('/api/me');
  assert.equal(api.body.learner.id, id, 'the HTTP API accepts this cookie');
  assert.equal(api.setCookie, undefined);
  // KNOWN BUG (server/learners/auto-checks.ts, cookieValue): the cookie header is parsed with
  // node:querystring's parse(header, '; '), which decodes '+' as a space, so the signature no
  // longer verifies and about half of all learners never hear their steps tick.
  const socket = await connectLearnerEvents(server.url, client.cookie).catch((error: Error) => error);
  if (socket instanceof Error) assert.fail(`refused (${socket.message}) a valid learner cookie: ${client.cookie}`);
  socket.close();
});

test('pushed: another branch and an empty analyse.py fail; the real push ticks by itself (passed over /learner within 2 s), and the check passes', async () => {
  assert.ok(events, 'needs the learner socket');
  await inLabOk(server, lab.id, 'cd tp-datalab && git switch -q -c brouillon && printf "from ex0 import moyenne\\n" > analyse.py && git add analyse.py && git commit -qm brouillon && git push -q origin brouillon && git switch -q main');
  await expectFailing('pushed', {
    fr: 'Pas encore de analyse.py sur la branche principale de tp-datalab, sur la forge : le commit est-il poussé ?',
    en: 'No analysis.py on the main branch of tp-datalab on the forge yet: was the commit pushed?',
  });
  await inLabOk(server, lab.id, 'cd tp-datalab && touch analyse.py && git add analyse.py && git commit -qm vide && git push -q');
  await expectFailing('pushed', {
    fr: "analyse.py est sur la forge, mais son contenu ne correspond pas à la consigne.",
    en: 'No analysis.py on the main branch of tp-datalab on the forge yet: was the commit pushed?',
  });
  const before = Date.now();
  const status = await inTerminal(
    'cd ~/work/tp-datalab && printf "from ex0 import moyenne\\nprint(moyenne([1, 2]))\\n" > analyse.py && git add analyse.py && git commit -q -m "Analyse" && git push -q',
    'push',
  );
  assert.equal(status, 0, 'git push succeeded');
  const event = await events.waitFor((passed) => passed.check === 'pushed', 2_000, before);
  // `lab` names the lab definition, as in POST /api/labs { lab } (pages know that, not the session id).
  assert.deepEqual({ lab: event.lab, check: event.check }, { lab: labId, check: 'pushed' });
  await expectPassing('pushed');
  assert.deepEqual(bystander?.passed, [], "another learner's page hears nothing");
});

test('s3-downloaded: a file whose first line looks right, or a part of the shared file, fails; `mc cp` of the shared communes.csv passes', async () => {
  const differs = { fr: "~/work/communes.csv est là, mais ce n'est pas une copie de diffusion/tp-datalab/communes.csv : son contenu diffère.", en: '~/work/communes.csv is there, but it is not a copy of diffusion/tp-datalab/communes.csv: its content differs.' };
  await inLabOk(server, lab.id, 'printf "code_commune,nom\\n" > communes.csv');
  await expectFailing('s3-downloaded', differs);
  await inLabOk(server, lab.id, 'mc cp -q s3/atelier/diffusion/tp-datalab/communes.csv /tmp/c.csv && head -n 3 /tmp/c.csv > communes.csv');
  await expectFailing('s3-downloaded', differs);
  await inLabOk(server, lab.id, 'ln -sf /tmp/c.csv communes.csv');
  await expectFailing('s3-downloaded', { fr: '~/work/communes.csv renvoie hors de votre dossier personnel.', en: '~/work/communes.csv leads outside your home folder.' });
  await inLabOk(server, lab.id, 'rm communes.csv');
  const mc = await inLab(server, lab.id, 'command -v mc');
  assert.equal(mc.code, 0, 'mc is not installed in the lab (DESIGN.md: every lab shell gets "a working mc")');
  await inLabOk(server, lab.id, 'mc cp s3/atelier/diffusion/tp-datalab/communes.csv ~/work/communes.csv');
  assert.equal((await inLabOk(server, lab.id, 'cat ~/work/communes.csv')).stdout, communes);
  await expectPassing('s3-downloaded');
});

test('s3-uploaded: an empty object or another CSV fails; the computed resultats.csv, uploaded with `mc cp`, ticks by itself and passes', async () => {
  assert.ok(events, 'needs the learner socket');
  await upload('tp/resultats.csv', '');
  await expectFailing('s3-uploaded', { fr: "L'objet tp/resultats.csv de votre bucket est vide.", en: 'No object tp/results.csv in your bucket yet.' });
  await inLabOk(server, lab.id, 'mc cp -q ~/work/communes.csv "s3/$AWS_BUCKET/tp/resultats.csv"');
  await expectFailing('s3-uploaded', { fr: "L'objet tp/resultats.csv est là, mais son contenu ne correspond pas à la consigne.", en: 'No object tp/results.csv in your bucket yet.' });
  const before = Date.now();
  await inLabOk(
    server,
    lab.id,
    `echo "departement,population" > resultats.csv && awk -F, 'NR > 1 { pop[$3] += $4 } END { for (d in pop) print d "," pop[d] }' communes.csv | sort >> resultats.csv && mc cp ~/work/resultats.csv "s3/$AWS_BUCKET/tp/resultats.csv"`,
  );
  const event = await events.waitFor((passed) => passed.check === 's3-uploaded', 2_000, before);
  assert.deepEqual({ lab: event.lab, check: event.check }, { lab: labId, check: 's3-uploaded' });
  await expectPassing('s3-uploaded');
  assert.deepEqual(bystander?.passed, [], "another learner's page hears nothing");
});

test('s3-shared: another file under diffusion/resultats.csv fails; a copy of tp/resultats.csv passes', async () => {
  await upload('diffusion/resultats.csv', 'departement,population\\n35,1\\n');
  await expectFailing('s3-shared', {
    fr: "L'objet diffusion/resultats.csv est là, mais son contenu diffère de tp/resultats.csv.",
    en: 'No object diffusion/results.csv in your bucket yet.',
  });
  await inLabOk(server, lab.id, 'mc cp "s3/$AWS_BUCKET/tp/resultats.csv" "s3/$AWS_BUCKET/diffusion/resultats.csv"');
  await expectPassing('s3-shared');
});

test('notebooks: the launch and S3 pages’ cells saved but not run fail; run by a real kernel they pass, reading s3:// and writing to the bucket', async () => {
  await notebookInLab('premier.ipynb', pythonCells('fr', 'launch'), false);
  await expectFailing('notebook-function', {
    fr: "premier.ipynb n'a encore aucune cellule exécutée : exécutez ses cellules, puis enregistrez-le (Ctrl+S).",
    en: 'premier.ipynb has no executed cell yet: run its cells, then save it (Ctrl+S).',
  });
  await notebookInLab('premier.ipynb', pythonCells('fr', 'launch'));
  await expectPassing('notebook-function', 'passes');
  // The shortcut: pandas on the local copy, not on S3.
  await notebookInLab('S3.ipynb', ['import pandas as pd\ncommunes = pd.read_csv("communes.csv")\ncommunes.head()']);
  await expectFailing('notebook-read-shared', {
    fr: 'Vos 2 notebooks ont 2 cellules exécutées, mais aucune ne lit s3://atelier/diffusion/tp-datalab/communes.csv avec pandas.',
    en: 'Your 2 notebooks have 2 executed cells, none of which reads s3://atelier/diffusion/tp-datalab/communes.csv with pandas.',
  });
  await notebookInLab('S3.ipynb', pythonCells('fr', 's3'));
  await expectPassing('notebook-read-shared', 'passes');
  await expectPassing('notebook-s3fs', 'passes');
  await expectPassing('notebook-wrote-result');
  // The English page's cells write the English page's key.
  await notebookInLab('S3-en.ipynb', pythonCells('en', 's3'));
  const english = await runCheck('notebook-wrote-result', 'en');
  assert.equal(english.ok, true, english.message);
  // Without the secret group, the secrets page's cell ends with a KeyError, which the check names.
  await notebookInLab('secrets.ipynb', pythonCells('fr', 'secrets'));
  await expectFailing('notebook-secret', {
    fr: "Dans secrets.ipynb, la cellule de cette étape s'est exécutée mais a fini sur une erreur (KeyError: 'PATATE_TOKEN').",
    en: "In secrets.ipynb, the cell for this step ran but ended with an error (KeyError: 'PATATE_TOKEN').",
  });
});

test('secret-injected: an export in ~/.profile, a group without the variable, a value changed after the launch fail; the launch group passes', async () => {
  await inLabOk(server, lab.id, `echo 'export PATATE_TOKEN=123456' >> ~/.profile && echo 'export PATATE_TOKEN=123456' >> ~/.bashrc`);
  await expectFailing('secret-injected');
  assert.equal((await learner.api('/api/me/secrets/projet_patate', { method: 'PUT', body: { vars: { PATATE_PORT: '5236' } } })).status, 200);
  await relaunch({ secrets: 'projet_patate' });
  await expectFailing('secret-injected', {
    fr: 'Votre groupe de secrets projet_patate ne contient pas de variable PATATE_TOKEN.',
    en: 'Your secret group projet_patate has no variable POTATO_TOKEN.',
  });
  assert.equal((await learner.api('/api/me/secrets/projet_patate', { method: 'PUT', body: { vars: { PATATE_TOKEN: '123456', PATATE_PORT: '5236' } } })).status, 200);
  await expectFailing('secret-injected', {
    fr: 'PATATE_TOKEN ne correspond pas à votre groupe projet_patate dans ce service : il a été lancé avant votre dernière modification.',
    en: 'Your secret group projet_patate has no variable POTATO_TOKEN.',
  });
  await relaunch({ secrets: 'projet_patate' });
  await expectPassing('secret-injected');
});

test('notebook-secret: in the service launched with the group, the secrets page’s cell passes, in both pages’ names', async () => {
  await notebookInLab('secrets.ipynb', pythonCells('fr', 'secrets'));
  await expectPassing('notebook-secret', 'passes');
  await notebookInLab('secrets.ipynb', pythonCells('en', 'secrets'));
  const english = await runCheck('notebook-secret', 'en');
  assert.equal(english.ok, false, 'the English cell reads POTATO_TOKEN, which the French group lacks');
  assert.equal(english.found, "In secrets.ipynb, the cell for this step ran but ended with an error (KeyError: 'POTATO_TOKEN').");
});

test('every check of lab.yaml was seen failing (fr and en) and passing', () => {
  const all = Object.keys(checks).sort();
  assert.deepEqual([...seenFailing].sort(), all, 'seen failing');
  assert.deepEqual([...seenPassing].sort(), all, 'seen passing');
});
