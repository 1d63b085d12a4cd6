/**
 * "A whole class at once", against a real server over the memory driver (what is tested here is
 * the sessions' queue and quotas, not sandboxes: no root needed, 150 labs in milliseconds): a class behind one
 * address all get their lab, the server-wide cap queues instead of failing, per-learner quotas and
 * launch rates answer 429 (localized, Retry-After), queued labs are followed by long-poll and can
 * be deleted, slow starts show as such, extensions stop at the lifetime cap, and the structured
 * log has one line per lab event and never a secret.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { startTestServer, makeLabsDir, testLabId, testLabYaml, type TestServer } from '../helpers/server.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { loadLabs } from '../../server/labs/registry.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import type { StartOptions } from '../../server/app.ts';

const servers: TestServer[] = [];
const dirs: string[] = [];
after(async () => {
  for (const server of servers) await server.cleanup().catch(() => {});
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The test lab and two more like it (a learner's quota counts different labs). */
function threeLabs() {
  const dir = makeLabsDir({
    'lab-b': testLabYaml.replace(`id: ${testLabId}`, 'id: lab-b'),
    'lab-c': testLabYaml.replace(`id: ${testLabId}`, 'id: lab-c'),
  });
  dirs.push(dir);
  return loadLabs(dir);
}

async function start(options: StartOptions = {}): Promise<TestServer> {
  const server = await startTestServer({ driver: new MemoryDriver(), ...options });
  servers.push(server);
  return server;
}

/** Labs in memory, whose starts can be made slow or fail (to see what the page sees then). */
class ControlledDriver extends MemoryDriver {
  delayMs = 0;
  /** The next claim fails with an error quoting the learner's whole environment (the worst case for logs). */
  failNext = false;
  constructor() {
    super({
      beforeProvision: () => new Promise((resolve) => setTimeout(resolve, this.delayMs)),
      beforeClaim: (claim) => {
        if (!this.failNext) return;
        this.failNext = false;
        throw new Error(`cannot start with ${JSON.stringify(claim.env)}`);
      },
    });
  }
}

/** Follows a lab by long-poll until it is neither queued nor starting; every view seen. */
async function follow(learner: LearnerClient, id: string, token: string, deadline = 20_000) {
  const views: any[] = [];
  const until = Date.now() + deadline;
  let seen = 0;
  for (;;) {
    assert.ok(Date.now() < until, `lab ${id} still not running: ${JSON.stringify(views.at(-1))}`);
    const response = await learner.api(`/api/labs/${id}?wait=${seen}`, { token });
    if (response.status !== 200) return { views, last: response };
    views.push(response.body);
    seen = response.body.progress.length;
    if (response.body.status !== 'queued' && response.body.status !== 'starting') return { views, last: response };
  }
}

test('a class of 150 behind one address all get a lab; past the server cap they queue, then start as labs leave', async () => {
  const server = await start({ config: { limits: { maxLabs: 100, maxLabsPerClient: 400 } } });
  const learners = Array.from({ length: 150 }, () => new LearnerClient(server.url));
  const t0 = Date.now();
  const launched = await Promise.all(learners.map((learner) => learner.api('/api/labs', { method: 'POST', body: { lab: testLabId }, lang: 'en' })));
  const launchMs = Date.now() - t0;
  const statuses = launched.map((response) => response.status);
  assert.ok(statuses.every((status) => status === 201 || status === 202), `every launch accepted: ${JSON.stringify(launched.find((r) => r.status >= 300)?.body)}`);
  // At most 8 sandboxes are built at once, so some launches queue even before the cap; once the
  // queue settles, 100 labs run and the 50 past the cap wait with positions 1..50.
  const until = Date.now() + 20_000;
  while (server.sessions.runningCount() < 100) {
    assert.ok(Date.now() < until, `only ${server.sessions.runningCount()} labs running`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual((await server.api('/healthz')).body, { status: 'ok', labs: 100 });
  assert.equal(server.sessions.queuedCount(), 50);
  const views = await Promise.all(launched.map((response, i) => learners[i]!.api(`/api/labs/${response.body.id}`, { token: response.body.token })));
  const running = launched.filter((_, i) => views[i]!.body.status === 'running');
  const queued = launched.filter((_, i) => views[i]!.body.status === 'queued');
  assert.equal(running.length, 100);
  assert.equal(queued.length, 50, 'the 50 past the cap of 100 wait');
  for (const response of queued) {
    assert.equal(response.status, 202);
    assert.match(response.body.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(response.headers.get('location'), `/api/labs/${response.body.id}`);
    assert.ok(Number.isInteger(response.body.estimatedWaitSeconds) && response.body.estimatedWaitSeconds >= 1, JSON.stringify(response.body));
    assert.deepEqual(response.body.progress, [{ step: 'queued', percent: 0 }]);
  }
  const positions = queued.map((response) => views[launched.indexOf(response)]!.body.position);
  assert.deepEqual(positions.sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1), 'queue positions 1..50');
  for (const response of queued) {
    const view = views[launched.indexOf(response)]!.body;
    // Full: the wait is until the running labs are due to leave (10 min idle/ttl of the test lab).
    assert.ok(view.estimatedWaitSeconds >= 590, `estimate when full: ${view.estimatedWaitSeconds}`);
  }

  // Half of the running labs leave: every queued lab starts, and the page sees it by long-poll.
  const leaving = running.slice(0, 50);
  await Promise.all(leaving.map((response, i) => learners[launched.indexOf(response)]!.deleteLab(response.body.id).then(() => i)));
  const followed = await Promise.all(
    queued.map((response) => follow(learners[launched.indexOf(response)]!, response.body.id, response.body.token)),
  );
  for (const { last } of followed) {
    assert.equal(last.status, 200, last.text);
    assert.equal(last.body.status, 'running');
    assert.equal(last.body.position, undefined);
    assert.deepEqual(last.body.progress.at(-1), { step: 'ready', percent: 100 });
    // The clock of a queued lab starts when it starts: it waited, so expiresAt is more than a ttl after createdAt.
    assert.ok(Date.parse(last.body.expiresAt) - Date.parse(last.body.createdAt) > 10 * 60_000);
  }
  assert.equal(server.sessions.queuedCount(), 0);
  assert.deepEqual((await server.api('/healthz')).body, { status: 'ok', labs: 100 });
  const remaining = launched.filter((response) => !leaving.includes(response));
  await Promise.all(remaining.map((response) => learners[launched.indexOf(response)]!.deleteLab(response.body.id)));
  assert.equal(server.sessions.all().length, 0);
  console.log(`# 150 launches from one address answered in ${launchMs} ms`);
});

test('per-learner quota → 429 too_many_labs; launches per minute → 429 rate_limited with Retry-After; others unaffected', async () => {
  const server = await start({ labs: threeLabs(), config: { limits: { maxLabsPerLearner: 2, launchesPerMinute: 4 } } });
  const learner = new LearnerClient(server.url);
  const a = await learner.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(a.status, 201);
  const b = await learner.api('/api/labs', { method: 'POST', body: { lab: 'lab-b' } });
  assert.equal(b.status, 201);
  // The same lab again is the same lab (200, a fresh token), not a new launch.
  const again = await learner.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(again.status, 200);
  assert.equal(again.body.id, a.body.id);

  const third = await learner.api('/api/labs', { method: 'POST', body: { lab: 'lab-c' }, lang: 'en' });
  assert.equal(third.status, 429);
  assert.deepEqual(third.body, { error: { code: 'too_many_labs', message: 'Too many services running (at most 2). Delete one before launching another.' } });
  const thirdFr = await learner.api('/api/labs', { method: 'POST', body: { lab: 'lab-c' }, lang: 'fr' });
  assert.equal(thirdFr.status, 429);
  assert.match(thirdFr.body.error.message, /^Trop de services en cours \(au plus 2\)/);
  assert.equal(server.sessions.all().length, 2, 'nothing started');

  await learner.deleteLab(b.body.id);
  const c = await learner.api('/api/labs', { method: 'POST', body: { lab: 'lab-c' } });
  assert.equal(c.status, 201, 'room again after a delete (launch 3 of 4 this minute)');
  await learner.deleteLab(c.body.id);
  const c2 = await learner.api('/api/labs', { method: 'POST', body: { lab: 'lab-c' } });
  assert.equal(c2.status, 201, 'launch 4 of 4');
  await learner.deleteLab(c2.body.id);

  const limited = await learner.api('/api/labs', { method: 'POST', body: { lab: 'lab-c' }, lang: 'en' });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, 'rate_limited');
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers.get('retry-after')}`);
  assert.equal(limited.body.error.message, `Too many launches (at most 4 a minute). Try again in ${retryAfter} s.`);
  const limitedFr = await learner.api('/api/labs', { method: 'POST', body: { lab: 'lab-c' }, lang: 'fr' });
  assert.equal(limitedFr.status, 429);
  assert.match(limitedFr.body.error.message, /^Trop de lancements \(au plus 4 par minute\)\. Réessayez dans \d+ s\.$/);

  // Another learner behind the same address launches as usual.
  const neighbour = new LearnerClient(server.url);
  const theirs = await neighbour.api('/api/labs', { method: 'POST', body: { lab: 'lab-c' } });
  assert.equal(theirs.status, 201);
  await neighbour.deleteLab(theirs.body.id);
  await learner.deleteLab(a.body.id);
});

test('queue: position and estimate, long-poll follows it, a queued lab can be deleted, extend waits for the start', async () => {
  const server = await start({ config: { limits: { maxLabs: 1 } } });
  const [alice, bob, carol] = [new LearnerClient(server.url), new LearnerClient(server.url), new LearnerClient(server.url)];
  const a = await alice.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(a.status, 201);
  const b = await bob.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  const c = await carol.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(b.status, 202);
  assert.equal(c.status, 202);
  assert.deepEqual([b.body.status, b.body.position, c.body.position], ['queued', 1, 2]);
  // Alice's lab is due in 10 minutes (ttl and idle of the test lab): that is the wait the estimate gives.
  assert.ok(b.body.estimatedWaitSeconds >= 590 && b.body.estimatedWaitSeconds <= 610, `estimate ${b.body.estimatedWaitSeconds}`);

  const viewed = await carol.api(`/api/labs/${c.body.id}`, { token: c.body.token });
  assert.equal(viewed.status, 200);
  assert.equal(viewed.body.status, 'queued');
  assert.equal(viewed.body.position, 2);
  assert.equal(viewed.body.token, undefined);
  // Bob reloads his page: same lab, still queued, a token for the new page.
  const reload = await bob.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(reload.status, 202);
  assert.equal(reload.body.id, b.body.id);
  assert.notEqual(reload.body.token, b.body.token);

  const notYet = await bob.api(`/api/labs/${b.body.id}/extend`, { method: 'POST', token: b.body.token, lang: 'en' });
  assert.equal(notYet.status, 409);
  assert.deepEqual(notYet.body, { error: { code: 'lab_not_started', message: 'This service has not started yet.' } });

  // Carol's long-poll answers as soon as Bob leaves the queue.
  const t0 = Date.now();
  const moved = carol.api(`/api/labs/${c.body.id}?wait=1`, { token: c.body.token });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal((await bob.api(`/api/labs/${b.body.id}`, { method: 'DELETE', token: b.body.token })).status, 204);
  const afterDelete = await moved;
  assert.ok(Date.now() - t0 < 3_000, 'the long-poll answered on the change, not on its timeout');
  assert.equal(afterDelete.body.status, 'queued');
  assert.equal(afterDelete.body.position, 1);
  assert.equal((await bob.api(`/api/labs/${b.body.id}`, { token: b.body.token })).status, 404, 'a deleted queued lab is gone');

  // Alice leaves: Carol's lab starts; the long-poll shows every step up to ready.
  await alice.deleteLab(a.body.id);
  const { views, last } = await follow(carol, c.body.id, c.body.token);
  assert.equal(last.body.status, 'running');
  const steps = last.body.progress.map((event: { step: string }) => event.step);
  // The queue's step, then the driver's own (the memory driver's: sandbox), then ready.
  assert.deepEqual(steps, ['queued', 'sandbox', 'ready']);
  const percents = last.body.progress.map((event: { percent: number }) => event.percent);
  assert.deepEqual(percents, [...percents].sort((x, y) => x - y), 'percent never goes back');
  assert.ok(views.length >= 1);
  assert.equal(last.body.slow, false);
  assert.ok(typeof last.body.startDurationMs === 'number' && last.body.startDurationMs < 2_000);
  // A long-poll on a running lab answers at once.
  const t1 = Date.now();
  const immediate = await carol.api(`/api/labs/${c.body.id}?wait=99`, { token: c.body.token });
  assert.equal(immediate.status, 200);
  assert.ok(Date.now() - t1 < 1_000);
  const badWait = await carol.api(`/api/labs/${c.body.id}?wait=soon`, { token: c.body.token, lang: 'en' });
  assert.equal(badWait.status, 400);
  assert.equal(badWait.body.error.field, 'wait');
  await carol.deleteLab(c.body.id);
});

test('a full queue answers 503 queue_full with Retry-After; room again once it moves', async () => {
  const server = await start({ config: { limits: { maxLabs: 1, maxQueue: 1 } } });
  const [a, b, c] = [new LearnerClient(server.url), new LearnerClient(server.url), new LearnerClient(server.url)];
  const first = await a.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(first.status, 201);
  const waiting = await b.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(waiting.status, 202);
  const full = await c.api('/api/labs', { method: 'POST', body: { lab: testLabId }, lang: 'en' });
  assert.equal(full.status, 503);
  assert.equal(full.body.error.code, 'queue_full');
  const retryAfter = Number(full.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 5 && retryAfter <= 300, `Retry-After ${full.headers.get('retry-after')}`);
  assert.match(full.body.error.message, /^The server is full and its waiting line too \(at most 1 waiting\)\. Try again in \d+ s\.$/);
  assert.equal(server.sessions.all().length, 2, 'nothing more was queued');
  await b.deleteLab(waiting.body.id);
  const queuedNow = await c.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(queuedNow.status, 202, 'a place in the queue again');
  await c.deleteLab(queuedNow.body.id);
  await a.deleteLab(first.body.id);
});

test('a start slower than 2 s answers 202 starting, then shows slow: true while it goes on', async () => {
  const driver = new ControlledDriver();
  const server = await start({ driver });
  driver.delayMs = 3_000;
  const learner = new LearnerClient(server.url);
  const t0 = Date.now();
  const launched = await learner.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(launched.status, 202, JSON.stringify(launched.body));
  assert.ok(Date.now() - t0 < 2_500, 'the launch does not hold the page for the whole start');
  assert.equal(launched.body.status, 'starting');
  assert.equal(launched.body.slow, false);
  const { views, last } = await follow(learner, launched.body.id, launched.body.token);
  assert.ok(views.some((view) => view.status === 'starting' && view.slow === true), `slow seen while starting: ${JSON.stringify(views.map((v) => [v.status, v.slow]))}`);
  assert.equal(last.body.status, 'running');
  assert.equal(last.body.slow, true);
  assert.ok(last.body.startDurationMs >= 3_000);
  await learner.deleteLab(launched.body.id);
});

test('extend: expiresAt moves by one ttl up to maxExpiresAt, then 409 extend_limit; the view tells idle expiry', async () => {
  const server = await start({ config: { limits: { maxLifetime: 25 * 60_000 } } });
  const learner = new LearnerClient(server.url);
  const other = new LearnerClient(server.url);
  const lab = (await learner.api('/api/labs', { method: 'POST', body: { lab: testLabId } })).body;
  const theirs = (await other.api('/api/labs', { method: 'POST', body: { lab: testLabId } })).body;
  const created = Date.parse(lab.createdAt);
  assert.equal(Date.parse(lab.expiresAt) - created, 10 * 60_000);
  assert.equal(Date.parse(lab.maxExpiresAt) - created, 25 * 60_000);
  const idle = Date.parse(lab.idleExpiresAt) - Date.now();
  assert.ok(idle > 9 * 60_000 && idle <= 10 * 60_000, `idle expiry in ~10 min: ${lab.idleExpiresAt}`);

  const path = `/api/labs/${lab.id}/extend`;
  assert.equal((await learner.api(path, { method: 'POST', cookie: null })).status, 401);
  assert.equal((await learner.api(path, { method: 'POST', token: theirs.token, cookie: null })).status, 403);
  const first = await learner.api(path, { method: 'POST', token: lab.token });
  assert.equal(first.status, 200);
  assert.equal(Date.parse(first.body.expiresAt) - created, 20 * 60_000);
  const second = await learner.api(path, { method: 'POST', token: lab.token });
  assert.equal(second.status, 200);
  assert.equal(second.body.expiresAt, lab.maxExpiresAt, 'capped at the lifetime');
  const third = await learner.api(path, { method: 'POST', token: lab.token, lang: 'en' });
  assert.equal(third.status, 409);
  assert.deepEqual(third.body, { error: { code: 'extend_limit', message: `This service cannot be extended any further (at most until ${lab.maxExpiresAt}).` } });
  const thirdFr = await learner.api(path, { method: 'POST', lang: 'fr' });
  assert.equal(thirdFr.status, 409, 'the owner by cookie may extend too');
  assert.match(thirdFr.body.error.message, /^Ce service ne peut plus être prolongé/);
  const view = await learner.api(`/api/labs/${lab.id}`, { token: lab.token });
  assert.equal(view.body.expiresAt, lab.maxExpiresAt);
  await learner.deleteLab(lab.id);
  await other.deleteLab(theirs.id);
  assert.equal((await learner.api(path, { method: 'POST', token: lab.token })).status, 404);
});

test('structured logs: one line per lab event, and no secret value or token in any line', async () => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const driver = new ControlledDriver();
  const server = await start({ driver, labs: threeLabs(), logger: { level: 'trace', stream }, config: { limits: { maxLabs: 1, maxLabsPerLearner: 1 } } });
  const stamp = randomBytes(8).toString('hex');
  const secretValue = `tres-secret-${stamp}`;

  const learner = new LearnerClient(server.url);
  assert.equal((await learner.api('/api/me/git', { method: 'PUT', body: { name: 'Ada Lovelace', email: 'ada@example.org' } })).status, 200);
  const gitToken = (await learner.api('/api/me/git/token', { method: 'POST' })).body.token as string;
  assert.equal((await learner.api('/api/me/secrets/tp', { method: 'PUT', body: { vars: { MA_CLE: secretValue } } })).status, 200);
  const me = await learner.me();
  const s3Secret = me.s3.secretAccessKey as string;
  const s3Session = me.s3.sessionToken as string;
  assert.ok(gitToken && s3Secret && s3Session, 'credentials to look for');

  const mine = await learner.api('/api/labs', { method: 'POST', body: { lab: testLabId, secrets: 'tp' } });
  assert.equal(mine.status, 201, mine.text);
  const overQuota = await learner.api('/api/labs', { method: 'POST', body: { lab: 'lab-b' } });
  assert.equal(overQuota.status, 429);
  // A second learner with the same secrets waits in the queue, then fails to start with an
  // error quoting its whole environment: the log must not repeat it.
  const second = new LearnerClient(server.url);
  assert.equal((await second.api('/api/me/secrets/tp', { method: 'PUT', body: { vars: { MA_CLE: secretValue } } })).status, 200);
  const queued = await second.api('/api/labs', { method: 'POST', body: { lab: testLabId, secrets: 'tp' } });
  assert.equal(queued.status, 202);
  const reload = await second.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(reload.status, 202, 'the same lab again: the queued one');
  assert.equal(reload.body.id, queued.body.id);
  driver.failNext = true;
  await learner.deleteLab(mine.body.id);
  const failed = await follow(second, queued.body.id, queued.body.token);
  assert.equal(failed.last.status, 503);
  assert.equal(failed.last.body.error.code, 'lab_failed');
  const later = await second.api(`/api/labs/${queued.body.id}`, { token: queued.body.token, lang: 'en' });
  assert.equal(later.status, 503, 'a failed start stays visible as such for a while');
  assert.deepEqual(later.body, { error: { code: 'lab_failed', message: 'The service could not start.' } });
  assert.equal(server.sessions.all().length, 0);

  const records = lines.map((line) => JSON.parse(line) as Record<string, any>);
  const byMessage = (message: string) => records.filter((record) => record.msg === message);
  const started = byMessage('lab started');
  assert.equal(started.length, 1, 'one lab started');
  for (const record of started) {
    assert.equal(record.lab, testLabId);
    assert.match(record.learner, /\S/);
    assert.equal(typeof record.durationMs, 'number');
    assert.equal(typeof record.session, 'string');
  }
  const stopped = byMessage('lab stopped');
  assert.ok(stopped.some((record) => record.reason === 'deleted' && record.session === mine.body.id));
  const failure = stopped.find((record) => record.reason === 'failed');
  assert.ok(failure, 'the failed start is logged');
  assert.match(failure.error, /\[redacted\]/);
  assert.ok(byMessage('lab queued').some((record) => record.session === queued.body.id && record.position === 1));
  assert.ok(byMessage('quota refused').some((record) => record.code === 'too_many_labs'));

  const secrets = {
    secretValue,
    gitToken,
    s3Secret,
    s3Session,
    cookie: decodeURIComponent(learner.cookie!.split('=').slice(1).join('=')),
    labToken: mine.body.token,
    queuedToken: queued.body.token,
    reloadToken: reload.body.token,
  };
  const all = lines.join('\n');
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(value && value.length >= 16, `${name} is a real value`);
    assert.ok(!all.includes(value), `${name} appears in the log`);
  }
  assert.ok(records.length > 10, 'the capture did see the server log');
});
