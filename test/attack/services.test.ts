/**
 * Attacks on the labs' services: another lab reaching a learner's JupyterLab, a lab swapping its
 * service's socket for a link to a socket of the host, forged and replayed hand-offs.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, makeLabsDir, serviceLabYaml, testLabYaml, testLabId, type TestServer } from '../helpers/server.ts';
import { LearnerClient, inLabOk } from '../helpers/learner.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer({ config: { labsDir: makeLabsDir({ [testLabId]: testLabYaml, 'svc-lab': serviceLabYaml }) } });
});
after(() => server?.cleanup());

async function running(learner: LearnerClient) {
  let view = (await learner.api('/api/labs', { method: 'POST', body: { lab: 'svc-lab', service: 'jupyterlab' } })).body;
  while (view.status !== 'running') view = (await learner.api(`/api/labs/${view.id}?wait=${view.progress.length}`)).body;
  return view;
}

test("another lab cannot reach a learner's service: not through the gateway, not by its socket", async () => {
  const alice = new LearnerClient(server.url);
  const bob = new LearnerClient(server.url);
  const lab = await running(alice);
  const opened = await alice.api(`/api/labs/${lab.id}/services/jupyterlab/open`, { method: 'POST' });
  assert.equal(opened.status, 200);
  const host = new URL(opened.body.origin).host;
  const theirs = await running(bob);
  const session = server.sessions.get(theirs.id)!;
  // Bob's lab reaches the lab server only through its gateway, which serves the forge and S3.
  const viaGateway = await server.driver.exec(session.handle!, ['/bin/sh', '-c', `curl -s -H 'Host: ${host}' "$AWS_ENDPOINT_URL/api/status"`]);
  assert.match(viaGateway.stdout, /Only the forge/, viaGateway.stdout);
  const sockets = await server.driver.exec(session.handle!, ['/bin/sh', '-c', 'ls -A /run/atelier/services']);
  assert.equal(sockets.stdout.trim(), '', "Bob's lab has no service running: it sees no socket, Alice's least of all");
  await alice.api(`/api/labs/${lab.id}`, { method: 'DELETE' });
  await bob.api(`/api/labs/${theirs.id}`, { method: 'DELETE' });
});

test("a lab that swaps its service's socket for a link to a host socket gets no proxying to it", async () => {
  const alice = new LearnerClient(server.url);
  const lab = await running(alice);
  const opened = await alice.api(`/api/labs/${lab.id}/services/jupyterlab/open`, { method: 'POST' });
  assert.equal(opened.status, 200);
  // The lab's own user kills its JupyterLab and leaves a link where the socket was, to the lab
  // server's gateway socket (a host path the server, as root, could reach).
  const gateway = `${server.config.dataDir}/run/gateway.sock`;
  await inLabOk(server, lab.id, `pkill -f "[j]upyter-lab"; sleep 0.5; rm -f /run/atelier/services/jupyterlab.sock; ln -s ${gateway} /run/atelier/services/jupyterlab.sock; ls -l /run/atelier/services`);
  const session = server.sessions.get(lab.id)!;
  assert.throws(() => server.driver.connectService(session.handle!, 'jupyterlab'), /replaced|does not listen/);
  // Through the proxy: the link is never followed (the server starts a fresh JupyterLab instead,
  // which takes the socket's place, or answers with its own page).
  const jar = await fetch(opened.body.url, { redirect: 'manual' });
  const cookie = jar.headers.getSetCookie()[0]!.split(';')[0]!;
  const response = await fetch(`${opened.body.origin}/git/`, { headers: { cookie }, redirect: 'manual' });
  const body = await response.text();
  assert.doesNotMatch(body, /Only the forge/, 'the gateway was reached through the link');
  await alice.api(`/api/labs/${lab.id}`, { method: 'DELETE' });
});

test('forged, altered and expired hand-offs are refused; a ticket is good once', async () => {
  const alice = new LearnerClient(server.url);
  const lab = await running(alice);
  const opened = await alice.api(`/api/labs/${lab.id}/services/jupyterlab/open`, { method: 'POST' });
  const url = new URL(opened.body.url);
  const ticket = url.searchParams.get('ticket')!;
  const parts = ticket.split('.');
  const altered = [...parts.slice(0, 4), String(Number(parts[4]) + 3_600_000), ...parts.slice(5)].join('.');
  for (const bad of [altered, `${ticket}x`, 'c' + ticket.slice(1), '', 'x'.repeat(600), ticket.replace(lab.id, 'AAAAAAAAAAAAAAAA')]) {
    const response = await fetch(`${url.origin}/.atelier/open?ticket=${encodeURIComponent(bad)}`, { redirect: 'manual' });
    assert.equal(response.status, 403, bad.slice(0, 40));
    assert.equal(response.headers.getSetCookie().length, 0);
  }
  const first = await fetch(url, { redirect: 'manual' });
  assert.equal(first.status, 303);
  const second = await fetch(url, { redirect: 'manual' });
  assert.equal(second.status, 403);
  // A cookie value forged from the ticket's own parts is no cookie of ours either.
  const forged = await fetch(`${url.origin}/api/status`, { headers: { cookie: `atelier_service=${'c' + ticket.slice(1)}` }, redirect: 'manual' });
  assert.equal(forged.status, 403);
  await alice.api(`/api/labs/${lab.id}`, { method: 'DELETE' });
});
