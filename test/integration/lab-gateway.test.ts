/**
 * The lab gateway of the local driver: 127.0.0.1:<port> inside a lab leads to a Unix socket of the
 * host (where the lab server serves its forge and S3). Real sandboxes, a real Node HTTP server on a
 * real socket, requests made from inside the lab with the tools labs have. Root only.
 * Run: node_modules/.bin/node --test test/integration/lab-gateway.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { LabHandle, LabSpec } from '../../server/drivers/driver.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { MiB, hostPidsOfUid, labSpec, startLab } from '../helpers/driver.ts';

const isRoot = process.getuid?.() === 0;
// A uid range of its own (local-driver.test uses 210000, the attack suite 230000).
const driver = new LocalDriver({ uidBase: 220_000, uidCount: 50, cgroupName: 'atelier-test' });
const PORT = 4321;
const BIG = 4 * MiB;

const spec = (id: string, extra: Partial<LabSpec> = {}) => labSpec(id, extra);

/** Deterministic bytes for GET /big?n=N, so that the lab can be checked against the host. */
function bigBody(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 10)) & 0xff;
  return b;
}

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}


/** python3 -c script with its arguments, inside the lab. */
const py = (lab: LabHandle, script: string, args: string[] = [], timeoutMs = 15_000) =>
  driver.exec(lab, ['python3', '-c', script, ...args], { timeoutMs });

describe('lab gateway (real sandboxes, real sockets)', { skip: !isRoot && 'needs root' }, () => {
  let dir: string;
  let socketPath: string;
  let server: http.Server;
  let lab: LabHandle;
  const seen: Seen[] = [];
  let active = 0;
  let maxActive = 0;

  before(async () => {
    await driver.reapAll();
    // A private directory (0700, like the server's data directory): the lab still reaches the socket.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-gw-'));
    fs.chmodSync(dir, 0o700);
    socketPath = path.join(dir, 'gateway.sock');
    server = http.createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      active++;
      maxActive = Math.max(maxActive, active);
      res.on('close', () => active--);
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'POST' && url.pathname === '/echo') {
        // Streams the body back while it still arrives: both directions at once.
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': req.headers['content-length'] ?? '0' });
        req.pipe(res);
        return;
      }
      if (url.pathname === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bigBody(Number(url.searchParams.get('n'))));
        return;
      }
      if (url.pathname.startsWith('/git/')) {
        req.resume();
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no such repository\n');
        return;
      }
      const delay = Number(url.searchParams.get('delay') ?? 0);
      req.resume();
      req.on('end', () => setTimeout(() => res.end(`ok ${req.method} ${req.url}\n`), delay));
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    fs.chmodSync(socketPath, 0o666);
    lab = await startLab(driver, spec('gw-main', { gateway: { socketPath, port: PORT } }));
  });

  after(async () => {
    await driver.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('python urllib: http://127.0.0.1:<port> and http://localhost:<port> reach the socket, headers intact', async () => {
    const r = await py(lab, [
      'import sys, urllib.request as u',
      'for url in sys.argv[1:]:',
      "    req = u.Request(url, headers={'Authorization': 'AWS4-HMAC-SHA256 Credential=x', 'x-amz-date': '20250101T000000Z'})",
      "    print(u.urlopen(req, timeout=5).read().decode(), end='')",
    ].join('\n'), [`http://127.0.0.1:${PORT}/git/../s3/bucket/key?list-type=2`, `http://localhost:${PORT}/bucket/k%20ey`]);
    assert.equal(r.code, 0, r.stderr);
    // Byte for byte: the forwarder neither parses nor normalizes (no ../ resolution, no re-encoding).
    assert.equal(r.stdout, 'ok GET /git/../s3/bucket/key?list-type=2\nok GET /bucket/k%20ey\n');
    const [a, b] = seen.slice(-2);
    // SigV4 signs the Host header: it must arrive as the lab wrote it.
    assert.equal(a?.headers.host, `127.0.0.1:${PORT}`);
    assert.equal(b?.headers.host, `localhost:${PORT}`);
    assert.equal(b?.headers.authorization, 'AWS4-HMAC-SHA256 Credential=x');
    assert.equal(b?.headers['x-amz-date'], '20250101T000000Z');
  });

  it('localhost resolves to 127.0.0.1 only', async () => {
    const r = await py(lab, "import socket; print(sorted({a[4][0] for a in socket.getaddrinfo('localhost', 80)}))");
    assert.equal(r.stdout.trim(), "['127.0.0.1']", r.stderr);
  });

  it('curl and git use it too (git fails cleanly on a missing repository)', async (t) => {
    if (fs.existsSync('/usr/bin/curl')) {
      const c = await driver.exec(lab, ['curl', '-sS', '-X', 'PUT', '--data-binary', 'abc', `http://localhost:${PORT}/bucket/obj`]);
      assert.equal(c.code, 0, c.stderr);
      assert.equal(c.stdout, 'ok PUT /bucket/obj\n');
    } else {
      t.diagnostic('curl is not installed under /usr/bin: skipped');
    }
    const g = await driver.exec(lab, ['git', 'ls-remote', `http://127.0.0.1:${PORT}/git/ada/depot.git`], { timeoutMs: 10_000 });
    assert.notEqual(g.code, 0);
    assert.match(g.stderr, /not found/);
    assert.ok(seen.some((s) => s.url === '/git/ada/depot.git/info/refs?service=git-upload-pack' && /^git\//.test(String(s.headers['user-agent']))));
  });

  it(`a ${BIG / MiB} MB POST round-trips (streamed both ways), a ${BIG / MiB} MB download arrives intact`, async () => {
    const script = [
      'import os, sys, socket, threading, hashlib',
      'port, n = int(sys.argv[1]), int(sys.argv[2])',
      'body = os.urandom(n)',
      "s = socket.create_connection(('127.0.0.1', port))",
      "head = b'POST /echo HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n' % n",
      'w = threading.Thread(target=lambda: (s.sendall(head), s.sendall(body)))',
      'w.start()',
      'got = bytearray()',
      'while True:',
      '    d = s.recv(1 << 16)',
      '    if not d: break',
      '    got += d',
      'w.join()',
      "h, _, b = bytes(got).partition(b'\\r\\n\\r\\n')",
      "print(h.split(b'\\r\\n')[0].decode(), len(b), b == body)",
      'import urllib.request as u',
      "d = u.urlopen('http://localhost:%d/big?n=%d' % (port, n), timeout=10).read()",
      'print(len(d), hashlib.sha256(d).hexdigest())',
    ].join('\n');
    const r = await py(lab, script, [String(PORT), String(BIG)], 20_000);
    assert.equal(r.code, 0, r.stderr);
    const [echo, download] = r.stdout.trim().split('\n');
    assert.equal(echo, `HTTP/1.1 200 OK ${BIG} True`);
    assert.equal(download, `${BIG} ${createHash('sha256').update(bigBody(BIG)).digest('hex')}`);
  });

  it('concurrent requests are served concurrently (one forwarder, no fork per connection)', async () => {
    maxActive = 0;
    const script = [
      'import sys, threading, time, urllib.request as u',
      'port = int(sys.argv[1]); out = []',
      'def get(i):',
      "    out.append(u.urlopen('http://127.0.0.1:%d/c/%d?delay=300' % (port, i), timeout=10).read().decode())",
      't0 = time.time()',
      'ts = [threading.Thread(target=get, args=(i,)) for i in range(24)]',
      '[t.start() for t in ts]; [t.join() for t in ts]',
      "print(len(out), sum(o.startswith('ok GET /c/') for o in out), round(time.time() - t0, 2))",
    ].join('\n');
    // Two execs at once as well: two terminals of the same lab.
    const rs = await Promise.all([py(lab, script, [String(PORT)]), py(lab, script, [String(PORT)])]);
    for (const r of rs) {
      assert.equal(r.code, 0, r.stderr);
      const [n, ok, secs] = r.stdout.trim().split(' ').map(Number);
      assert.equal(n, 24);
      assert.equal(ok, 24);
      assert.ok((secs as number) < 3, `24 requests of 300 ms took ${secs} s: not concurrent`);
    }
    assert.ok(maxActive >= 24, `the server saw ${maxActive} requests at once`);
    // Still one forwarder process, the connections are gone.
    const ps = await driver.exec(lab, ['sh', '-c', 'ps -eo args | grep -c "^atelier-gateway"']);
    assert.equal(ps.stdout.trim(), '1');
  });

  it('overhead: 100 small requests through the gateway vs. directly on the socket', async (t) => {
    const script = [
      'import sys, time, socket, http.client',
      'port = int(sys.argv[1])',
      'class U(http.client.HTTPConnection):',
      "    def connect(self): self.sock = socket.socket(socket.AF_UNIX); self.sock.connect('/run/atelier/gateway.sock')",
      'def run(mk):',
      '    t = time.perf_counter()',
      '    for i in range(100):',
      "        c = mk(); c.request('GET', '/p'); r = c.getresponse(); r.read(); c.close(); assert r.status == 200",
      '    return (time.perf_counter() - t) * 1000',
      "tcp = lambda: http.client.HTTPConnection('127.0.0.1', port)",
      "unix = lambda: U('localhost')",
      'run(tcp); run(unix)',
      "print('%.1f %.1f' % (min(run(tcp) for _ in range(3)), min(run(unix) for _ in range(3))))",
    ].join('\n');
    const r = await py(lab, script, [String(PORT)]);
    assert.equal(r.code, 0, r.stderr);
    const [viaGateway, direct] = r.stdout.trim().split(' ').map(Number) as [number, number];
    t.diagnostic(`100 requests (new connection each): ${viaGateway} ms through 127.0.0.1:${PORT}, ${direct} ms on the socket`);
    assert.ok(viaGateway < 2000, `${viaGateway} ms`);
  });

  it('the forwarder is a lab process: lab uid, lab cgroups, no capability, gone with the lab', async () => {
    const l = await startLab(driver, spec('gw-stop', { gateway: { socketPath, port: 8080 } }));
    const { uid, cgroupDirs } = l.state as { uid: number; cgroupDirs: string[] };
    const fwd = hostPidsOfUid(uid).filter((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('atelier-gateway 127.0.0.1:8080'));
    assert.equal(fwd.length, 1);
    const pid = fwd[0] as number;
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, /^CapEff:\t0000000000000000$/m);
    assert.match(status, /^CapBnd:\t0000000000000000$/m);
    const cg = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    for (const d of cgroupDirs) assert.ok(cg.includes(path.basename(d)), `${pid} in ${d}: ${cg}`);
    const r = await py(l, "import urllib.request as u; print(u.urlopen('http://localhost:8080/other', timeout=5).read().decode(), end='')");
    assert.equal(r.stdout, 'ok GET /other\n', r.stderr);
    await driver.stop(l);
    assert.deepEqual(hostPidsOfUid(uid), []);
  });

  it('a fresh driver recovers the lab (list() still finds its keeper), the gateway keeps working', async () => {
    const other = new LocalDriver({ uidBase: 220_000, uidCount: 50, cgroupName: 'atelier-test' });
    const h = (await other.list()).find((x) => x.sessionId === 'gw-main');
    assert.ok(h, 'recovered');
    assert.equal(h.labId, 'datalab-discovery');
    const r = await other.exec(h, ['python3', '-c', `import urllib.request as u; print(u.urlopen('http://localhost:${PORT}/again').read().decode(), end='')`]);
    assert.equal(r.stdout, 'ok GET /again\n', r.stderr);
  });

  it('start fails cleanly when the gateway is not a socket, or the port is invalid', async () => {
    const notSocket = path.join(dir, 'plain-file');
    fs.writeFileSync(notSocket, 'x');
    await assert.rejects(startLab(driver, spec('gw-bad', { gateway: { socketPath: notSocket, port: PORT } })), /not a Unix socket/);
    await assert.rejects(startLab(driver, spec('gw-bad', { gateway: { socketPath: path.join(dir, 'absent.sock'), port: PORT } })), /cannot open the gateway socket/);
    await assert.rejects(startLab(driver, spec('gw-bad', { gateway: { socketPath, port: 0 } })), /gateway.port/);
    assert.ok(!(await driver.list()).some((h) => h.sessionId === 'gw-bad'));
  });

  it('when the server stops listening, requests fail fast and the lab is unharmed', async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    const r = await py(lab, [
      'import urllib.request as u',
      'try:',
      "    u.urlopen('http://127.0.0.1:%d/x' % " + PORT + ', timeout=5).read(); print("answered")',
      'except Exception as e:',
      "    print('failed', type(e).__name__)",
    ].join('\n'));
    assert.match(r.stdout, /^failed (RemoteDisconnected|ConnectionResetError|URLError)/, r.stdout + r.stderr);
    assert.equal((await driver.exec(lab, ['echo', 'alive'])).stdout, 'alive\n');
  });
});
