/**
 * Step progress kept by the server against a real server (port 0), a real sandbox and real HTTP
 * streams: manual steps set and merged from what a browser held, checked steps ticked by the
 * server when their check passes, and every change streamed live (SSE) to the learner's other
 * devices within a second.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { testLabId } from '../helpers/server.ts';
import { LearnerClient, inLabOk } from '../helpers/learner.ts';
import { openProgressStream, progressServer, tutorialPage, type ProgressStream } from '../helpers/progress.ts';

const fixture = progressServer();
const newLearner = () => fixture.newLearner();

test('GET /api/progress without a learner: nothing, and no learner is created for it', async () => {
  const visitor = new LearnerClient(fixture.server.url);
  const page = await visitor.api(`/api/progress?page=${encodeURIComponent(tutorialPage)}`);
  assert.equal(page.status, 200);
  assert.deepEqual(page.body, { learner: false, page: tutorialPage, steps: [] });
  assert.equal(page.setCookie, undefined);
  const all = await visitor.api('/api/progress');
  assert.deepEqual(all.body, { learner: false, pages: {} });
});

test('PUT a manual step, then un-tick it; GET the page and every page; the store keeps it across clients with the cookie', async () => {
  const learner = await newLearner();
  const put = await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'show-dir', done: true } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.body, { learner: true, page: tutorialPage, steps: ['show-dir'] });

  const otherDevice = new LearnerClient(fixture.server.url, learner.cookie);
  assert.deepEqual((await otherDevice.api(`/api/progress?page=${encodeURIComponent(tutorialPage)}`)).body.steps, ['show-dir']);
  assert.deepEqual((await otherDevice.api('/api/progress')).body.pages, { [tutorialPage]: ['show-dir'] });

  const undo = await otherDevice.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'show-dir', done: false } });
  assert.deepEqual(undo.body.steps, []);
  assert.deepEqual((await learner.api('/api/progress')).body.pages, {});
});

test('POST merges what a browser held: its ticks and explicit un-ticks of manual steps apply, what the server has stays, checked steps are ignored', async () => {
  const learner = await newLearner();
  await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'list-files', done: true } });
  const merged = await learner.api('/api/progress', { method: 'POST', body: { page: tutorialPage, steps: { 'show-dir': true, 'made-dir': true } } });
  assert.equal(merged.status, 200, merged.text);
  assert.deepEqual([...merged.body.steps].sort(), ['list-files', 'show-dir']);

  const untick = await learner.api('/api/progress', { method: 'POST', body: { page: tutorialPage, steps: { 'list-files': false } } });
  assert.deepEqual(untick.body.steps, ['show-dir']);
});

test('a first merge from a browser with no cookie yet creates the learner and keeps its steps', async () => {
  const browser = new LearnerClient(fixture.server.url);
  const merged = await browser.api('/api/progress', { method: 'POST', body: { page: tutorialPage, steps: { 'show-dir': true } } });
  assert.equal(merged.status, 200, merged.text);
  assert.ok(merged.setCookie, 'a learner cookie');
  assert.deepEqual((await browser.api(`/api/progress?page=${encodeURIComponent(tutorialPage)}`)).body, { learner: true, page: tutorialPage, steps: ['show-dir'] });
});

test('bad input is refused in the caller\'s language: page keys, step ids, unknown pages and steps', async () => {
  const learner = await newLearner();
  const cases: [unknown, number, string][] = [
    [{ page: '/tp/../secret/', step: 'show-dir', done: true }, 400, 'bad_request'],
    [{ page: 'tp/demo/', step: 'show-dir', done: true }, 400, 'bad_request'],
    [{ page: `/${'a'.repeat(200)}/`, step: 'show-dir', done: true }, 400, 'bad_request'],
    [{ page: tutorialPage, step: 'Show_Dir', done: true }, 400, 'bad_request'],
    [{ page: tutorialPage, step: 'show-dir', done: 'yes' }, 400, 'bad_request'],
    [{ page: '/tp/nowhere/', step: 'show-dir', done: true }, 404, 'unknown_page'],
    [{ page: tutorialPage, step: 'not-a-step', done: true }, 404, 'unknown_step'],
  ];
  for (const [body, status, code] of cases) {
    const response = await learner.api('/api/progress', { method: 'PUT', body, lang: 'fr' });
    assert.equal(response.status, status, `${JSON.stringify(body)}: ${response.text}`);
    assert.equal(response.body.error.code, code);
    assert.doesNotMatch(response.body.error.message, /at |Error:/);
  }
  const french = await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'not-a-step', done: true }, lang: 'fr' });
  assert.match(french.body.error.message, /n'a pas d'étape « not-a-step »/);
  const english = await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'not-a-step', done: true }, lang: 'en' });
  assert.match(english.body.error.message, /has no step "not-a-step"/);
  assert.equal((await learner.api('/api/progress?page=..%2F', { lang: 'fr' })).status, 400);
});

test('a step ticked on one device reaches the other device\'s stream within a second; other learners hear nothing', async () => {
  const learner = await newLearner();
  const stranger = await newLearner();
  const other = await openProgressStream(fixture.server.port, learner.cookie);
  const theirs = await openProgressStream(fixture.server.port, stranger.cookie);
  try {
    assert.equal(other.status, 200);
    const started = performance.now();
    await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'list-files', done: true } });
    await other.next((event) => event.step === 'list-files' && event.done, 1000);
    assert.ok(performance.now() - started < 1000);
    await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'list-files', done: false } });
    await other.next((event) => event.step === 'list-files' && !event.done, 1000);
    assert.deepEqual(theirs.events, []);
  } finally {
    other.close();
    theirs.close();
  }
});

test('the stream needs a learner; eight at once per learner, the ninth refused (429, localized) until one closes', async () => {
  assert.equal((await openProgressStream(fixture.server.port, undefined)).status, 401);
  const learner = await newLearner();
  const streams = await Promise.all(Array.from({ length: 8 }, () => openProgressStream(fixture.server.port, learner.cookie)));
  try {
    assert.deepEqual(streams.map((stream) => stream.status), Array(8).fill(200));
    const ninth = await learner.api('/api/progress/events', { lang: 'fr' });
    assert.equal(ninth.status, 429);
    assert.equal(ninth.body.error.code, 'too_many_progress_streams');
    assert.match(ninth.body.error.message, /au plus 8/);
    streams.pop()!.close();
    let again: ProgressStream | undefined;
    for (let i = 0; i < 50 && again?.status !== 200; i += 1) {
      again?.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
      again = await openProgressStream(fixture.server.port, learner.cookie);
    }
    assert.equal(again?.status, 200);
    streams.push(again!);
  } finally {
    for (const stream of streams) stream.close();
  }
});

test('a check passing in the real lab ticks its step on the server, for every device of the learner (stream), and only that step', async () => {
  const learner = await newLearner();
  const stream = await openProgressStream(fixture.server.port, learner.cookie);
  const lab = await learner.launch(testLabId);
  try {
    const failing = await learner.api(`/api/labs/${lab.id}/checks/made-dir`, { method: 'POST', token: lab.token });
    assert.equal(failing.body.ok, false);
    assert.deepEqual((await learner.api(`/api/progress?page=${encodeURIComponent(tutorialPage)}`)).body.steps, []);

    await inLabOk(fixture.server, lab.id, 'mkdir -p ~/work/mon-dossier');
    const passing = await learner.api(`/api/labs/${lab.id}/checks/made-dir`, { method: 'POST', token: lab.token });
    assert.equal(passing.body.ok, true, passing.text);
    assert.deepEqual(await stream.next((event) => event.step === 'made-dir', 1000), { page: tutorialPage, step: 'made-dir', done: true });
    const after = await learner.api(`/api/progress?page=${encodeURIComponent(tutorialPage)}`);
    assert.deepEqual(after.body.steps, ['made-dir']);
  } finally {
    stream.close();
    await learner.deleteLab(lab.id);
  }
});
