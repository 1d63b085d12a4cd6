/**
 * The lab gateway's TCP port (ATELIER_LAB_GATEWAY_PORT), which labs in pods reach the server by:
 * like the local labs' socket, it answers the forge and S3 only — not the site, the API, the
 * metrics or a service origin, whatever Host or path a lab sends.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';

let server: TestServer | undefined;
after(() => server?.cleanup());

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

function get(port: number, path: string, host = `127.0.0.1:${port}`): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}

test('the gateway port answers the forge and S3, and nothing else of the server', async () => {
  const port = await freePort();
  server = await startTestServer({ driver: new MemoryDriver(), config: { labGatewayPort: port } });
  for (const [path, host] of [
    ['/', undefined],
    ['/api/me', undefined],
    ['/metrics', undefined],
    ['/healthz', undefined],
    ['/fr/', undefined],
    ['/', `jupyterlab-aaaaaaaaaaaaaaaa.apps.atelier.localhost:${server.port}`],
    ['/api/me', `atelier.localhost:${server.port}`],
  ] as const) {
    const answer = await get(port, path, host);
    assert.equal(answer.status, 404, `${host ?? ''}${path}`);
    assert.match(answer.body, /Only the forge/);
  }
  // S3 answers (a forged signature is refused by S3 itself, in S3's words).
  const s3 = await get(port, '/some-bucket/some-key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=nobody%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00');
  assert.equal(s3.status, 403);
  assert.match(s3.body, /<Error>/);
  // The forge answers (an anonymous clone of an unknown repository is refused by the forge).
  const forge = await get(port, '/git/nobody/nothing.git/info/refs?service=git-upload-pack');
  assert.ok(forge.status === 401 || forge.status === 404, `forge: ${forge.status}`);
  assert.doesNotMatch(forge.body, /Only the forge/);
});

test('the gateway port holds at most its connections: one more is closed at once, and a freed slot is served again', async () => {
  const { listenGateway } = await import('../../server/http/gateway.ts');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { connect } = await import('node:net');
  const dir = mkdtempSync(join(tmpdir(), 'atelier-gateway-cap-'));
  const port = await freePort();
  const gateway = await listenGateway(join(dir, 'gateway.sock'), { dispatch: () => false }, undefined, { port, host: '127.0.0.1', maxConnections: 3 });
  const open = () =>
    new Promise<import('node:net').Socket>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });
  const closed = (socket: import('node:net').Socket) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the connection past the cap was kept')), 5000);
      socket.once('close', () => (clearTimeout(timer), resolve()));
    });
  try {
    const held = [await open(), await open(), await open()];
    const extra = await open();
    await closed(extra);
    held[0]!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await open();
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      again.on('data', (data: Buffer) => (text += data.toString()));
      again.on('end', () => resolve(text));
      again.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    assert.match(answer, /Only the forge/);
    for (const socket of held) socket.destroy();
  } finally {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
