/** Caps that keep one client from growing the server without end. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testLabId } from '../helpers/server.ts';
import { connectTerminal } from '../helpers/terminal.ts';
import { maxViewersPerShell } from '../../server/terminal/index.ts';

const server = await startTestServer();
after(() => server.cleanup());

test('one shell takes a bounded number of viewers; the next is refused, the others keep working', async () => {
  const lab = (await server.api('/api/labs', { method: 'POST', body: { lab: testLabId } })).body;
  const viewers = [];
  try {
    for (let i = 0; i < maxViewersPerShell; i++) viewers.push(await connectTerminal(server.url, { lab: lab.id, token: lab.token }));
    await assert.rejects(connectTerminal(server.url, { lab: lab.id, token: lab.token, lang: 'en' }), (error: Error & { data?: { code?: string } }) => {
      assert.equal(error.data?.code, 'too_many_terminals');
      return true;
    });
    viewers[0]!.type('echo still-here\r');
    await viewers.at(-1)!.waitFor(/still-here\r?\n/);
  } finally {
    for (const viewer of viewers) viewer.close();
    await server.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
  }
});

test("new learner identities per address are rate limited, in the caller's language", async () => {
  let refused: { status: number; headers: Headers; body: any } | undefined;
  for (let i = 0; i <= server.config.learners.newLearnersPerHour && !refused; i++) {
    const response = await server.api('/api/me', { lang: 'en' });
    if (response.status !== 200) refused = response;
  }
  assert.ok(refused, 'a refusal came');
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error.code, 'too_many_visitors');
  assert.match(refused.body.error.message, /^Too many new visitors/);
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
});
