/**
 * Attacks on step progress against a real server: a browser claiming a checked step (PUT or
 * slipped into a merge), another learner's or a forged cookie, a cross-site page writing
 * progress, a client growing the store without end (pages, steps, body), and a learner opening
 * streams in a loop.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { maxProgressPages } from '../../server/learners/progress.ts';
import { LearnerClient, learnerCookie } from '../helpers/learner.ts';
import { checkedSteps, manualSteps, openProgressStream, progressServer, tutorialPage } from '../helpers/progress.ts';

const fixture = progressServer(maxProgressPages + 5);
const newLearner = () => fixture.newLearner();

const stepsOf = async (client: LearnerClient): Promise<string[]> => (await client.api(`/api/progress?page=${encodeURIComponent(tutorialPage)}`)).body.steps;

test('a browser cannot tick a checked step: PUT is refused (403, says to press Check), a merge carrying it stores nothing of it', async () => {
  const learner = await newLearner();
  for (const step of checkedSteps) {
    const put = await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step, done: true }, lang: 'en' });
    assert.equal(put.status, 403, put.text);
    assert.equal(put.body.error.code, 'step_checked');
    assert.match(put.body.error.message, /press Check/);
  }
  const merged = await learner.api('/api/progress', { method: 'POST', body: { page: tutorialPage, steps: Object.fromEntries(checkedSteps.map((step) => [step, true])) } });
  assert.equal(merged.status, 200);
  assert.deepEqual(await stepsOf(learner), []);
});

test('progress is the cookie owner\'s only: another learner sees nothing, a forged or unsigned cookie is no learner', async () => {
  const owner = await newLearner();
  await owner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: manualSteps[0], done: true } });
  const other = await newLearner();
  assert.deepEqual(await stepsOf(other), []);

  // The cookie is `<learner id>.<signature>`.
  const id = /=([^.;]+)\./.exec(owner.cookie!)?.[1];
  assert.ok(id, owner.cookie);
  for (const cookie of [`${learnerCookie}=${id}`, `${learnerCookie}=${id}.forged`]) {
    const forged = new LearnerClient(fixture.server.url, cookie);
    assert.deepEqual((await forged.api('/api/progress')).body, { learner: false, pages: {} });
    assert.equal((await forged.api('/api/progress/events')).status, 401);
    // A write with it acts for a brand-new learner, never for the owner.
    await forged.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: manualSteps[1], done: true } });
  }
  assert.deepEqual(await stepsOf(owner), [manualSteps[0]]);
});

test('another site cannot write a learner\'s progress (Origin checked)', async () => {
  const learner = await newLearner();
  const response = await learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: manualSteps[0], done: true }, headers: { origin: 'http://evil.example' } });
  assert.equal(response.status, 403);
  assert.deepEqual(await stepsOf(learner), []);
});

test(`the store cannot be grown without end: ${maxProgressPages} pages per learner, then a localized refusal; unknown pages and oversized merges refused`, async () => {
  const learner = await newLearner();
  for (let i = 0; i < maxProgressPages; i += 1) {
    const response = await learner.api('/api/progress', { method: 'PUT', body: { page: `/extra/p${i}/`, step: 'read', done: true } });
    assert.equal(response.status, 200, response.text);
  }
  const beyond = await learner.api('/api/progress', { method: 'PUT', body: { page: `/extra/p${maxProgressPages}/`, step: 'read', done: true }, lang: 'fr' });
  assert.equal(beyond.status, 409);
  assert.equal(beyond.body.error.code, 'too_many_progress_pages');
  assert.match(beyond.body.error.message, new RegExp(`${maxProgressPages} pages`));
  // Pages already held still change; un-ticking needs no room.
  assert.equal((await learner.api('/api/progress', { method: 'PUT', body: { page: '/extra/p0/', step: 'read', done: false } })).status, 200);
  assert.equal(Object.keys((await learner.api('/api/progress')).body.pages).length, maxProgressPages - 1);

  const invented = await learner.api('/api/progress', { method: 'PUT', body: { page: '/made/up/', step: 'read', done: true } });
  assert.equal(invented.status, 404);
  const huge = await learner.api('/api/progress', { method: 'POST', body: { page: tutorialPage, steps: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`s${i}`, true])) } });
  assert.equal(huge.status, 400);
  const body = await learner.api('/api/progress', { method: 'POST', raw: JSON.stringify({ page: tutorialPage, steps: { [manualSteps[0]!]: true }, pad: 'x'.repeat(70_000) }), headers: { 'content-type': 'application/json' } });
  assert.equal(body.status, 413);
});

test('streams opened in a loop: at most 8 per learner stay open, the rest are refused at once', async () => {
  const learner = await newLearner();
  const attempts = await Promise.all(Array.from({ length: 30 }, () => openProgressStream(fixture.server.port, learner.cookie)));
  try {
    assert.equal(attempts.filter((stream) => stream.status === 200).length, 8);
    assert.equal(attempts.filter((stream) => stream.status === 429).length, 22);
  } finally {
    for (const stream of attempts) stream.close();
  }
});
