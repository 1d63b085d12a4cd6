/**
 * Learner content never runs on the platform's origin, in a real browser: learner A puts an HTML
 * page, an SVG and a text file with a script in `diffusion/` and hands learner B presigned links
 * (asking for inline text/html, as an attacker would). The payload steals B's /api/me, mints B a
 * git token and opens a lab when it runs with the site's origin — proven on A's own page first,
 * so that this test can fail. Through the links, B's browser downloads the page and the SVG
 * instead of showing them, and the same payload run inside the S3 origin's sandboxed document
 * reads nothing and changes nothing.
 */
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

interface Me {
  learner: { id: string };
  s3: { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string; sessionToken: string };
}

/** What the payload got: B's id if it could read /api/me, the statuses of its writes. */
interface Loot {
  origin: string;
  me: string;
  token: string;
  lab: string;
}

/**
 * The attacker's script: every way to B's data, relative (same origin as the page) and absolute
 * (the site's origin from wherever the page is). Runs as a page script and through evaluate.
 */
async function payload(site: string): Promise<Loot> {
  const attempt = async (run: () => Promise<string>): Promise<string> => {
    try {
      return await run();
    } catch (error) {
      return `blocked: ${(error as Error).name}`;
    }
  };
  const read = async (url: string) => {
    const response = await fetch(url, { credentials: 'include' });
    return `${response.status} ${await response.text()}`;
  };
  const write = async (url: string, body?: string) => {
    const response = await fetch(url, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, ...(body ? { body } : {}) });
    return `${response.status} ${(await response.text()).slice(0, 200)}`;
  };
  const both = (path: string, run: (url: string) => Promise<string>) =>
    Promise.all([attempt(() => run(path)), attempt(() => run(site + path))]).then((results) => results.join(' | '));
  const loot = {
    origin: self.origin,
    me: await both('/api/me', read),
    token: await both('/api/me/git/token', (url) => write(url)),
    lab: await both('/api/labs', (url) => write(url, JSON.stringify({ lab: 'terminal-basics' }))),
  };
  document.title = `ran:${JSON.stringify(loot)}`;
  return loot;
}

const page = (site: string) => `<!doctype html><title>evil</title><script>(${payload.toString()})(${JSON.stringify(site)})</script>`;
const svg = (site: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>(${payload.toString()})(${JSON.stringify(site)})</script></svg>`;

async function me(request: APIRequestContext): Promise<Me> {
  const response = await request.get('/api/me');
  expect(response.status()).toBe(200);
  return (await response.json()) as Me;
}

async function upload(request: APIRequestContext, key: string, body: string, type: string): Promise<void> {
  const response = await request.put(`/api/me/files?key=${encodeURIComponent(key)}`, { data: body, headers: { 'content-type': type } });
  expect(response.status(), await response.text()).toBe(201);
}

/** Opens `url` as a click on a link would; whether the browser downloaded it instead of showing it. */
async function open(victim: Page, url: string): Promise<{ downloaded: boolean }> {
  const download = victim.waitForEvent('download', { timeout: 5_000 }).then(
    () => true,
    () => false,
  );
  await victim.goto(url).catch((error: Error) => {
    if (!/Download is starting/.test(error.message)) throw error;
  });
  return { downloaded: await download };
}

test('a learner page, SVG or script in diffusion/ opened by another learner cannot read their account, mint a token or open a lab', async ({ browser, baseURL }) => {
  const site = baseURL!;
  const attacker = await browser.newContext();
  const victim = await browser.newContext();
  try {
    const a = await me(attacker.request);
    const b = await me(victim.request);
    expect(new URL(a.s3.endpoint).host, 'the S3 origin is not the site').not.toBe(new URL(site).host);
    const tokenBefore = await victim.request.post('/api/me/git/token', { headers: { origin: site } });
    expect(tokenBefore.status()).toBe(200);
    const { token } = (await tokenBefore.json()) as { token: string };
    // Running labs on the server: earlier tests' labs may end meanwhile, none may start.
    const health = async () => ((await (await victim.request.get('/healthz')).json()) as { labs: number }).labs;

    // The payload is potent where it has the site's origin: on A's own page it reads A's account.
    const own = await attacker.newPage();
    await own.goto('/fr/');
    const control = await own.evaluate(payload, site);
    expect(control.me).toContain(a.learner.id);
    expect(control.token).toMatch(/^200 /);
    expect(control.lab).toMatch(/^20[01] /);
    // The lab it opened for A is deleted before B is attacked.
    const opened = /"id":"([^"]+)"/.exec(control.lab)![1];
    expect((await attacker.request.delete(`/api/labs/${opened}`)).status()).toBe(204);
    const labsBefore = await health();

    await upload(attacker.request, 'diffusion/evil.html', page(site), 'text/html');
    await upload(attacker.request, 'diffusion/evil.svg', svg(site), 'image/svg+xml');
    await upload(attacker.request, 'diffusion/evil.txt', page(site), 'text/plain');
    const signer = new S3Client({ endpoint: a.s3.endpoint, region: a.s3.region, forcePathStyle: true, credentials: a.s3 });
    const link = (key: string, inline: boolean) =>
      getSignedUrl(signer, new GetObjectCommand({ Bucket: a.s3.bucket, Key: key, ...(inline ? { ResponseContentType: 'text/html', ResponseContentDisposition: 'inline' } : {}) }), { expiresIn: 600 });

    const tab = await victim.newPage();
    for (const key of ['diffusion/evil.html', 'diffusion/evil.svg']) {
      for (const inline of [false, true]) {
        const url = await link(key, inline);
        expect(new URL(url).origin).toBe(a.s3.endpoint);
        const { downloaded } = await open(tab, url);
        expect(downloaded, `${key}${inline ? ' (inline asked)' : ''} is downloaded, not shown`).toBe(true);
        expect(await tab.title()).not.toMatch(/^ran:/);
      }
    }

    // A document the browser does show from the S3 origin: a text file. The payload run inside it
    // (as if a script of it had run) finds itself in an opaque origin and gets nothing of B's.
    const shown = await open(tab, await link('diffusion/evil.txt', false));
    expect(shown.downloaded).toBe(false);
    await expect(tab.locator('body')).toContainText('<script>');
    const loot = await tab.evaluate(payload, site);
    expect(loot.origin, 'sandboxed: an opaque origin').toBe('null');
    expect(loot.me).not.toContain(b.learner.id);
    expect(loot.me).not.toMatch(/(^|\| )200 /);
    expect(loot.token).not.toMatch(/(^|\| )200 /);
    expect(loot.lab).not.toMatch(/(^|\| )20[01] /);

    // B's account is as it was: same learner, the token B had still opens B's forge, no lab.
    expect((await me(victim.request)).learner.id).toBe(b.learner.id);
    const forge = await victim.request.get(`/git/${b.learner.id}/none.git/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Basic ${Buffer.from(`${b.learner.id}:${token}`).toString('base64')}` },
    });
    expect(forge.status(), 'the token was not replaced').not.toBe(401);
    const wrong = await victim.request.get(`/git/${b.learner.id}/none.git/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Basic ${Buffer.from(`${b.learner.id}:atl_wrong`).toString('base64')}` },
    });
    expect(wrong.status(), 'a replaced token would be refused so').toBe(401);
    expect(await health()).toBeLessThanOrEqual(labsBefore);
    signer.destroy();
  } finally {
    await attacker.close();
    await victim.close();
  }
});
