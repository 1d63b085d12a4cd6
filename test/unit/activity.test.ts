/**
 * Activity: the hub (told here once as local, another replica's messages as not local, malformed
 * ones dropped, feedback bounded to fit the bus) and the lab events the sessions give it
 * (launched, ended with its reason; nothing for a launch that never ran or has no learner).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessCoordinator } from '../../server/cluster/in-process.ts';
import { activityHub, activityTopic, bounded, maxFeedbackChars } from '../../server/activity/hub.ts';
import { followLabs } from '../../server/activity/labs.ts';
import type { Activity } from '../../server/activity/activity.ts';
import { Sessions } from '../../server/labs/sessions.ts';
import { parseLab } from '../../server/labs/registry.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';

function hubWithLog() {
  const errors: string[] = [];
  const coordinator = new InProcessCoordinator((error) => errors.push(String(error)));
  const hub = activityHub(coordinator, (error, context) => errors.push(`${context}: ${(error as Error).message}`));
  const heard: [Activity, boolean][] = [];
  hub.events.on('activity', (activity, local) => heard.push([activity, local]));
  return { coordinator, hub, heard, errors };
}

const check = { type: 'check.failed', learner: 'uAbCdEfGhIjK', lab: 'terminal-basics', check: 'made-dir', session: 'AbCdEfGhIjKlMnOp', feedback: 'No folder yet.', at: 1_764_000_000_000 } as const;

test('an activity is heard here once, as local; one from another replica is heard as not local', async () => {
  const { coordinator, hub, heard, errors } = hubWithLog();
  hub.emit(check);
  await coordinator.publish(activityTopic, { from: 'another-replica', activity: { ...check, type: 'check.passed', feedback: undefined } });
  assert.deepEqual(heard, [
    [check, true],
    [{ type: 'check.passed', learner: check.learner, lab: check.lab, check: check.check, session: check.session, at: check.at }, false],
  ]);
  assert.deepEqual(errors, []);
  hub.close();
  hub.emit(check);
  await coordinator.publish(activityTopic, { from: 'another-replica', activity: check });
  assert.equal(heard.length, 3, 'closed: what comes from the bus is no longer heard (a local emit still is)');
});

test('messages not of an activity\'s shape are dropped and reported', async () => {
  const { coordinator, heard, errors } = hubWithLog();
  const from = 'another-replica';
  const bad: unknown[] = [
    { from, activity: { ...check, extra: 1 } },
    { from, activity: { ...check, type: 'check.exploded' } },
    { from, activity: { ...check, learner: '../../etc' } },
    { from, activity: { ...check, lab: 'Terminal Basics' } },
    { from, activity: { ...check, feedback: 'x'.repeat(maxFeedbackChars + 1) } },
    { from, activity: { ...check, at: -1 } },
    { from, activity: { type: 'lab.ended', learner: check.learner, lab: check.lab, session: check.session, reason: 'bored', at: check.at } },
    { from, activity: { type: 'lab.launched', learner: check.learner, lab: check.lab, at: check.at } },
    { activity: check },
    { from, activity: check, more: true },
    'activity',
    [check],
    { from, activity: JSON.parse('{"__proto__": {"polluted": true}}') },
  ];
  for (const payload of bad) await coordinator.publish(activityTopic, payload);
  assert.deepEqual(heard, []);
  assert.equal(errors.length, bad.length);
  assert.ok(errors.every((error) => error.startsWith('activity bus: dropped a bus message on activity')));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('feedback is cut to its bound before anyone hears it, so the worst of characters still fits a bus message', async () => {
  for (const character of ['\u0001', '😀', 'é', '"']) {
    const { hub, heard, errors } = hubWithLog();
    hub.emit({ ...check, feedback: character.repeat(50_000) });
    const told = heard[0]![0] as Extract<Activity, { feedback?: string }>;
    assert.equal(Array.from(told.feedback!).length, maxFeedbackChars);
    assert.ok(told.feedback!.endsWith('…'));
    // The bus took it (too large, the publish would have been reported).
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(errors, [], JSON.stringify(character));
  }
  assert.equal(bounded('short'), 'short');
  assert.equal(bounded('😀'.repeat(maxFeedbackChars)), '😀'.repeat(maxFeedbackChars), 'counted in characters, not UTF-16 units');
});

const lab = parseLab('id: plain\ntitle: { fr: Lab, en: Lab }\nresources: { cpu: 1, memory: 256Mi, disk: 64Mi, pids: 128 }\n', 'plain/lab.yaml');

function sessionsWith(driver: MemoryDriver, maxLabs = 10) {
  const sessions = new Sessions({ driver, labs: new Map([['plain', lab]]), limits: { maxTtl: 3600_000, maxLabs, maxLabsPerClient: 10, maxLabsPerLearner: 10, launchesPerMinute: 1000 }, reapInterval: 0 });
  const told: Activity[] = [];
  const stop = followLabs(sessions, { emit: (activity) => told.push(activity) }, () => 42);
  return { sessions, told, stop };
}

test('a learner\'s lab is told launched, then ended with its reason; a launch that never ran, or has no learner, is not', async () => {
  const { sessions, told } = sessionsWith(new MemoryDriver(), 1);
  const { session } = await sessions.create('plain', 'client', { learnerId: 'uAbCdEfGhIjK' });
  assert.deepEqual(told, [{ type: 'lab.launched', learner: 'uAbCdEfGhIjK', lab: 'plain', session: session.id, at: 42 }]);
  // Full: the next launch waits in the queue, and is deleted there.
  const queued = await sessions.create('plain', 'client', { learnerId: 'uLmNoPqRsTuV' });
  assert.equal(queued.queued, true);
  await sessions.stop(queued.session.id);
  await sessions.stop(session.id, 'idle');
  const anonymous = await sessions.create('plain', 'client');
  await sessions.stop(anonymous.session.id, 'expired');
  assert.deepEqual(told.slice(1), [{ type: 'lab.ended', learner: 'uAbCdEfGhIjK', lab: 'plain', session: session.id, reason: 'idle', at: 42 }]);
  await sessions.stopAll();
});

test('a lab that failed to start is told ended (failed); a lone server shutting down ends its labs (shutdown)', async () => {
  let fail = true;
  const { sessions, told, stop } = sessionsWith(
    new MemoryDriver({
      beforeProvision: () => {
        if (fail) throw new Error('no room on the node');
      },
    }),
  );
  await assert.rejects(sessions.create('plain', 'client', { learnerId: 'uAbCdEfGhIjK' }));
  fail = false;
  const { session } = await sessions.create('plain', 'client', { learnerId: 'uAbCdEfGhIjK' });
  await sessions.stopAll();
  assert.deepEqual(
    told.map((activity) => [activity.type, 'reason' in activity ? activity.reason : undefined, 'session' in activity && activity.session === session.id]),
    [
      ['lab.ended', 'failed', false],
      ['lab.launched', undefined, true],
      ['lab.ended', 'shutdown', true],
    ],
  );
  stop();
});
