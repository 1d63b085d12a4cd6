/**
 * Classes end to end on a real server (port 0, memory driver labs, real HTTP and SSE): a
 * trainer signs in with the token, creates a class on the test course, two learners join with
 * its code; the snapshot says each one's steps and current step; a check passing in a
 * learner's lab reaches the trainer's live stream as that member's row, a failing one with its
 * feedback (kept in the class store: a new stream shows it); the trainer extends and deletes a
 * member's lab, messages reach learners' docks live and stay until read; a learner leaving
 * leaves the live view; the CSV export.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testLabId } from '../helpers/server.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { tutorialPage } from '../helpers/progress.ts';
import { classServer, signInTrainer } from '../helpers/classes.ts';
import { openSse } from '../helpers/sse.ts';

const fixture = classServer();

async function newClass(trainer: LearnerClient, title = 'Groupe A') {
  const created = await trainer.api('/api/trainer/classes', { method: 'POST', body: { course: '/tp/', title, startsAt: Date.now(), endsAt: Date.now() + 3600_000 } });
  assert.equal(created.status, 201, created.text);
  return created.body as { id: string; joinCode: string; title: string };
}

async function joined(code: string, name: string): Promise<LearnerClient> {
  const learner = new LearnerClient(fixture.server.url);
  const join = await learner.api('/api/classes/join', { method: 'POST', body: { code, name } });
  assert.equal(join.status, 200, join.text);
  return learner;
}

test('trainer sign-in: a wrong token is refused, the right one sets a cookie that names the trainer; sign-out', async () => {
  const visitor = new LearnerClient(fixture.server.url);
  assert.equal((await visitor.api('/api/trainer/classes')).status, 401);
  const wrong = await visitor.api('/api/trainer/session', { method: 'POST', body: { token: 'not-it' } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error.code, 'trainer_token_invalid');
  const trainer = await signInTrainer(fixture.server.url);
  assert.match(trainer.cookie!, /atelier_trainer=/);
  const session = await trainer.api('/api/trainer/session');
  assert.match(session.body.trainer.id, /^token-[0-9a-f]{16}$/);
  assert.equal((await trainer.api('/api/trainer/classes')).status, 200);
  const out = await trainer.api('/api/trainer/session', { method: 'DELETE' });
  assert.equal(out.status, 204);
  assert.match(out.headers.get('set-cookie') ?? '', /atelier_trainer=;/);
});

test('courses, a class created on one, listed; a course the site lacks is refused', async () => {
  const trainer = await signInTrainer(fixture.server.url);
  const courses = await trainer.api('/api/trainer/courses');
  assert.deepEqual(courses.body.courses.map((course: { path: string }) => course.path), ['/tp/']);
  const group = await newClass(trainer, 'Listed');
  assert.match(group.joinCode, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  assert.ok((await trainer.api('/api/trainer/classes')).body.classes.some((c: { id: string }) => c.id === group.id));
  const bad = await trainer.api('/api/trainer/classes', { method: 'POST', body: { course: '/nope/', title: 'x', startsAt: 1, endsAt: 2 } });
  assert.equal(bad.status, 400);
});

test('snapshot, then live: a passed check and a failed one (with its feedback) reach the trainer\'s stream as the member\'s row', async () => {
  const trainer = await signInTrainer(fixture.server.url);
  const group = await newClass(trainer);
  const ada = await joined(group.joinCode.toLowerCase(), 'Ada');
  const bob = await joined(group.joinCode, 'Bob');
  await ada.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step: 'show-dir', done: true } });

  const snapshot = await trainer.api(`/api/trainer/classes/${group.id}/snapshot`, { lang: 'en' });
  assert.equal(snapshot.status, 200, snapshot.text);
  const rows = Object.fromEntries(snapshot.body.members.map((row: any) => [row.name, row]));
  assert.equal(rows.Ada.done, 1);
  assert.equal(rows.Ada.total, 4);
  assert.equal(rows.Ada.current.step, 'list-files');
  assert.equal(rows.Bob.done, 0);
  assert.equal(rows.Bob.current.step, 'show-dir');
  assert.ok(rows.Bob.current.since >= rows.Bob.joinedAt);
  assert.equal(rows.Ada.lab, null);
  for (const row of snapshot.body.members) assert.equal(JSON.stringify(row).includes('"u'), false, 'no learner id in the trainer\'s view');

  const stream = await openSse(fixture.server.url, `/api/trainer/classes/${group.id}/events`, trainer.cookie);
  assert.equal(stream.status, 200);
  await stream.next((event) => event.event === 'snapshot', 10_000);
  const lab = await ada.launch(testLabId);
  const passed = await ada.api(`/api/labs/${lab.id}/checks/always-ok`, { method: 'POST', token: lab.token });
  assert.equal(passed.body.ok, true, passed.text);
  const update = await stream.next((event) => event.event === 'members' && event.data.members.some((row: any) => row.name === 'Ada' && row.done === 2), 10_000);
  const adaRow = update.data.members.find((row: any) => row.name === 'Ada');
  assert.equal(adaRow.lab.session, lab.id);

  const failed = await ada.api(`/api/labs/${lab.id}/checks/made-dir`, { method: 'POST', token: lab.token, lang: 'en' });
  assert.equal(failed.body.ok, false);
  const failure = await stream.next((event) => event.event === 'members' && event.data.members.some((row: any) => row.failed.length > 0), 10_000);
  const row = failure.data.members.find((r: any) => r.name === 'Ada');
  assert.equal(row.failed[0].check, 'made-dir');
  assert.equal(row.failed[0].feedback, failed.body.message);
  assert.ok(!failure.data.members.some((r: any) => r.name === 'Bob'), 'only the member who changed is sent');
  stream.close();

  // Kept in the store: a new view shows it.
  const again = await trainer.api(`/api/trainer/classes/${group.id}/snapshot`);
  assert.equal(again.body.members.find((r: any) => r.name === 'Ada').failed[0].check, 'made-dir');

  // Trainer actions on Ada's lab.
  const extend = await trainer.api(`/api/trainer/classes/${group.id}/members/${adaRow.member}/extend`, { method: 'POST' });
  assert.equal(extend.status, 200, extend.text);
  assert.ok(extend.body.expiresAt > adaRow.lab.expiresAt);
  const del = await trainer.api(`/api/trainer/classes/${group.id}/members/${adaRow.member}/lab`, { method: 'DELETE' });
  assert.equal(del.status, 204, del.text);
  assert.equal(fixture.server.sessions.get(lab.id), undefined);
  assert.equal((await trainer.api(`/api/trainer/classes/${group.id}/members/${adaRow.member}/lab`, { method: 'DELETE' })).status, 404);
  void bob;
});

test('messages: to the class reach every member\'s open dock live, to one member only them; kept until read', async () => {
  const trainer = await signInTrainer(fixture.server.url);
  const group = await newClass(trainer, 'Messages');
  const ada = await joined(group.joinCode, 'Ada');
  const bob = await joined(group.joinCode, 'Bob');
  const dock = await openSse(fixture.server.url, '/api/classes/mine/messages/events', ada.cookie);
  assert.equal(dock.status, 200);
  const all = await trainer.api(`/api/trainer/classes/${group.id}/messages`, { method: 'POST', body: { text: 'Pause de 10 minutes' } });
  assert.deepEqual(all.body, { sent: 2 });
  const heard = await dock.next((event) => event.event === 'message', 10_000);
  assert.equal(heard.data.text, 'Pause de 10 minutes');
  const bobRow = (await trainer.api(`/api/trainer/classes/${group.id}/snapshot`)).body.members.find((r: any) => r.name === 'Bob');
  await trainer.api(`/api/trainer/classes/${group.id}/messages`, { method: 'POST', body: { text: 'Bob, regarde ta ligne 3', member: bobRow.member } });
  assert.deepEqual((await bob.api('/api/classes/mine/messages')).body.messages.map((m: any) => m.text), ['Pause de 10 minutes', 'Bob, regarde ta ligne 3']);
  assert.deepEqual((await ada.api('/api/classes/mine/messages')).body.messages.map((m: any) => m.text), ['Pause de 10 minutes']);
  const read = await ada.api(`/api/classes/mine/messages/${heard.data.id}/read`, { method: 'POST' });
  assert.equal(read.status, 204);
  assert.deepEqual((await ada.api('/api/classes/mine/messages')).body.messages, []);
  // Reopened, the dock gets only what is still unread.
  const bobDock = await openSse(fixture.server.url, '/api/classes/mine/messages/events', bob.cookie);
  await bobDock.next((event) => event.event === 'message' && event.data.text.startsWith('Bob'), 10_000);
  assert.equal(bobDock.events.length, 2);
  dock.close();
  bobDock.close();
});

test('a learner sees their own classes, leaves one; a closed class takes nobody; CSV export', async () => {
  const trainer = await signInTrainer(fixture.server.url);
  const group = await newClass(trainer, 'Export');
  const ada = await joined(group.joinCode, '=HYPERLINK("http://evil.example","x")');
  assert.deepEqual((await ada.api('/api/classes/mine')).body.classes.map((c: any) => c.title), ['Export']);
  const csv = await trainer.api(`/api/trainer/classes/${group.id}/export.csv`, { lang: 'en' });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
  assert.match(csv.text, /"'=HYPERLINK\(""http:\/\/evil.example"",""x""\)"/);
  assert.match(csv.text.split('\r\n')[0]!, /Name/);
  const stream = await openSse(fixture.server.url, `/api/trainer/classes/${group.id}/events`, trainer.cookie);
  const [row] = (await stream.next((event) => event.event === 'snapshot', 10_000)).data.members;
  assert.equal((await ada.api(`/api/classes/mine/${group.id}`, { method: 'DELETE' })).status, 204);
  assert.deepEqual((await ada.api('/api/classes/mine')).body.classes, []);
  assert.deepEqual((await stream.next((event) => event.event === 'removed', 10_000)).data.members, [row.member], 'the trainer\'s view drops the row');
  stream.close();
  await trainer.api(`/api/trainer/classes/${group.id}/close`, { method: 'POST' });
  const late = await new LearnerClient(fixture.server.url).api('/api/classes/join', { method: 'POST', body: { code: group.joinCode, name: 'Late' } });
  assert.equal(late.status, 409);
  assert.equal(late.body.error.code, 'class_closed');
});

test('a burst of changes across the class is coalesced: a few updates a second per view, the last one complete', async () => {
  const trainer = await signInTrainer(fixture.server.url);
  const group = await newClass(trainer, 'Burst');
  const learners = await Promise.all(['A', 'B', 'C', 'D', 'E'].map((name) => joined(group.joinCode, name)));
  const stream = await openSse(fixture.server.url, `/api/trainer/classes/${group.id}/events`, trainer.cookie);
  await stream.next((event) => event.event === 'snapshot' && event.data.members.length === 5, 10_000);
  const started = Date.now();
  await Promise.all(
    learners.flatMap((learner) => ['show-dir', 'list-files'].map((step) => learner.api('/api/progress', { method: 'PUT', body: { page: tutorialPage, step, done: true } }))),
  );
  const done = new Map<string, number>();
  await stream.next((event) => {
    if (event.event === 'members') for (const row of event.data.members) done.set(row.name, row.done);
    return done.size === 5 && [...done.values()].every((count) => count === 2);
  }, 10_000);
  const updates = stream.events.filter((event) => event.event === 'members').length;
  const seconds = (Date.now() - started) / 1000;
  assert.ok(updates <= Math.ceil(seconds * 4) + 1, `${updates} updates in ${seconds} s for 10 changes`);
  stream.close();
});

test('a class that ends before it starts is refused in the trainer\'s language, naming the field', async () => {
  const trainer = await signInTrainer(fixture.server.url);
  for (const [lang, words] of [['fr', 'la fin doit venir après le début'], ['en', 'the end must come after the start']] as const) {
    const refused = await trainer.api('/api/trainer/classes', { method: 'POST', lang, body: { course: '/tp/', title: 'À l\'envers', startsAt: 2_000, endsAt: 1_000 } });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.body.error.field, 'endsAt');
    assert.ok(refused.body.error.message.includes(words), refused.body.error.message);
  }
});
