/**
 * Two kinds of state, kept apart as a datalab keeps them: the lab workspace dies with the lab;
 * the learner's data (forge repositories, S3 bucket, git settings and token, secrets, identity)
 * survives deleting the lab AND restarting the server on the same data directory.
 * Everything happens for real: the learner works from inside the lab (driver.exec as the lab
 * user, through the lab's gateway to the forge and S3), with git and mc as the tutorial says.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { LearnerClient, inLab, inLabOk, repoLabsDir } from '../helpers/learner.ts';

const lab = 'datalab-discovery';
const dataDir = mkdtempSync(join(tmpdir(), 'atelier-durability-'));
const servers: TestServer[] = [];

async function start(): Promise<TestServer> {
  const server = await startTestServer({ config: { labsDir: repoLabsDir, dataDir } });
  servers.push(server);
  return server;
}

after(async () => {
  for (const server of servers) await server.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

/** What the steps below share (node:test runs a file's top-level tests in order). */
const stamp = randomBytes(6).toString('hex');
const secret = `s3cret-${stamp}`;
const csv = `code,valeur\n${stamp},42\n`;
let first: TestServer;
let second: TestServer;
let learner: LearnerClient;
let learnerId: string;
let token: string;
let labA: string;
let labB: string;
let commit: string | undefined;

test('first server: git settings, a token and a secret group saved; a lab launched with them', async () => {
  first = await start();
  learner = new LearnerClient(first.url);
  learnerId = (await learner.me()).learner.id;
  assert.equal((await learner.api('/api/me/git', { method: 'PUT', body: { name: 'Grace Hopper', email: 'grace@example.org' } })).status, 200);
  const tokenResponse = await learner.api('/api/me/git/token', { method: 'POST' });
  assert.equal(tokenResponse.status, 200);
  token = tokenResponse.body.token;
  assert.equal((await learner.api('/api/me/secrets/tp', { method: 'PUT', body: { vars: { MA_CLE: secret } } })).status, 200);
  assert.ok(learner.cookie);

  const started = await learner.launch(lab, { secrets: 'tp' });
  assert.equal(started.status, 'running');
  labA = started.id;
  // The workspace gets a file that must die with the lab.
  await inLabOk(first, labA, 'echo ephemeral > ~/work/mon-fichier.txt && test -s ~/work/mon-fichier.txt');
});

test('inside the lab: git clone $FORGE_URL/tp-datalab.git, commit, git push', async () => {
  assert.ok(labA, 'needs the first lab');
  // As the tutorial says; the token is already configured by the launch.
  const pushed = await inLabOk(
    first,
    labA,
    [
      'git clone --quiet "$FORGE_URL/tp-datalab.git"',
      'cd tp-datalab',
      `printf 'print("${stamp}")\\n' > analyse.py`,
      'git add analyse.py',
      `git commit --quiet -m "analyse ${stamp}"`,
      'git push --quiet 2>&1',
      'git rev-parse HEAD',
    ].join(' && '),
  );
  const head = pushed.stdout.trim().split('\n').at(-1)!;
  assert.match(head, /^[0-9a-f]{40}$/);
  commit = head;
  const log = await learner.api('/api/me/repos/tp-datalab/log');
  assert.equal(log.body.commits[0].sha, commit, 'the forge has it');
});

test('inside the lab: mc cp a file to s3/$AWS_BUCKET/tp/x.csv', async () => {
  assert.ok(labA, 'needs the first lab');
  const mc = await inLab(first, labA, 'command -v mc');
  assert.equal(mc.code, 0, `mc is not installed in the lab (DESIGN.md: every lab shell gets "a working mc"); PATH=${(await inLab(first, labA, 'echo $PATH')).stdout.trim()}`);
  await inLabOk(first, labA, `printf '%s' '${csv}' > ~/work/x.csv && mc cp ~/work/x.csv "s3/$AWS_BUCKET/tp/x.csv"`);
  assert.equal((await inLabOk(first, labA, 'mc cat "s3/$AWS_BUCKET/tp/x.csv"')).stdout, csv);
});

test('DELETE the lab, close the server, start a new one on the same data dir: the same learner, settings and secrets', async () => {
  assert.ok(labA, 'needs the first lab');
  await learner.deleteLab(labA);
  assert.equal(first.sessions.get(labA), undefined);
  await first.close();

  second = await start();
  assert.notEqual(second.url, first.url, 'a new server (new port)');
  learner.url = second.url; // the same browser: same cookie
  const me = await learner.api('/api/me');
  assert.equal(me.status, 200);
  assert.equal(me.body.learner.id, learnerId, 'the same learner');
  assert.equal(me.setCookie, undefined, 'the cookie is still valid: no new learner');
  assert.deepEqual({ name: me.body.git.name, email: me.body.git.email }, { name: 'Grace Hopper', email: 'grace@example.org' });
  assert.equal(me.body.git.forgeUrl, `${second.url}/git/${learnerId}`);
  assert.equal(me.body.git.hasToken, true);
  assert.equal(me.body.s3.bucket, learnerId);
  const secrets = await learner.api('/api/me/secrets');
  assert.deepEqual(secrets.body.groups.map((group: { group: string; names: string[] }) => [group.group, group.names]), [['tp', ['MA_CLE']]]);
  // The token still opens the forge from outside.
  const refs = await fetch(`${second.url}/git/${learnerId}/tp-datalab.git/info/refs?service=git-upload-pack`, {
    headers: { authorization: `Basic ${Buffer.from(`${learnerId}:${token}`).toString('base64')}` },
  });
  await refs.arrayBuffer();
  assert.equal(refs.status, 200);
});

test('a new lab after the restart: a fresh workspace, with the same settings, token and secrets', async () => {
  assert.ok(second, 'needs the restarted server');
  const started = await learner.launch(lab, { secrets: 'tp' });
  assert.equal(started.status, 'running');
  labB = started.id;
  assert.notEqual(labB, labA);
  const workspace = await inLabOk(second, labB, 'ls -A ~/work');
  assert.equal(workspace.stdout.trim(), '', `an empty workspace, found: ${workspace.stdout.trim()}`);
  assert.notEqual((await inLab(second, labB, 'test -e ~/work/mon-fichier.txt')).code, 0, 'mon-fichier.txt is gone');
  const env = await inLabOk(second, labB, 'printf "%s|%s|%s|%s" "$GIT_USER_NAME" "$GIT_USER_MAIL" "$GIT_PERSONAL_ACCESS_TOKEN" "$MA_CLE"');
  assert.equal(env.stdout, `Grace Hopper|grace@example.org|${token}|${secret}`);
});

test('the repository kept the commit: cloned again inside the new lab', async () => {
  assert.ok(labB, 'needs the new lab');
  assert.ok(commit, 'needs the push of the first lab');
  const log = await learner.api('/api/me/repos/tp-datalab/log');
  assert.equal(log.status, 200);
  assert.equal(log.body.commits[0].sha, commit);
  assert.equal(log.body.commits[0].subject, `analyse ${stamp}`);
  assert.equal(log.body.commits[0].author, 'Grace Hopper');
  const clone = await inLabOk(
    second,
    labB,
    'git clone --quiet "$FORGE_URL/tp-datalab.git" && cd tp-datalab && git log -1 --format=%H%n%s%n%an && cat analyse.py',
  );
  assert.equal(clone.stdout, `${commit}\nanalyse ${stamp}\nGrace Hopper\nprint("${stamp}")\n`);
});

test('the object survived: listed in My files, and mc cat inside the new lab', async () => {
  assert.ok(labB, 'needs the new lab');
  const files = await learner.api('/api/me/files?prefix=tp/');
  assert.deepEqual(files.body.files.map((file: { key: string; size: number }) => [file.key, file.size]), [['tp/x.csv', Buffer.byteLength(csv)]]);
  const object = await inLabOk(second, labB, 'mc cat "s3/$AWS_BUCKET/tp/x.csv"');
  assert.equal(object.stdout, csv);
});
