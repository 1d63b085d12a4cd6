/**
 * A class across two replicas on one real PostgreSQL (memory driver labs of one deployment):
 * the trainer's live view on replica B follows a learner who joins, passes and fails checks
 * through replica A (progress and activity on the bus, the outcome written once, by A); a
 * message sent through B reaches the learner's dock stream on A; the trainer cookie works on both.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { startReplicas } from '../helpers/replicas.ts';
import { testLabId } from '../helpers/server.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { signInTrainer, trainerToken } from '../helpers/classes.ts';
import { openSse } from '../helpers/sse.ts';

let postgres: TestPostgres;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres.stop();
});

test('the trainer\'s view on one replica follows a learner on the other; a message goes the other way', async (t) => {
  const replicas = await startReplicas(await postgres.database(), 2, { trainerToken: { value: trainerToken } });
  t.after(() => replicas.close());
  const [a, b] = replicas.servers as [(typeof replicas.servers)[0], (typeof replicas.servers)[0]];

  const trainerOnA = await signInTrainer(a.url);
  const trainerOnB = new LearnerClient(b.url, trainerOnA.cookie);
  const created = await trainerOnA.api('/api/trainer/classes', { method: 'POST', body: { course: '/tp/', title: 'Across', startsAt: 1, endsAt: Date.now() + 3600_000 } });
  assert.equal(created.status, 201, created.text);
  const group = created.body as { id: string; joinCode: string };

  const view = await openSse(b.url, `/api/trainer/classes/${group.id}/events`, trainerOnB.cookie);
  assert.equal(view.status, 200);
  await view.next((event) => event.event === 'snapshot' && event.data.members.length === 0, 10_000);

  const ada = new LearnerClient(a.url);
  assert.equal((await ada.api('/api/classes/join', { method: 'POST', body: { code: group.joinCode, name: 'Ada' } })).status, 200);
  await view.next((event) => event.event === 'members' && event.data.members.some((row: any) => row.name === 'Ada'), 10_000);

  const lab = await ada.launch(testLabId);
  const passed = await ada.api(`/api/labs/${lab.id}/checks/always-ok`, { method: 'POST', token: lab.token });
  assert.equal(passed.body.ok, true, passed.text);
  await view.next((event) => event.event === 'members' && event.data.members.some((row: any) => row.name === 'Ada' && row.done === 1), 10_000);
  const failed = await ada.api(`/api/labs/${lab.id}/checks/made-dir`, { method: 'POST', token: lab.token });
  assert.equal(failed.body.ok, false);
  const failure = await view.next((event) => event.event === 'members' && event.data.members.some((row: any) => row.failed.length === 1), 10_000);
  assert.equal(failure.data.members[0].failed[0].feedback, failed.body.message);
  view.close();

  const dock = await openSse(a.url, '/api/classes/mine/messages/events', ada.cookie);
  const sent = await trainerOnB.api(`/api/trainer/classes/${group.id}/messages`, { method: 'POST', body: { text: 'Depuis B' } });
  assert.deepEqual(sent.body, { sent: 1 });
  assert.equal((await dock.next((event) => event.event === 'message', 10_000)).data.text, 'Depuis B');
  dock.close();
});
