/**
 * Attacks on sign-in, against a real OpenID provider (test/helpers/oidc.ts): a callback whose
 * state was changed, a code replayed, a transaction cookie forged, expired or with another
 * nonce, open redirects through `return`, login CSRF (a callback this browser did not start),
 * a login reached on another host name, a cross-site sign-out. None signs anybody in.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { Browser, freePort, startProvider, type Page, type TestProvider } from '../helpers/oidc.ts';
import { sameOriginPath, transactionCookie } from '../../server/http/oidc.ts';

let provider: TestProvider;
let server: TestServer;
let origin: string;

before(async () => {
  const port = await freePort();
  origin = `http://localhost:${port}`;
  provider = await startProvider(origin);
  server = await startTestServer({
    driver: new MemoryDriver(),
    config: { port, origin, oidc: { issuer: provider.issuer, clientId: provider.clientId, clientSecret: provider.clientSecret, scopes: 'openid profile email' } },
  });
});

after(async () => {
  await server?.cleanup();
  await provider?.stop();
});

async function signedIn(browser: Browser): Promise<boolean> {
  const page = await browser.request(`${origin}/api/auth`);
  return JSON.parse(page.text).signedIn;
}

/** The transaction cookie's JSON, and a way to put back a changed one signed by the server's own key. */
function transaction(browser: Browser) {
  const raw = decodeURIComponent(browser.cookie(origin, transactionCookie)!);
  const value = raw.slice(0, raw.lastIndexOf('.'));
  return {
    data: JSON.parse(Buffer.from(value, 'base64url').toString()) as Record<string, unknown>,
    put(data: Record<string, unknown>, sign = true) {
      const encoded = Buffer.from(JSON.stringify(data)).toString('base64url');
      browser.cookies(origin).set(transactionCookie, encodeURIComponent(sign ? server.app.signCookie(encoded) : `${encoded}${raw.slice(raw.lastIndexOf('.'))}`));
    },
  };
}

test('a callback with another state is refused', async () => {
  const browser = new Browser();
  const callback = new URL(await browser.callbackOf(origin, 'ada'));
  callback.searchParams.set('state', 'not-the-state');
  const page = await browser.request(callback.href);
  assert.equal(page.status, 400);
  assert.match(page.text, /n’a pas abouti|did not complete/);
  assert.equal(await signedIn(browser), false);
});

test('a code is used once: the same callback replayed with its transaction is refused by the provider', async () => {
  const browser = new Browser();
  const callback = await browser.callbackOf(origin, 'ada');
  const kept = browser.cookie(origin, transactionCookie)!;
  assert.equal((await browser.request(callback)).status, 303);
  assert.equal(await signedIn(browser), true);
  assert.equal(browser.cookie(origin, transactionCookie), undefined, 'the transaction is spent');

  const thief = new Browser();
  thief.cookies(origin).set(transactionCookie, kept);
  assert.equal((await thief.request(callback)).status, 400);
  assert.equal(await signedIn(thief), false);
});

test('a forged, expired or other-nonce transaction cookie is refused', async () => {
  const forged = new Browser();
  let callback = await forged.callbackOf(origin, 'ada');
  let tx = transaction(forged);
  tx.put({ ...tx.data, returnTo: 'https://evil.example/' }, false);
  assert.equal((await forged.request(callback)).status, 400, 'a signature that does not hold');
  assert.equal(await signedIn(forged), false);

  const expired = new Browser();
  callback = await expired.callbackOf(origin, 'ada');
  tx = transaction(expired);
  tx.put({ ...tx.data, expires: Date.now() - 1000 });
  assert.equal((await expired.request(callback)).status, 400, 'expired, signature right');
  assert.equal(await signedIn(expired), false);

  const nonce = new Browser();
  callback = await nonce.callbackOf(origin, 'ada');
  tx = transaction(nonce);
  tx.put({ ...tx.data, nonce: 'another-nonce' });
  assert.equal((await nonce.request(callback)).status, 400, 'the ID token carries another nonce');
  assert.equal(await signedIn(nonce), false);
});

test('the person cancels at the provider: the callback carries access_denied, the page says sign-in did not complete', async () => {
  const browser = new Browser();
  const start = await browser.follow(`${origin}/auth/login?return=/en/`);
  const cancel = /<a href="([^"]*)">\[ Cancel \]<\/a>/.exec(start.text)?.[1];
  assert.ok(cancel, 'the provider\'s login page offers to cancel');
  const pages: Page[] = [];
  const landed = await browser.follow(new URL(cancel.replaceAll('&amp;', '&'), start.url).href, {}, pages);
  assert.ok(pages.some((page) => page.url.startsWith(`${origin}/auth/callback?error=access_denied`)));
  assert.equal(landed.status, 400);
  assert.match(landed.text, /<html lang="en">[\s\S]*did not complete/);
  assert.equal(await signedIn(browser), false);
});

test('login CSRF: a callback started by another browser signs nobody in', async () => {
  const attacker = new Browser();
  const callback = await attacker.callbackOf(origin, 'grace');
  const victim = new Browser();
  const page = await victim.request(callback);
  assert.equal(page.status, 400);
  assert.equal(await signedIn(victim), false);
  // Nor with a transaction of its own (another state).
  await victim.request(`${origin}/auth/login?return=/fr/`);
  assert.equal((await victim.request(callback)).status, 400);
  assert.equal(await signedIn(victim), false);
});

test('return is a path of this origin only: open redirects land on the home page', async () => {
  for (const evil of ['https://evil.example/', '//evil.example/', '/\\evil.example/', '/\t/evil.example', 'javascript:alert(1)', 'evil', `${origin}.evil.example/`]) {
    const browser = new Browser();
    const callback = await browser.callbackOf(origin, 'ada', evil);
    const page = await browser.request(callback);
    assert.equal(page.status, 303, evil);
    assert.equal(page.headers.get('location'), '/fr/', evil);
  }
  assert.equal(sameOriginPath('/en/tp/x/?a=1#s', origin), '/en/tp/x/?a=1#s');
  assert.equal(sameOriginPath(`${origin}/fr/`, origin), undefined, 'absolute URLs are not paths');
});

test('a login reached on another host name goes to the configured origin first; the provider is given that origin\'s callback', async () => {
  const other = origin.replace('localhost', '127.0.0.1');
  const browser = new Browser();
  const page = await browser.request(`${other}/auth/login?return=/en/`, { headers: { 'x-forwarded-host': 'evil.example' } });
  assert.equal(page.status, 302);
  assert.equal(page.headers.get('location'), `${origin}/auth/login?return=/en/`);
  const start = await browser.request(page.headers.get('location')!, { headers: { 'x-forwarded-host': 'evil.example' } });
  assert.equal(new URL(start.headers.get('location')!).searchParams.get('redirect_uri'), `${origin}/auth/callback`);
  assert.equal(new URL(start.headers.get('location')!).searchParams.get('code_challenge_method'), 'S256');
});

test('sign-out from another site is refused; the signed-in browser stays signed in', async () => {
  const browser = new Browser();
  await browser.signIn(origin, 'ada');
  const page = await browser.request(`${origin}/auth/logout`, { method: 'POST', headers: { origin: 'https://evil.example' } });
  assert.equal(page.status, 403);
  assert.equal(await signedIn(browser), true);
});

test('behind https, the sign-in cookies are __Host- ones: a sign-in tossed by a sibling origin under the plain name is not taken', async () => {
  const port = await freePort();
  const secureOrigin = `http://localhost:${port}`;
  const secureProvider = await startProvider(secureOrigin);
  const behindProxy = await startTestServer({
    driver: new MemoryDriver(),
    config: { port, origin: secureOrigin, trustProxy: true, oidc: { issuer: secureProvider.issuer, clientId: secureProvider.clientId, clientSecret: secureProvider.clientSecret, scopes: 'openid' } },
  });
  try {
    const viaTls = (browser: Browser) => browser.headersFor.set(new URL(secureOrigin).host, { 'x-forwarded-proto': 'https' });
    const victim = new Browser();
    viaTls(victim);
    const start = await victim.request(`${secureOrigin}/auth/login?return=/fr/`);
    const transaction = start.headers.getSetCookie().find((line) => line.includes(transactionCookie))!;
    assert.match(transaction, /^__Host-atelier_oidc=[^;]+;.*Path=\/;.*Secure/i);
    const pages: Page[] = [];
    await victim.completeProviderPages(await victim.follow(start.headers.get('location')!), 'ada', pages);
    const callback = pages.find((page) => page.url.startsWith(`${secureOrigin}/auth/callback`))!;
    const account = callback.headers.getSetCookie().find((line) => line.includes('atelier_account'))!;
    assert.match(account, /^__Host-atelier_account=[^;]+;.*Path=\/;.*Secure/i);
    assert.equal(JSON.parse((await victim.request(`${secureOrigin}/api/auth`)).text).signedIn, true);

    // An attacker's own valid sign-in, set in another browser by a sibling origin under the names a
    // Domain cookie can have (no __Host- prefix): this host does not take it as a sign-in.
    const tossed = new Browser();
    viaTls(tossed);
    const jar = tossed.cookies(secureOrigin);
    jar.set('atelier_learner', victim.cookie(secureOrigin, 'atelier_learner')!);
    jar.set('atelier_account', victim.cookie(secureOrigin, '__Host-atelier_account')!);
    assert.equal(JSON.parse((await tossed.request(`${secureOrigin}/api/auth`)).text).signedIn, false);
    const me = JSON.parse((await tossed.request(`${secureOrigin}/api/me`)).text);
    assert.notEqual(me.learner.id, JSON.parse((await victim.request(`${secureOrigin}/api/me`)).text).learner.id, 'a new anonymous visitor, not the account');
  } finally {
    await behindProxy.cleanup();
    await secureProvider.stop();
  }
});
