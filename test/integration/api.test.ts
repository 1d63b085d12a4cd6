/**
 * The HTTP API against a real server (port 0) and the real driver: lab lifecycle, checks both
 * ways, tokens, languages, cross-origin refusal, the site's redirect, health.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testLabId, type TestServer } from '../helpers/server.ts';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.cleanup();
});

async function createLab(): Promise<{ id: string; token: string; [key: string]: unknown }> {
  const response = await server.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body;
}

/** Runs a command inside the lab through the driver (as the lab user). */
async function inLab(id: string, script: string): Promise<void> {
  const session = server.sessions.get(id);
  assert.ok(session?.handle, 'the lab runs');
  const result = await server.driver.exec(session.handle, ['bash', '-c', script]);
  assert.equal(result.code, 0, result.stderr);
}

test('POST /api/labs starts a lab and returns its token, dates, limits and progress', async () => {
  const lab = await createLab();
  try {
    assert.match(lab.id, /^[A-Za-z0-9_-]{8,}$/);
    assert.match(lab.token, /^[A-Za-z0-9_-]{43}$/, '256-bit token, base64url');
    assert.equal(lab.lab, testLabId);
    assert.equal(lab.status, 'running');
    const createdAt = Date.parse(lab.createdAt as string);
    const expiresAt = Date.parse(lab.expiresAt as string);
    assert.ok(Number.isFinite(createdAt) && Number.isFinite(expiresAt));
    assert.equal(expiresAt - createdAt, 10 * 60_000, 'ttl of the test lab (10m, under the server cap)');
    const limits = lab.limits as { resources: { pids: number }; enforced: unknown };
    assert.equal(limits.resources.pids, 128);
    assert.ok(limits.enforced && typeof limits.enforced === 'object');
    const progress = lab.progress as { step: string; percent: number }[];
    assert.equal(progress.at(0)?.step, 'queued');
    assert.deepEqual(progress.at(-1), { step: 'ready', percent: 100 });

    const got = await server.api(`/api/labs/${lab.id}`, { token: lab.token });
    assert.equal(got.status, 200);
    assert.equal(got.body.id, lab.id);
    assert.equal(got.body.status, 'running');
    assert.equal(got.body.token, undefined, 'GET never returns the token');
    assert.equal(got.headers.get('cache-control'), 'no-store');
  } finally {
    await server.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
  }
});

test('a file check fails, then passes once the folder exists; results are localized', async () => {
  const lab = await createLab();
  try {
    const path = `/api/labs/${lab.id}/checks/made-dir`;
    const failing = await server.api(path, { method: 'POST', token: lab.token, lang: 'fr' });
    assert.equal(failing.status, 200);
    assert.equal(failing.body.check, 'made-dir');
    assert.equal(failing.body.ok, false);
    assert.equal(failing.body.expected, 'un dossier mon-dossier dans ~/work');
    assert.equal(failing.body.found, 'Pas encore de dossier mon-dossier dans ~/work.');
    assert.equal(failing.body.hint, 'Tapez mkdir mon-dossier');
    assert.equal(failing.body.message, 'Pas encore de dossier mon-dossier dans ~/work. Astuce : Tapez mkdir mon-dossier');

    const english = await server.api(path, { method: 'POST', token: lab.token, lang: 'en-GB,en;q=0.9' });
    assert.equal(english.body.ok, false);
    assert.equal(english.body.found, 'No folder mon-dossier in ~/work yet.');
    assert.equal(english.body.hint, 'Type mkdir mon-dossier');

    // A file where a folder is expected is still a failure, described as a file.
    await inLab(lab.id, 'touch ~/work/mon-dossier');
    const wrongType = await server.api(path, { method: 'POST', token: lab.token, lang: 'en' });
    assert.equal(wrongType.body.ok, false);
    assert.equal(wrongType.body.found, '~/work/mon-dossier is a file, not a folder.');

    await inLab(lab.id, 'rm ~/work/mon-dossier && mkdir ~/work/mon-dossier');
    const passing = await server.api(path, { method: 'POST', token: lab.token, lang: 'fr' });
    assert.equal(passing.status, 200);
    assert.equal(passing.body.ok, true);
    assert.equal(passing.body.found, '~/work/mon-dossier est bien là.');
    assert.equal(passing.body.message, 'Validé');
    assert.equal(passing.body.hint, undefined);
  } finally {
    await server.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
  }
});

test('file checks: contains (regex on the content) and absent', async () => {
  const lab = await createLab();
  try {
    const contains = `/api/labs/${lab.id}/checks/notes-say-hello`;
    const absent = `/api/labs/${lab.id}/checks/no-notes`;
    assert.equal((await server.api(absent, { method: 'POST', token: lab.token })).body.ok, true);
    await inLab(lab.id, 'echo goodbye > ~/work/notes.txt');
    const noMatch = await server.api(contains, { method: 'POST', token: lab.token, lang: 'en' });
    assert.equal(noMatch.body.ok, false);
    assert.equal(noMatch.body.found, '~/work/notes.txt is there, but its content does not match the step.');
    assert.equal(noMatch.body.expected, 'a file ~/work/notes.txt whose content matches ^hello');
    const stillThere = await server.api(absent, { method: 'POST', token: lab.token, lang: 'en' });
    assert.equal(stillThere.body.ok, false);
    assert.equal(stillThere.body.found, 'notes.txt is still in ~/work.');
    await inLab(lab.id, 'printf "first line\\nhello world\\n" > ~/work/notes.txt');
    assert.equal((await server.api(contains, { method: 'POST', token: lab.token })).body.ok, true);
  } finally {
    await server.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
  }
});

test('a shell check fails on a non-zero status or different output, passes otherwise', async () => {
  const lab = await createLab();
  try {
    const path = `/api/labs/${lab.id}/checks/marker-set`;
    const failing = await server.api(path, { method: 'POST', token: lab.token, lang: 'en' });
    assert.equal(failing.status, 200);
    assert.equal(failing.body.ok, false);
    assert.equal(failing.body.found, "The check's command failed (status 1).");
    assert.equal(failing.body.expected, 'the command succeeds and prints output matching ^ready$');

    await inLab(lab.id, 'echo not-yet > ~/work/marker');
    const mismatch = await server.api(path, { method: 'POST', token: lab.token, lang: 'fr' });
    assert.equal(mismatch.body.ok, false);
    assert.equal(mismatch.body.found, 'La commande de vérification a affiché autre chose : not-yet');

    await inLab(lab.id, 'echo ready > ~/work/marker');
    const passing = await server.api(path, { method: 'POST', token: lab.token, lang: 'en' });
    assert.equal(passing.body.ok, true);
    assert.equal(passing.body.message, 'Done');

    const unknown = await server.api(`/api/labs/${lab.id}/checks/nope`, { method: 'POST', token: lab.token, lang: 'en' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'unknown_check');
    assert.match(unknown.body.error.message, /no check named "nope"/);
  } finally {
    await server.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
  }
});

test('tokens: missing → 401, wrong → 403, after DELETE → 404 lab_gone forever', async () => {
  const lab = await createLab();
  const other = await createLab();
  try {
    const missing = await server.api(`/api/labs/${lab.id}`);
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.code, 'unauthorized');
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
    const notBearer = await server.api(`/api/labs/${lab.id}`, { headers: { authorization: `Basic ${lab.token}` } });
    assert.equal(notBearer.status, 401);

    const wrong = await server.api(`/api/labs/${lab.id}`, { token: other.token });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.code, 'forbidden');
    const wrongCheck = await server.api(`/api/labs/${lab.id}/checks/always-ok`, { method: 'POST', token: other.token });
    assert.equal(wrongCheck.status, 403);
    const wrongDelete = await server.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: 'x'.repeat(43) });
    assert.equal(wrongDelete.status, 403);
    assert.equal((await server.api(`/api/labs/${lab.id}`, { token: lab.token })).status, 200, 'still running');

    const deleted = await server.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, '');

    for (const [method, path] of [
      ['GET', `/api/labs/${lab.id}`],
      ['DELETE', `/api/labs/${lab.id}`],
      ['POST', `/api/labs/${lab.id}/checks/always-ok`],
    ] as const) {
      const gone = await server.api(path, { method, token: lab.token, lang: 'en' });
      assert.equal(gone.status, 404, `${method} ${path}`);
      assert.deepEqual(gone.body, { error: { code: 'lab_gone', message: 'This service no longer exists.' } });
      assert.equal((await server.api(path, { method })).status, 401, 'no token is still 401');
    }
    const unknownId = await server.api('/api/labs/doesnotexist', { token: lab.token });
    assert.equal(unknownId.status, 404);
    assert.equal(unknownId.body.error.code, 'lab_gone');
  } finally {
    await server.api(`/api/labs/${other.id}`, { method: 'DELETE', token: other.token });
  }
});

test('unknown lab → 404 unknown_lab, in French by default and in English on demand', async () => {
  const french = await server.api('/api/labs', { method: 'POST', body: { lab: 'no-such-lab' } });
  assert.equal(french.status, 404);
  assert.deepEqual(french.body, { error: { code: 'unknown_lab', message: 'Aucun service nommé « no-such-lab ».' } });
  const english = await server.api('/api/labs', { method: 'POST', body: { lab: 'no-such-lab' }, lang: 'en-US,en;q=0.8,fr;q=0.5' });
  assert.equal(english.status, 404);
  assert.deepEqual(english.body, { error: { code: 'unknown_lab', message: 'There is no service named "no-such-lab".' } });
});

test('malformed bodies → 400 bad_request naming the field; invalid JSON → 400', async () => {
  const wrongType = await server.api('/api/labs', { method: 'POST', body: { lab: 42 }, lang: 'en' });
  assert.equal(wrongType.status, 400);
  assert.equal(wrongType.body.error.code, 'bad_request');
  assert.equal(wrongType.body.error.field, 'lab');
  const invalid = await server.api('/api/labs', { method: 'POST', raw: '{"lab": ', lang: 'en' });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.error.code, 'bad_request');
  assert.equal(invalid.body.error.field, 'body');
  assert.doesNotMatch(JSON.stringify(invalid.body), /at \w+ \(|node_modules|\.ts:\d+/, 'no stack trace');
  const tooLarge = await server.api('/api/labs', { method: 'POST', raw: JSON.stringify({ lab: 'x'.repeat(70 * 1024) }) });
  assert.equal(tooLarge.status, 413);
  assert.equal(tooLarge.body.error.code, 'too_large');
});

test('a cross-origin POST is refused with 403 even with a valid token; same origin passes', async () => {
  const crossCreate = await server.api('/api/labs', { method: 'POST', body: { lab: testLabId }, headers: { origin: 'https://evil.example' }, lang: 'en' });
  assert.equal(crossCreate.status, 403);
  assert.equal(crossCreate.body.error.code, 'cross_site');
  assert.equal(server.sessions.all().length, 0, 'no lab was started');

  const lab = await createLab();
  try {
    const crossCheck = await server.api(`/api/labs/${lab.id}/checks/always-ok`, { method: 'POST', token: lab.token, headers: { origin: 'http://127.0.0.1.evil.example' } });
    assert.equal(crossCheck.status, 403);
    const crossDelete = await server.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token, headers: { origin: 'null' } });
    assert.equal(crossDelete.status, 403);
    const sameOrigin = await server.api(`/api/labs/${lab.id}/checks/always-ok`, { method: 'POST', token: lab.token, headers: { origin: server.url } });
    assert.equal(sameOrigin.status, 200, JSON.stringify(sameOrigin.body));
    assert.equal(sameOrigin.body.ok, true);
  } finally {
    await server.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
  }
});

test('GET / redirects by Accept-Language, French by default; unknown pages get 404.html', async () => {
  for (const [lang, location] of [
    [undefined, '/fr/'],
    ['en-US,en;q=0.9', '/en/'],
    ['fr-CA', '/fr/'],
    ['de-DE,en;q=0.5', '/en/'],
    ['de-DE', '/fr/'],
  ] as const) {
    const response = await server.api('/', lang === undefined ? {} : { lang });
    assert.equal(response.status, 302, String(lang));
    assert.equal(response.headers.get('location'), location, String(lang));
  }
  const page = await server.api('/en/');
  assert.equal(page.status, 200);
  assert.match(page.body, /<html lang="en">/);
  const missing = await server.api('/fr/no/such/page/');
  assert.equal(missing.status, 404);
  assert.match(missing.body, /Page introuvable/);
  const missingApi = await server.api('/api/nothing', { lang: 'en' });
  assert.equal(missingApi.status, 404);
  assert.equal(missingApi.body.error.code, 'not_found');
});

test('GET /healthz counts running labs; /metrics speaks Prometheus', async () => {
  const before = await server.api('/healthz');
  assert.equal(before.status, 200);
  assert.deepEqual(before.body, { status: 'ok', labs: 0 });
  const lab = await createLab();
  try {
    assert.deepEqual((await server.api('/healthz')).body, { status: 'ok', labs: 1 });
    const metrics = await server.api('/metrics');
    assert.match(metrics.body, /^atelier_labs\{lab="test-lab",status="running"\} 1$/m);
    assert.match(metrics.body, /^process_resident_memory_bytes \d+/m);
  } finally {
    await server.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
  }
  assert.deepEqual((await server.api('/healthz')).body, { status: 'ok', labs: 0 });
});

test('server caps: TTL capped by the server, expired labs reaped; per-client quota → 429', async () => {
  const capped = await startTestServer({ config: { limits: { maxTtl: 1_000, maxLabsPerClient: 1 } }, reapInterval: 100 });
  try {
    const created = await capped.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
    assert.equal(created.status, 201);
    assert.equal(Date.parse(created.body.expiresAt) - Date.parse(created.body.createdAt), 1_000, 'ttl 10m capped to 1s');

    const second = await capped.api('/api/labs', { method: 'POST', body: { lab: testLabId }, lang: 'en' });
    assert.equal(second.status, 429);
    assert.equal(second.body.error.code, 'too_many_labs');
    assert.match(second.body.error.message, /at most 1/);

    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const expired = await capped.api(`/api/labs/${created.body.id}`, { token: created.body.token });
    assert.equal(expired.status, 404);
    assert.equal(expired.body.error.code, 'lab_gone');
    assert.equal(capped.sessions.all().length, 0, 'the reaper stopped it');
    assert.deepEqual((await capped.api('/healthz')).body, { status: 'ok', labs: 0 });
    assert.equal((await capped.api('/api/labs', { method: 'POST', body: { lab: testLabId } })).status, 201, 'quota freed');
  } finally {
    await capped.cleanup();
  }
});

test('a check that runs too long fails with "took too long" instead of hanging', async () => {
  const impatient = await startTestServer({ checkTimeoutMs: 500 });
  try {
    const created = await impatient.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
    const started = Date.now();
    const slow = await impatient.api(`/api/labs/${created.body.id}/checks/slow`, { method: 'POST', token: created.body.token, lang: 'en' });
    assert.ok(Date.now() - started < 5_000, 'answered within the deadline');
    assert.equal(slow.status, 200);
    assert.equal(slow.body.ok, false);
    assert.equal(slow.body.found, 'The check took too long: try again in a moment.');
  } finally {
    await impatient.cleanup();
  }
});
