/**
 * Sign-in with a real OpenID provider (test/helpers/oidc.ts: oidc-provider, its own login and
 * consent pages submitted by real HTTP): the device's anonymous data kept by the first sign-in,
 * found from a second device and merged with that device's, sign-out clearing the device, the
 * trainer claim, and the server without OpenID Connect as before.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSiteDir, startTestServer, testLabId, type TestServer } from '../helpers/server.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runGit, workingRepo } from '../helpers/forge.ts';
import { rawSigned } from '../helpers/s3-raw.ts';
import { connectLearnerEvents } from '../helpers/learner.ts';
import { Browser, freePort, parseForm, startProvider, type Page, type TestProvider } from '../helpers/oidc.ts';

let provider: TestProvider;
let server: TestServer;
let origin: string;
const home = mkdtempSync(join(tmpdir(), 'atelier-sign-in-'));

before(async () => {
  const port = await freePort();
  origin = `http://localhost:${port}`;
  provider = await startProvider(origin);
  const siteDir = makeSiteDir();
  mkdirSync(join(siteDir, 'fr', 'tp', 'p'), { recursive: true });
  writeFileSync(join(siteDir, 'fr', 'tp', 'p', 'index.html'), '<!doctype html><ul><li class="task-list-item" data-step="one"></li><li class="task-list-item" data-step="two"></li><li class="task-list-item" data-step="three"></li></ul>');
  server = await startTestServer({
    driver: new MemoryDriver(),
    config: {
      port,
      siteDir,
      origin,
      oidc: { issuer: provider.issuer, clientId: provider.clientId, clientSecret: provider.clientSecret, scopes: 'openid profile email groups', trainer: { claim: ['groups'], value: 'trainers' } },
    },
  });
});

after(async () => {
  await server?.cleanup();
  await provider?.stop();
  rmSync(home, { recursive: true, force: true });
});

const json = async (browser: Browser, path: string, init: Parameters<Browser['request']>[1] = {}) => {
  const page = await browser.request(`${origin}${path}`, { headers: { origin, ...init.headers }, ...init });
  return { status: page.status, headers: page.headers, body: page.text ? JSON.parse(page.text) : undefined };
};

test('the first sign-in keeps the device\'s data; a second device finds it and brings its own; sign-out makes a new visitor', async () => {
  const laptop = new Browser();
  assert.deepEqual((await json(laptop, '/api/auth')).body, { enabled: true, available: true, signedIn: false, account: null });
  assert.equal((await json(laptop, '/api/progress', { method: 'PUT', json: { page: '/tp/p/', step: 'one', done: true } })).status, 200);
  assert.equal((await json(laptop, '/api/me/secrets/projet', { method: 'PUT', json: { vars: { KEY: 'laptop' } } })).status, 200);
  assert.equal((await json(laptop, '/api/me/git', { method: 'PUT', json: { name: 'Ada', email: 'ada@school.example' } })).status, 200);
  const anonymous = (await json(laptop, '/api/me')).body.learner.id;

  const pages: Page[] = [];
  const landed = await laptop.signIn(origin, 'ada', '/fr/tp/p/', pages);
  const callback = pages.find((page) => page.url.startsWith(`${origin}/auth/callback`))!;
  const set = callback.headers.getSetCookie().filter((line) => /^atelier_(learner|account)=./.test(line));
  assert.equal(set.length, 2);
  for (const line of set) assert.ok(!/max-age|expires/i.test(line), `a session cookie on a shared PC: ${line}`);
  assert.equal(landed.url, `${origin}/fr/tp/p/`, 'back on the page sign-in started from');
  const auth = (await json(laptop, '/api/auth')).body;
  assert.equal(auth.signedIn, true);
  assert.deepEqual({ ...auth.account, mergeReport: undefined }, { name: 'Ada Lovelace', email: 'ada@school.example', trainer: false, mergeReport: undefined });
  assert.equal((await json(laptop, '/api/me')).body.learner.id, anonymous, 'the device\'s learner became the account\'s');
  assert.deepEqual((await json(laptop, '/api/progress?page=/tp/p/')).body.steps, ['one']);

  // A second device, with its own anonymous progress and a secret of a group the account has.
  const desktop = new Browser();
  await json(desktop, '/api/progress', { method: 'PUT', json: { page: '/tp/p/', step: 'two', done: true } });
  await json(desktop, '/api/me/secrets/projet', { method: 'PUT', json: { vars: { KEY: 'desktop' } } });
  await json(desktop, '/api/me/secrets/perso', { method: 'PUT', json: { vars: { TOKEN: 'desktop-only' } } });
  await desktop.signIn(origin, 'ada');
  assert.equal((await json(desktop, '/api/me')).body.learner.id, anonymous);
  assert.deepEqual((await json(desktop, '/api/progress?page=/tp/p/')).body.steps.sort(), ['one', 'two']);
  assert.deepEqual((await json(desktop, '/api/me/secrets')).body.groups.map((group: { group: string }) => group.group), ['perso', 'projet']);
  const report = (await json(desktop, '/api/auth')).body.account.mergeReport;
  assert.deepEqual([report.steps, report.secretGroups, report.secretGroupsKept, report.deviceDeleted], [1, ['perso'], ['projet'], true]);
  assert.equal((await json(laptop, '/api/me')).body.git.name, 'Ada', 'the laptop still signed in sees the same learner');

  // Sign-out: cookies removed, Clear-Site-Data, the provider's logout next.
  const out = await json(laptop, '/auth/logout', { method: 'POST' });
  assert.equal(out.status, 200);
  assert.equal(out.headers.get('clear-site-data'), '"cookies", "storage"');
  assert.ok(out.body.redirect.startsWith(`${provider.issuer}/session/end`), out.body.redirect);
  assert.equal(laptop.cookie(origin, 'atelier_learner'), undefined);
  assert.equal(laptop.cookie(origin, 'atelier_account'), undefined);
  const after = await json(laptop, '/api/me');
  assert.notEqual(after.body.learner.id, anonymous, 'a new anonymous visitor');
  assert.deepEqual((await json(laptop, '/api/progress?page=/tp/p/')).body.steps, []);

  // At the provider: its sign-out page, confirmed, comes back to the home page, and the next
  // sign-in on this computer asks for a login again (no silent sign-in as the previous person).
  const confirm = await laptop.follow(out.body.redirect);
  const form = parseForm(confirm);
  const back = await laptop.follow(form.action, { form: { ...form.fields, logout: 'yes' } });
  assert.equal(back.url, `${origin}/fr/`);
  const again = await laptop.follow(`${origin}/auth/login?return=/fr/`);
  assert.equal(again.status, 200);
  assert.equal(parseForm(again).fields.prompt, 'login', 'the provider asks who signs in');
});

/** A repository pushed and an object put by the browser's learner, with its own token and keys. */
async function makeData(browser: Browser, repos: Record<string, string>, objects: Record<string, string>): Promise<void> {
  const me = (await json(browser, '/api/me')).body;
  const token = (await json(browser, '/api/me/git/token', { method: 'POST' })).body.token;
  for (const [name, content] of Object.entries(repos)) {
    const dir = await workingRepo(home, home, name, { 'README.md': content });
    const pushed = await runGit(['push', '-q', `http://${token}@localhost:${server.port}/git/${me.learner.id}/${name}.git`, 'main'], dir, home);
    assert.equal(pushed.code, 0, pushed.stderr);
  }
  for (const [key, content] of Object.entries(objects)) {
    const put = await rawSigned({ endpoint: me.s3.endpoint, region: me.s3.region }, me.s3, 'PUT', `/${me.s3.bucket}/${key}`, content);
    assert.equal(put.status, 200, put.body);
  }
}

const repoNames = async (browser: Browser) => (await json(browser, '/api/me/repos')).body.repos.map((repo: { name: string }) => repo.name).sort();
const fileKeys = async (browser: Browser, prefix = '') => (await json(browser, `/api/me/files?prefix=${encodeURIComponent(prefix)}`)).body.files.map((file: { key: string }) => file.key).sort();

test('repositories and objects: kept by the first sign-in; a second device\'s moved in, those of a name the account has beside them', async () => {
  const laptop = new Browser();
  await makeData(laptop, { projet: 'laptop' }, { 'notes.txt': 'laptop notes' });
  const desktop = new Browser();
  await makeData(desktop, { projet: 'desktop', autre: 'other' }, { 'notes.txt': 'desktop notes', 'data.csv': 'a,b' });

  await laptop.signIn(origin, 'linus');
  assert.deepEqual(await repoNames(laptop), ['projet']);
  assert.deepEqual(await fileKeys(laptop), ['notes.txt']);

  await desktop.signIn(origin, 'linus');
  assert.deepEqual(await repoNames(desktop), ['autre', 'projet', 'projet-device']);
  assert.deepEqual(await fileKeys(desktop), ['data.csv', 'notes.txt']);
  assert.deepEqual(await fileKeys(desktop, 'from-device/'), ['from-device/notes.txt']);
  const readme = async (repo: string) => (await json(desktop, `/api/me/repos/${repo}/file?path=README.md`)).body;
  assert.match(JSON.stringify(await readme('projet')), /laptop/, 'the account\'s own repository keeps its name');
  assert.match(JSON.stringify(await readme('projet-device')), /desktop/);
  const report = (await json(desktop, '/api/auth')).body.account.mergeReport;
  assert.deepEqual(report.repositories, { moved: ['autre'], renamed: [{ from: 'projet', to: 'projet-device' }] });
  assert.deepEqual(report.objects, { moved: 1, renamed: [{ from: 'notes.txt', to: 'from-device/notes.txt' }], left: [] });
  assert.deepEqual(await repoNames(laptop), ['autre', 'projet', 'projet-device'], 'the same data on the first device');
});

test('a learner cookie of an account without its sign-in is a new visitor, not the account, over HTTP and on the learner socket', async () => {
  const browser = new Browser();
  await browser.signIn(origin, 'ada');
  const id = (await json(browser, '/api/me')).body.learner.id;
  const header = (names: string[]) => names.map((name) => `${name}=${browser.cookie(origin, name)}`).join('; ');
  (await connectLearnerEvents(server.url, header(['atelier_learner', 'atelier_account']))).close();
  await assert.rejects(connectLearnerEvents(server.url, header(['atelier_learner'])), /unauthorized/, 'nor on the learner socket');
  browser.cookies(origin).delete('atelier_account');
  assert.notEqual((await json(browser, '/api/me')).body.learner.id, id);
});

test('the trainer claim makes a trainer at sign-in; a person without it is not one', async () => {
  const grace = new Browser();
  await grace.signIn(origin, 'grace');
  assert.equal((await json(grace, '/api/auth')).body.account.trainer, true);
  const graceId = (await json(grace, '/api/me')).body.learner.id;
  assert.deepEqual((await json(grace, '/api/trainer/session')).body, { trainer: { id: `account-${graceId}`, name: 'Grace Hopper' } });
  assert.equal((await json(grace, '/api/trainer/classes')).status, 200, 'trainer routes let her in');
  const ada = new Browser();
  await ada.signIn(origin, 'ada');
  assert.equal((await json(ada, '/api/auth')).body.account.trainer, false);
  assert.deepEqual((await json(ada, '/api/trainer/session')).body, { trainer: null });
  assert.equal((await json(ada, '/api/trainer/classes')).status, 401);
  await json(grace, '/auth/logout', { method: 'POST' });
  assert.deepEqual((await json(grace, '/api/trainer/session')).body, { trainer: null }, 'signed out, no longer a trainer');
});

test('a provider down at start: sign-in says it is unavailable, in the page\'s language, the rest works; it comes back on its own', async () => {
  const port = await freePort();
  const issuerPort = await freePort();
  const serverOrigin = `http://localhost:${port}`;
  const alone = await startTestServer({
    driver: new MemoryDriver(),
    config: { port, origin: serverOrigin, oidc: { issuer: `http://127.0.0.1:${issuerPort}`, clientId: provider.clientId, clientSecret: provider.clientSecret, scopes: 'openid' } },
  });
  let late: TestProvider | undefined;
  try {
    const browser = new Browser();
    const state = async () => JSON.parse((await browser.request(`${serverOrigin}/api/auth`)).text);
    assert.deepEqual(await state(), { enabled: true, available: false, signedIn: false, account: null });
    const english = await browser.request(`${serverOrigin}/auth/login?return=/en/tp/p/`);
    assert.equal(english.status, 503);
    assert.match(english.text, /<html lang="en">[\s\S]*The school&#39;s sign-in is unavailable/);
    assert.match(english.text, /href="\/en\/tp\/p\/"/, 'a way back to the page');
    assert.match((await browser.request(`${serverOrigin}/auth/login?return=/fr/`)).text, /La connexion de l’école est indisponible/);
    assert.equal((await browser.request(`${serverOrigin}/api/me`)).status, 200, 'everything else works');

    late = await startProvider(serverOrigin, issuerPort);
    const deadline = Date.now() + 15_000;
    while (!(await state()).available) {
      assert.ok(Date.now() < deadline, 'discovery retried within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await browser.signIn(serverOrigin, 'ada');
    assert.equal((await state()).signedIn, true);
  } finally {
    await alone.cleanup();
    await late?.stop();
  }
});

test('signing in on a device whose anonymous learner has a lab running: the lab is stopped before the merge', async () => {
  const first = new Browser();
  await first.signIn(origin, 'grace');
  const second = new Browser();
  const launched = await json(second, '/api/labs', { method: 'POST', json: { lab: testLabId } });
  assert.equal(launched.status, 201, JSON.stringify(launched.body));
  const id = launched.body.id;
  await second.signIn(origin, 'grace');
  assert.equal(server.sessions.get(id)?.status ?? 'stopped', 'stopped');
});

/** Server-sent events of `path` as the browser's cookies allow, until `until` says enough. */
async function sseUntil(browser: Browser, path: string, until: (events: { event: string; data: any }[]) => boolean, timeoutMs = 10_000) {
  const jar = browser.cookies(origin);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const response = await fetch(`${origin}${path}`, { headers: { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') }, signal: controller.signal });
  const events: { event: string; data: any }[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const done = (async () => {
    try {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) return;
        buffer += value;
        for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
          if (until(events)) return;
        }
      }
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  })();
  return { events, done };
}

test('a class joined on the device follows into the account, and the trainer\'s live view redraws it', async () => {
  const grace = new Browser();
  await grace.signIn(origin, 'grace');
  const created = await json(grace, '/api/trainer/classes', { method: 'POST', json: { course: '/tp/', title: 'TP', startsAt: Date.now() - 60_000, endsAt: Date.now() + 3600_000 } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const owner = new Browser();
  await owner.signIn(origin, 'linus');
  const desktop = new Browser();
  assert.equal((await json(desktop, '/api/classes/join', { method: 'POST', json: { code: created.body.joinCode, name: 'Linus au fond' } })).status, 200);

  const view = await sseUntil(grace, `/api/trainer/classes/${created.body.id}/events`, (events) => events.some((event) => event.event === 'removed'));
  while (!view.events.some((event) => event.event === 'snapshot')) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(view.events[0]!.data.members.map((row: { name: string }) => row.name), ['Linus au fond']);
  await desktop.signIn(origin, 'linus');
  await view.done;
  const drawn = view.events.find((event) => event.event === 'members')?.data.members.map((row: { name: string }) => row.name);
  assert.deepEqual(drawn, ['Linus au fond'], 'the account\'s row, drawn live');
  assert.deepEqual((await json(owner, '/api/classes/mine')).body.classes.map((record: { id: string }) => record.id), [created.body.id], 'the account is a member');
});

test('without OpenID Connect, /api/auth says so and /auth/login is not there', async () => {
  const plain = await startTestServer({ driver: new MemoryDriver() });
  try {
    assert.deepEqual((await plain.api('/api/auth')).body, { enabled: false, available: false, signedIn: false, account: null });
    assert.equal((await plain.api('/auth/login')).status, 404);
  } finally {
    await plain.cleanup();
  }
});

test('a prefetch of the sign-in link (hovered before the click) starts nothing: the click\'s sign-in completes', async () => {
  const laptop = new Browser();
  const callback = await laptop.callbackOf(origin, 'ada', '/fr/tp/p/');
  // The router's hover prefetch, answered after the click's own /auth/login.
  const prefetch = await laptop.request(`${origin}/auth/login?return=%2Ffr%2Ftp%2Fp%2F`, { headers: { 'sec-purpose': 'prefetch' } });
  assert.equal(prefetch.status, 204);
  assert.deepEqual(prefetch.headers.getSetCookie(), []);
  const landed = await laptop.follow(callback);
  assert.equal(landed.url, `${origin}/fr/tp/p/`);
  assert.equal((await json(laptop, '/api/auth')).body.signedIn, true);
});
