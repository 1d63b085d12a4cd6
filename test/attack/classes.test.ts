/**
 * Attacks on classes (a real server, memory driver): another trainer's class is 404 on every
 * route; learners and visitors calling trainer routes, and forged or stale trainer cookies, are
 * refused; trainer sign-in and join codes are rate limited per address (brute force); display
 * names carrying markup, control and bidi characters are stored cleaned and leave as JSON text and
 * CSV quoted against formulas; message floods, oversize inputs and too many live streams are
 * refused; a learner's API never shows another member.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { LearnerClient } from '../helpers/learner.ts';
import { classServer, signInTrainer, trainerToken } from '../helpers/classes.ts';
import { openSse } from '../helpers/sse.ts';
import { SqlClassStore } from '../../server/classes/sql-store.ts';
import { limits } from '../../server/http/classes.ts';

const fixture = classServer();

const newClass = async (trainer: LearnerClient, title = 'A') =>
  (await trainer.api('/api/trainer/classes', { method: 'POST', body: { course: '/tp/', title, startsAt: 1, endsAt: Date.now() + 3600_000 } })).body as { id: string; joinCode: string };

test("another trainer's class is not found, on every trainer route", async () => {
  const store = SqlClassStore.sqlite(join(fixture.server.config.dataDir, 'learners.db'));
  const theirs = await store.create({ trainerId: 'token-0000000000000000', course: '/tp/', title: 'Theirs', startsAt: 1, endsAt: 2 });
  await store.close();
  const trainer = await signInTrainer(fixture.server.url);
  const base = `/api/trainer/classes/${theirs.id}`;
  for (const [method, path, body] of [
    ['GET', base],
    ['GET', `${base}/snapshot`],
    ['GET', `${base}/events`],
    ['GET', `${base}/export.csv`],
    ['POST', `${base}/close`],
    ['POST', `${base}/messages`, { text: 'hi' }],
    ['POST', `${base}/members/AAAAAAAAAAAAAAAA/extend`],
    ['DELETE', `${base}/members/AAAAAAAAAAAAAAAA/lab`],
  ] as const) {
    const response = await trainer.api(path, { method, ...(body ? { body } : {}) });
    assert.equal(response.status, 404, `${method} ${path}`);
  }
  assert.ok(!(await trainer.api('/api/trainer/classes')).body.classes.some((c: { id: string }) => c.id === theirs.id));
});

test('learners, visitors and forged or foreign cookies get nothing from trainer routes', async () => {
  const trainer = await signInTrainer(fixture.server.url);
  const group = await newClass(trainer);
  const learner = new LearnerClient(fixture.server.url);
  await learner.me();
  const forged = [
    undefined,
    learner.cookie,
    // The learner's own signed cookie value under the trainer cookie's name.
    learner.cookie!.replace('atelier_learner=', 'atelier_trainer='),
    'atelier_trainer=token-0000000000000000.99999999999999',
    trainer.cookie!.replace(/\.[^.;]+$/, '.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
  ];
  for (const cookie of forged) {
    for (const path of ['/api/trainer/classes', `/api/trainer/classes/${group.id}/snapshot`, '/api/trainer/courses']) {
      const response = await new LearnerClient(fixture.server.url, cookie).api(path);
      assert.equal(response.status, 401, `${cookie} ${path}`);
    }
  }
});

test('display names: markup stays text, control and bidi characters go, length bounded; CSV cells never formulas', async () => {
  const trainer = await signInTrainer(fixture.server.url);
  const group = await newClass(trainer, 'Names');
  const names = ['<img src=x onerror=alert(1)>', 'Zoé\u202e\u0007 Ümit\u0000', '+SUM(A1:A9)', '-2+3', '@cmd', '李小龍 🧑‍💻'];
  for (const name of names) {
    const join = await new LearnerClient(fixture.server.url).api('/api/classes/join', { method: 'POST', body: { code: group.joinCode, name } });
    assert.equal(join.status, 200, join.text);
  }
  const long = await new LearnerClient(fixture.server.url).api('/api/classes/join', { method: 'POST', body: { code: group.joinCode, name: 'x'.repeat(limits.displayName + 1) } });
  assert.equal(long.status, 400);
  const blank = await new LearnerClient(fixture.server.url).api('/api/classes/join', { method: 'POST', body: { code: group.joinCode, name: '\u202e\u0001 ' } });
  assert.equal(blank.status, 400);
  const snapshot = await trainer.api(`/api/trainer/classes/${group.id}/snapshot`);
  const stored = snapshot.body.members.map((row: { name: string }) => row.name);
  assert.ok(stored.includes('<img src=x onerror=alert(1)>'), 'kept as text: the page writes it with textContent');
  assert.ok(stored.includes('Zoé Ümit'));
  assert.ok(stored.includes('李小龍 🧑‍💻'));
  assert.ok(stored.every((name: string) => !/[\u0000-\u001f\u202e]/.test(name)));
  assert.match(snapshot.headers.get('content-type') ?? '', /application\/json/);
  const csv = (await trainer.api(`/api/trainer/classes/${group.id}/export.csv`)).text;
  for (const cell of ['"\'+SUM(A1:A9)"', '"\'-2+3"', '"\'@cmd"']) assert.ok(csv.includes(cell), cell);
  assert.ok(!/(^|,)"[=+\-@]/m.test(csv), 'no cell starts with a formula character');
});

test('message floods and oversize inputs are refused', async () => {
  const trainer = await signInTrainer(fixture.server.url);
  const group = await newClass(trainer, 'Flood');
  await new LearnerClient(fixture.server.url).api('/api/classes/join', { method: 'POST', body: { code: group.joinCode, name: 'Ada' } });
  const statuses: number[] = [];
  for (let i = 0; i < limits.messagesPerMinute + 5; i += 1) {
    statuses.push((await trainer.api(`/api/trainer/classes/${group.id}/messages`, { method: 'POST', body: { text: `flood ${i}` } })).status);
  }
  assert.equal(statuses.filter((status) => status === 200).length, limits.messagesPerMinute);
  assert.equal(statuses.filter((status) => status === 429).length, 5);
  const long = await trainer.api(`/api/trainer/classes/${group.id}/messages`, { method: 'POST', body: { text: 'x'.repeat(limits.message + 1) } });
  assert.equal(long.status, 400);
  const huge = await trainer.api('/api/trainer/classes', { method: 'POST', body: { course: '/tp/', title: 'x'.repeat(70_000), startsAt: 1, endsAt: 2 } });
  assert.equal(huge.status, 413);
  const title = await trainer.api('/api/trainer/classes', { method: 'POST', body: { course: '/tp/', title: 'x'.repeat(limits.title + 1), startsAt: 1, endsAt: 2 } });
  assert.equal(title.status, 400);
  const extra = await trainer.api('/api/trainer/classes', { method: 'POST', body: { course: '/tp/', title: 'ok', startsAt: 1, endsAt: 2, trainerId: 'someone-else' } });
  assert.equal(extra.status, 400, 'unknown fields are refused, not taken');
});

test("a learner's API never shows another member", async () => {
  const trainer = await signInTrainer(fixture.server.url);
  const group = await newClass(trainer, 'Private');
  const ada = new LearnerClient(fixture.server.url);
  await ada.api('/api/classes/join', { method: 'POST', body: { code: group.joinCode, name: 'Ada' } });
  await new LearnerClient(fixture.server.url).api('/api/classes/join', { method: 'POST', body: { code: group.joinCode, name: 'Secret Bob' } });
  for (const path of ['/api/classes/mine', '/api/classes/mine/messages', '/api/me']) {
    const response = await ada.api(path);
    assert.ok(!response.text.includes('Secret Bob'), path);
  }
});

test('live views are bounded per trainer, message streams per learner', async () => {
  const trainer = await signInTrainer(fixture.server.url);
  const group = await newClass(trainer, 'Views');
  const views = await Promise.all(Array.from({ length: limits.viewsPerTrainer }, () => openSse(fixture.server.url, `/api/trainer/classes/${group.id}/events`, trainer.cookie)));
  assert.deepEqual(views.map((view) => view.status), Array(limits.viewsPerTrainer).fill(200));
  const extra = await trainer.api(`/api/trainer/classes/${group.id}/events`);
  assert.equal(extra.status, 429);
  assert.equal(extra.body.error.code, 'too_many_class_views');
  for (const view of views) view.close();
  const ada = new LearnerClient(fixture.server.url);
  await ada.api('/api/classes/join', { method: 'POST', body: { code: group.joinCode, name: 'Ada' } });
  const inboxes = await Promise.all(Array.from({ length: limits.inboxesPerLearner }, () => openSse(fixture.server.url, '/api/classes/mine/messages/events', ada.cookie)));
  assert.ok(inboxes.every((inbox) => inbox.status === 200));
  assert.equal((await ada.api('/api/classes/mine/messages/events')).status, 429);
  for (const inbox of inboxes) inbox.close();
  // Closed streams give their places back.
  for (let waited = 0; waited < 5000; waited += 50) {
    const again = await openSse(fixture.server.url, `/api/trainer/classes/${group.id}/events`, trainer.cookie);
    again.close();
    if (again.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail('a closed view never gave its place back');
});

test('join codes cannot be brute-forced: wrong codes are limited per address', async () => {
  const client = new LearnerClient(fixture.server.url, undefined);
  let refused = 0;
  for (let i = 0; i < limits.joinAttempts + 5; i += 1) {
    const response = await client.api('/api/classes/join', { method: 'POST', body: { code: `AAAA${String(i).padStart(4, '3').replace(/[0-258]/g, '3')}`, name: 'Guess' } });
    if (response.status === 429) refused += 1;
    else assert.equal(response.status, 404);
  }
  assert.ok(refused >= 5, `${refused} refused`);
});

test('trainer sign-in is limited per address: a guesser is stopped, then even the right token waits', async () => {
  let refused = 0;
  for (let i = 0; i < 12; i += 1) {
    const response = await new LearnerClient(fixture.server.url).api('/api/trainer/session', { method: 'POST', body: { token: `guess-${i}` } });
    if (response.status === 429) refused += 1;
  }
  assert.ok(refused >= 2);
  const right = await new LearnerClient(fixture.server.url).api('/api/trainer/session', { method: 'POST', body: { token: trainerToken } });
  assert.equal(right.status, 429);
  assert.ok(Number(right.headers.get('retry-after')) > 0);
});
