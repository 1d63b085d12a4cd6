/**
 * The terminal namespace against a real server and the real driver: typing, refusals, screen
 * replay on reconnect, resize, several viewers, and shells dying with their lab.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testLabId, type TestServer } from '../helpers/server.ts';
import { connectTerminal } from '../helpers/terminal.ts';

let server: TestServer;
let lab: { id: string; token: string };

before(async () => {
  server = await startTestServer();
  const response = await server.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  assert.equal(response.status, 201);
  lab = response.body;
});
after(async () => {
  await server?.cleanup();
});

test('a valid token gets a shell: typing `echo hi` prints hi', async () => {
  const terminal = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'typing' });
  try {
    assert.equal(typeof (await terminal.screen), 'string');
    terminal.type('echo h""i\r');
    await terminal.waitFor(/\bhi\r?\n/);
  } finally {
    terminal.close();
  }
});

test('bad handshakes are refused with { code, message }', async () => {
  const refusal = async (auth: Parameters<typeof connectTerminal>[1]) => {
    const error = await connectTerminal(server.url, auth).then(
      (client) => {
        client.close();
        assert.fail('connection accepted');
      },
      (error: Error & { data?: { code: string; message: string } }) => error,
    );
    return error.data;
  };
  assert.deepEqual(await refusal({ lab: lab.id, token: 'x'.repeat(43), lang: 'en' }), { code: 'forbidden', message: 'This service is not yours.' });
  assert.equal((await refusal({ lab: lab.id, token: '' }))?.code, 'unauthorized');
  assert.equal((await refusal({ lab: 'nolabhere', token: lab.token }))?.code, 'lab_gone');
  const bad = await refusal({ lab: lab.id, token: lab.token, terminal: 'Not Valid!', lang: 'en' });
  assert.equal(bad?.code, 'bad_request');
  assert.match(bad?.message ?? '', /terminal/);
  assert.equal((await refusal({ lab: lab.id, token: lab.token, cols: 1 }))?.code, 'bad_request');
});

test('reconnecting reattaches to the same shell and replays its screen', async () => {
  const first = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'replay' });
  first.type('export MARK=kept-$((6*7)); echo "before-$((40+2))"\r');
  await first.waitFor(/before-42/);
  first.close();
  await new Promise((resolve) => setTimeout(resolve, 100));

  const second = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'replay' });
  try {
    const screen = await second.screen;
    assert.match(screen, /before-42/, 'the screen shows what was printed before the reload');
    second.type('echo "$MARK"\r');
    await second.waitFor(/kept-42/, 5_000);
  } finally {
    second.close();
  }
});

test('resize changes what `stty size` reports', async () => {
  const terminal = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'resize', cols: 80, rows: 24 });
  try {
    terminal.type('stty size\r');
    await terminal.waitFor(/^24 80\r?$/m);
    const mark = terminal.output().length;
    terminal.socket.emit('resize', { cols: 132, rows: 43 });
    terminal.socket.emit('resize', { cols: 1, rows: 9999 }); // out of range: ignored
    await new Promise((resolve) => setTimeout(resolve, 50));
    terminal.type('stty size\r');
    await terminal.waitFor(/^43 132\r?$/m, 5_000, mark);
  } finally {
    terminal.close();
  }
});

test('several sockets on one shell all get its output; oversized input is ignored', async () => {
  const a = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'shared' });
  const b = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'shared' });
  try {
    await Promise.all([a.screen, b.screen]);
    a.type(`echo ${'y'.repeat(17 * 1024)}\r`);
    a.type('echo "both-$((1+1))"\r');
    await Promise.all([a.waitFor(/both-2/), b.waitFor(/both-2/)]);
    assert.doesNotMatch(a.output(), /yyyyyyyyyy/, 'the 17 KiB message never reached the shell');
  } finally {
    a.close();
    b.close();
  }
});

test('flow control: a flood does not outrun a client that stops acking', async () => {
  const terminal = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'flood' }, { ack: false });
  try {
    await terminal.screen;
    terminal.type('yes flood-line | head -c 4000000; echo done-$((1+2))\r');
    await terminal.waitFor(/flood-line/);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const received = terminal.output().length;
    assert.ok(received < 600 * 1024, `received ${received} characters without acking`);
    assert.doesNotMatch(terminal.output(), /done-3/);
    // Acking lets the rest through.
    const pump = setInterval(() => terminal.socket.emit('ack', 1_000_000), 20);
    try {
      await terminal.waitFor(/done-3/, 20_000);
    } finally {
      clearInterval(pump);
    }
  } finally {
    terminal.close();
  }
});

test('a shell that exits sends exit { code }; the next connection gets a fresh shell', async () => {
  const terminal = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'exiting' });
  await terminal.screen;
  terminal.type('export GONE=yes; exit 3\r');
  assert.deepEqual(await terminal.exited, { code: 3 });
  const fresh = await connectTerminal(server.url, { lab: lab.id, token: lab.token, terminal: 'exiting' });
  try {
    fresh.type('echo "gone=${GONE:-no}"\r');
    await fresh.waitFor(/gone=no/);
  } finally {
    fresh.close();
  }
});

test('deleting the lab ends its shells and refuses new connections', async () => {
  const created = await server.api('/api/labs', { method: 'POST', body: { lab: testLabId } });
  const doomed = created.body as { id: string; token: string };
  const terminal = await connectTerminal(server.url, { lab: doomed.id, token: doomed.token });
  await terminal.screen;
  const deleted = await server.api(`/api/labs/${doomed.id}`, { method: 'DELETE', token: doomed.token });
  assert.equal(deleted.status, 204);
  assert.deepEqual(await terminal.exited, { code: null, reason: 'lab_gone' });
  await assert.rejects(connectTerminal(server.url, { lab: doomed.id, token: doomed.token }), (error: Error & { data?: { code: string } }) => {
    assert.equal(error.data?.code, 'lab_gone');
    return true;
  });
});

test('a cross-origin handshake is refused', async () => {
  const { io } = await import('socket.io-client');
  const socket = io(`${server.url}/terminal`, {
    auth: { lab: lab.id, token: lab.token, cols: 80, rows: 24 },
    transports: ['polling'],
    extraHeaders: { origin: 'https://evil.example' },
    reconnection: false,
    forceNew: true,
  });
  try {
    const outcome = await new Promise<string>((resolve) => {
      socket.once('connect', () => resolve('connected'));
      socket.once('connect_error', () => resolve('refused'));
    });
    assert.equal(outcome, 'refused');
  } finally {
    socket.close();
  }
});
