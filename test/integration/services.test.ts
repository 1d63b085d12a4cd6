/**
 * JupyterLab in a real lab, through the lab server's proxy on the lab's own origin: the hand-off
 * from the API, the service origin's cookie, the service's own password, and who is turned away.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, makeLabsDir, serviceLabYaml, testLabYaml, testLabId, type TestServer } from '../helpers/server.ts';
import { LearnerClient } from '../helpers/learner.ts';

let server: TestServer;

/** The same lab, its JupyterLab started with the lab rather than on the first Open. */
const startedAtLaunch = serviceLabYaml.replace('id: svc-lab', 'id: svc-launch').replace('jupyterlab: { resources', 'jupyterlab: { start: launch, resources');

before(async () => {
  server = await startTestServer({ config: { labsDir: makeLabsDir({ [testLabId]: testLabYaml, 'svc-lab': serviceLabYaml, 'svc-launch': startedAtLaunch }) } });
});
after(() => server?.cleanup());

/** A browser's cookie jar for one origin, enough for Jupyter's login. */
class Jar {
  readonly cookies = new Map<string, string>();
  take(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }
  get header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function get(url: string, jar?: Jar, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, { redirect: 'manual', ...init, headers: { ...(jar ? { cookie: jar.header } : {}), ...(init.headers as Record<string, string> | undefined) } });
  jar?.take(response.headers);
  return response;
}

async function launch(learner: LearnerClient, service: string) {
  const created = await learner.api('/api/labs', { method: 'POST', body: { lab: 'svc-lab', service } });
  assert.ok(created.status === 201 || created.status === 202, JSON.stringify(created.body));
  for (let i = 0; i < 100 && created.body.status !== 'running'; i++) {
    const view = await learner.api(`/api/labs/${created.body.id}?wait=${created.body.progress.length}`);
    if (view.body.status === 'running') return view.body;
  }
  return created.body;
}

test('a learner opens JupyterLab on its own origin: hand-off, then the service asks its password', async () => {
  const learner = new LearnerClient(server.url);
  const lab = await launch(learner, 'jupyterlab');
  assert.equal(lab.configured.service, 'jupyterlab');
  assert.match(lab.servicePassword, /^[A-Za-z0-9_-]{16}$/);
  assert.equal(lab.limits.resources.memory, 1024 ** 3, 'the catalogue entry gives JupyterLab its memory');

  const opened = await learner.api(`/api/labs/${lab.id}/services/jupyterlab/open`, { method: 'POST' });
  assert.equal(opened.status, 200, JSON.stringify(opened.body));
  const origin = new URL(opened.body.url).origin;
  assert.match(new URL(origin).hostname, /^jupyterlab-[a-z2-7]{16}\.apps\.atelier\.localhost$/);
  assert.notEqual(origin, server.url);

  // Without the hand-off, the service origin refuses (our page, not Jupyter's).
  const bare = await get(`${origin}/lab`);
  assert.equal(bare.status, 403);
  assert.match(await bare.text(), /Accès refusé|Access denied/);

  const jar = new Jar();
  const handed = await get(opened.body.url, jar);
  assert.equal(handed.status, 303);
  assert.ok(jar.cookies.has('atelier_service'));
  const setCookie = handed.headers.getSetCookie().join('\n');
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=None; Secure; Partitioned/);
  assert.doesNotMatch(setCookie, /Domain=/i, 'the cookie stays on this one service origin');

  // The ticket is good once.
  const replayed = await get(opened.body.url, new Jar());
  assert.equal(replayed.status, 403);

  // Jupyter itself: no password yet, so its login page; its frame policy names the platform only.
  const home = await get(`${origin}/lab`, jar);
  assert.equal(home.status, 302);
  assert.match(home.headers.get('location') ?? '', /\/login/);
  const login = await get(`${origin}/login`, jar);
  assert.equal(login.status, 200);
  assert.match(login.headers.get('content-security-policy') ?? '', new RegExp(`frame-ancestors 'self' http://atelier\\.localhost:${server.port} ${server.url}$`));
  const wrong = await get(`${origin}/login`, jar, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
    body: new URLSearchParams({ password: 'not-the-password', _xsrf: jar.cookies.get('_xsrf') ?? '' }).toString(),
  });
  assert.notEqual(wrong.status, 302, 'a wrong password does not log in');
  const right = await get(`${origin}/login`, jar, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
    body: new URLSearchParams({ password: lab.servicePassword, _xsrf: jar.cookies.get('_xsrf') ?? '' }).toString(),
  });
  assert.equal(right.status, 302, await right.text());
  const status = await get(`${origin}/api/status`, jar);
  assert.equal(status.status, 200);
  assert.ok('started' in (await status.json()));
  // JupyterLab's own terminal: a shell on a pty inside the lab (terminado), as its launcher opens one.
  const terminal = await get(`${origin}/api/terminals`, jar, { method: 'POST', headers: { 'x-xsrftoken': jar.cookies.get('_xsrf') ?? '', origin } });
  assert.equal(terminal.status, 200, await terminal.clone().text());
  const { name } = (await terminal.json()) as { name: string };
  const terminals = (await (await get(`${origin}/api/terminals`, jar)).json()) as { name: string }[];
  assert.deepEqual(terminals.map((t) => t.name), [name]);

  // Another learner, even with the URL and a ticket of their own lab, gets nothing here.
  const other = new LearnerClient(server.url);
  const refused = await other.api(`/api/labs/${lab.id}/services/jupyterlab/open`, { method: 'POST' });
  assert.ok([401, 403, 404].includes(refused.status), String(refused.status));
  const theirs = await launch(other, 'jupyterlab');
  const theirTicket = await other.api(`/api/labs/${theirs.id}/services/jupyterlab/open`, { method: 'POST' });
  const swapped = await get(`${origin}/.atelier/open?${new URL(theirTicket.body.url).searchParams}`, new Jar());
  assert.equal(swapped.status, 403, "a ticket of another lab does not open this one");
  const theirJar = new Jar();
  await get(theirTicket.body.url, theirJar);
  const crossCookie = await get(`${origin}/api/status`, theirJar);
  assert.equal(crossCookie.status, 403, "another lab's cookie does not open this one");

  // A page of another origin (another lab's service, same site) cannot use the learner's cookie.
  const foreign = await get(`${origin}/api/status`, jar, { headers: { origin: new URL(theirTicket.body.url).origin } });
  assert.equal(foreign.status, 403);

  await other.api(`/api/labs/${theirs.id}`, { method: 'DELETE' });
  await learner.api(`/api/labs/${lab.id}`, { method: 'DELETE' });
  const gone = await get(`${origin}/api/status`, jar);
  assert.equal(gone.status, 404, 'a deleted lab has no service any more');
});

test('a lab launched with its terminal only opens no service; an unoffered service is refused at launch', async () => {
  const learner = new LearnerClient(server.url);
  const refused = await learner.api('/api/labs', { method: 'POST', body: { lab: testLabId, service: 'jupyterlab' } });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error.field, 'service');
  const lab = await launch(learner, 'terminal');
  assert.equal(lab.servicePassword, undefined);
  const open = await learner.api(`/api/labs/${lab.id}/services/jupyterlab/open`, { method: 'POST' });
  assert.equal(open.status, 404);
  assert.equal(open.body.error.code, 'unknown_service');
  await learner.api(`/api/labs/${lab.id}`, { method: 'DELETE' });
});

test('a service starts on its first Open, unless its catalogue entry says start: launch', async () => {
  const learner = new LearnerClient(server.url);
  const lazy = await launch(learner, 'jupyterlab');
  const eager = (await learner.api('/api/labs', { method: 'POST', body: { lab: 'svc-launch', service: 'jupyterlab' } })).body;
  let state = '';
  for (let i = 0; i < 100 && state !== 'running'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    state = (await learner.api(`/api/labs/${eager.id}/services/jupyterlab`)).body.state;
  }
  assert.equal(state, 'running', 'started with its lab, nobody opened it');
  assert.equal((await learner.api(`/api/labs/${lazy.id}/services/jupyterlab`)).body.state, 'stopped', 'nobody opened it: not started');
  await learner.api(`/api/labs/${lazy.id}`, { method: 'DELETE' });
  await learner.api(`/api/labs/${eager.id}`, { method: 'DELETE' });
});
