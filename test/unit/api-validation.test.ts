/**
 * Request validation of the HTTP API, through fastify's inject (no socket, no lab is ever
 * started: every request here must be refused before reaching the driver).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildHttpApp } from '../../server/http/app.ts';
import { Sessions } from '../../server/labs/sessions.ts';
import { loadLabs } from '../../server/labs/registry.ts';
import { createLabBody } from '../../server/http/labs.ts';
import { parseWith, ApiError } from '../../server/http/errors.ts';
import { languageOf } from '../../server/http/language.ts';
import { createTestDriver, makeLabsDir, makeSiteDir } from '../helpers/server.ts';

let app: FastifyInstance;
let sessions: Sessions;
const dirs: string[] = [];

before(async () => {
  const labsDir = makeLabsDir();
  const siteDir = makeSiteDir();
  dirs.push(labsDir, siteDir);
  sessions = new Sessions({ driver: createTestDriver(), labs: loadLabs(labsDir), limits: { maxTtl: 3600_000, maxLabs: 10, maxLabsPerClient: 10 }, reapInterval: 0 });
  app = await buildHttpApp({ sessions, siteDir });
});
after(async () => {
  await app?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function post(payload: string | undefined, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'POST', url: '/api/labs', payload, headers: { 'content-type': 'application/json', ...headers } });
  return { status: response.statusCode, body: response.json() as { error: { code: string; message: string; field?: string } } };
}

test('a missing or mistyped `lab` is a 400 naming the field, worded in French by default', async () => {
  for (const payload of ['{}', '{"lab": 3}', '{"lab": ""}', '{"lab": null}', `{"lab": "${'a'.repeat(65)}"}`]) {
    const { status, body } = await post(payload);
    assert.equal(status, 400, payload);
    assert.equal(body.error.code, 'bad_request', payload);
    assert.equal(body.error.field, 'lab', payload);
    assert.match(body.error.message, /^Requête invalide : lab : /, payload);
  }
  assert.equal(sessions.all().length, 0);
});

test('the same errors in English when the caller prefers English', async () => {
  const { status, body } = await post('{"lab": 3}', { 'accept-language': 'en-US,en;q=0.9' });
  assert.equal(status, 400);
  assert.equal(body.error.field, 'lab');
  assert.match(body.error.message, /^Invalid request: lab: .*expected string/i);
  const french = await post('{"lab": 3}', { 'accept-language': 'fr-FR' });
  assert.match(french.body.error.message, /^Requête invalide : lab : .*chaîne/);
});

test('a body that is not an object, or no body at all, names `body`', async () => {
  for (const payload of ['[]', '"text"', '42', undefined]) {
    const { status, body } = await post(payload, { 'accept-language': 'en' });
    assert.equal(status, 400, String(payload));
    assert.equal(body.error.code, 'bad_request');
    assert.equal(body.error.field, 'body', String(payload));
  }
});

test('invalid JSON is a 400 with a localized message and no stack trace', async () => {
  for (const [language, pattern] of [
    ['fr', /^Requête invalide : body : le corps de la requête n'est pas du JSON valide$/],
    ['en', /^Invalid request: body: the request body is not valid JSON$/],
  ] as const) {
    const { status, body } = await post('{"lab": "x",', { 'accept-language': language });
    assert.equal(status, 400);
    assert.equal(body.error.code, 'bad_request');
    assert.match(body.error.message, pattern);
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'field', 'message']);
  }
  const poisoned = await post('{"lab": "x", "__proto__": {"polluted": true}}');
  assert.equal(poisoned.status, 400, 'prototype poisoning is refused');
});

test('bodies over 64 KiB are refused with 413 too_large', async () => {
  const { status, body } = await post(JSON.stringify({ lab: 'x'.repeat(65 * 1024) }), { 'accept-language': 'en' });
  assert.equal(status, 413);
  assert.deepEqual(body, { error: { code: 'too_large', message: 'Request too large.' } });
});

test('a non-JSON content type is a 400, not a 500', async () => {
  const response = await app.inject({ method: 'POST', url: '/api/labs', payload: 'lab=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(response.statusCode, 400);
  assert.equal(response.json().error.code, 'bad_request');
});

test('parseWith throws an ApiError naming the nested field, in the requested language', () => {
  assert.deepEqual(parseWith(createLabBody, { lab: 'terminal-basics' }, 'fr'), { lab: 'terminal-basics' });
  assert.throws(
    () => parseWith(createLabBody, { lab: ['a'] }, 'en'),
    (error: unknown) => error instanceof ApiError && error.status === 400 && error.field === 'lab' && /expected string/i.test(String(error.params.problem)),
  );
});

test('Accept-Language negotiation: fr by default, en when preferred', () => {
  assert.equal(languageOf({}), 'fr');
  assert.equal(languageOf({ 'accept-language': 'en' }), 'en');
  assert.equal(languageOf({ 'accept-language': 'en-GB,fr;q=0.5' }), 'en');
  assert.equal(languageOf({ 'accept-language': 'fr-CA,en;q=0.5' }), 'fr');
  assert.equal(languageOf({ 'accept-language': 'de,es;q=0.8' }), 'fr');
  assert.equal(languageOf({ 'accept-language': '*' }), 'fr');
});

test('lab routes without a token are 401 before anything else; bad ids are lab_gone', async () => {
  const noToken = await app.inject({ method: 'GET', url: '/api/labs/abc', headers: { 'accept-language': 'en' } });
  assert.equal(noToken.statusCode, 401);
  assert.deepEqual(noToken.json(), { error: { code: 'unauthorized', message: 'Missing or invalid service token.' } });
  const badId = await app.inject({ method: 'GET', url: '/api/labs/..%2F..%2Fetc', headers: { authorization: 'Bearer abc' } });
  assert.equal(badId.statusCode, 404);
  assert.equal(badId.json().error.code, 'lab_gone');
});
