import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { guardEndpoint, keepContentInert, rendersInline } from '../../server/storage/content-safety.ts';
import { presignRefusal } from '../../server/storage/presign-lifetime.ts';
import { inlineScripts, sitePolicy } from '../../server/http/site-policy.ts';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

/** The head a real node:http server sends when `respond` writes it. */
async function headOf(respond: (res: ServerResponse) => void, guard = (res: ServerResponse) => keepContentInert(res)): Promise<IncomingHttpHeaders> {
  const server = createServer((_req, res) => {
    guard(res);
    respond(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await new Promise((resolve, reject) => {
      request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers));
      })
        .on('error', reject)
        .end();
    });
  } finally {
    server.close();
  }
}

test('passive types only show inline; html, svg, xml, pdf and unknown types do not', () => {
  for (const type of ['image/png', 'IMAGE/JPEG', 'text/plain; charset=utf-8', 'text/csv', 'application/json']) assert.ok(rendersInline(type), type);
  for (const type of ['text/html', 'image/svg+xml', 'application/xml', 'text/xml', 'application/xhtml+xml', 'application/pdf', 'binary/octet-stream', 'text/plain-ish', '', undefined]) {
    assert.ok(!rendersInline(type), String(type));
  }
});

test('the safety headers are set at the last moment, whichever way the head is written', async () => {
  const implicit = await headOf((res) => {
    res.setHeader('content-type', 'text/html');
    res.setHeader('content-disposition', 'inline; filename="report.html"');
    res.end('<script>1</script>');
  });
  assert.equal(implicit['content-disposition'], 'attachment; filename="report.html"');
  assert.match(String(implicit['content-security-policy']), /^sandbox;/);
  assert.equal(implicit['x-content-type-options'], 'nosniff');

  const explicit = await headOf((res) => res.writeHead(200, 'OK', { 'Content-Type': 'image/svg+xml' }).end('<svg/>'));
  assert.equal(explicit['content-type'], 'image/svg+xml');
  assert.equal(explicit['content-disposition'], 'attachment');

  const image = await headOf((res) => res.writeHead(200, { 'content-type': 'image/png' }).end());
  assert.equal(image['content-disposition'], undefined, 'an image may show inline');
  assert.match(String(image['content-security-policy']), /sandbox/);
});

function presigned(path: string): IncomingMessage {
  return { url: path } as IncomingMessage;
}

test('presigned URLs are ended at the cap; unsigned and malformed ones are left to the endpoint', () => {
  const now = Date.UTC(2026, 11, 1, 12, 0, 0);
  const v4 = (signedAt: string, expires: number) => presigned(`/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=${signedAt}&X-Amz-Expires=${expires}&X-Amz-Signature=x`);
  assert.equal(presignRefusal(v4('20261201T115900Z', 604800), 120_000, now), undefined, 'a minute old, within a 2 min cap');
  assert.equal(presignRefusal(v4('20261201T115700Z', 604800), 120_000, now)?.code, 'AccessDenied', 'three minutes old, past the cap');
  assert.equal(presignRefusal(v4('20261201T115900Z', 30), 120_000, now)?.code, 'AccessDenied', 'its own expiry comes first');
  assert.equal(presignRefusal(v4('garbage', 60), 120_000, now), undefined);
  assert.equal(presignRefusal(presigned('/b/k'), 120_000, now), undefined);
  const v2 = (expiresAt: number) => presigned(`/b/k?AWSAccessKeyId=AK&Expires=${expiresAt / 1000}&Signature=s`);
  assert.equal(presignRefusal(v2(now + 60_000), 120_000, now), undefined);
  assert.equal(presignRefusal(v2(now + 3600_000), 120_000, now)?.code, 'AccessDenied', 'a SigV2 URL ending beyond the cap');
});

test('the guarded endpoint answers an ended URL itself, inert, and passes the rest on', async () => {
  let reached = 0;
  const endpoint = guardEndpoint((_req, res) => {
    reached += 1;
    res.setHeader('content-type', 'text/html');
    res.end('<p>object</p>');
  }, 1000);
  const server = createServer(endpoint);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const old = await fetch(`http://127.0.0.1:${port}/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20200101T000000Z&X-Amz-Expires=60`);
    assert.equal(old.status, 403);
    assert.match(await old.text(), /<Code>AccessDenied<\/Code>/);
    assert.match(old.headers.get('content-security-policy') ?? '', /sandbox/);
    assert.equal(reached, 0);
    const plain = await fetch(`http://127.0.0.1:${port}/b/k`);
    assert.equal(await plain.text(), '<p>object</p>');
    assert.equal(plain.headers.get('content-disposition'), 'attachment');
    assert.equal(reached, 1);
  } finally {
    server.close();
  }
});

test('the site policy allows the inline scripts of the build by hash, and no other inline script', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-policy-'));
  try {
    mkdirSync(join(dir, 'fr'));
    const theme = 'document.documentElement.dataset.theme = "dark";';
    writeFileSync(
      join(dir, 'fr', 'index.html'),
      `<html><head><script>${theme}</script><script type="module" src="/_astro/a.js"></script><script type="application/json" id="s">{"a":1}</script></head><body><script type="module">import "/x.js";</script></body></html>`,
    );
    assert.deepEqual(inlineScripts(`<script>${theme}</script><script src="/a.js"></script><script type="application/json">{}</script>`), [theme]);
    const policy = sitePolicy(dir);
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    const scriptSrc = policy.split('; ').find((directive) => directive.startsWith('script-src'))!;
    assert.deepEqual(scriptSrc.split(' ').slice(1).sort(), ["'self'", hash(theme), hash('import "/x.js";')].sort());
    assert.doesNotMatch(scriptSrc, /unsafe-inline/);
    assert.match(policy, /frame-ancestors 'none'/);
    assert.match(policy, /object-src 'none'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
