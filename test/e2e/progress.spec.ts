import { test, expect, type Browser, type BrowserContext } from '@playwright/test';

/**
 * Progress that follows the learner, in Chromium: two browser contexts holding the same learner
 * cookie are two devices of one learner; a tab of the same context is another tab.
 */
const tutorial = '/fr/tp/terminal/';
const english = '/en/tp/terminal/';

function box(page: import('@playwright/test').Page, step: string) {
  return page.locator(`li[data-step="${step}"]`).locator('input[type="checkbox"]').first();
}

/** A learner (cookie set by GET /api/me) and a second device: a context with the same cookie only. */
async function twoDevices(browser: Browser, baseURL: string): Promise<[BrowserContext, BrowserContext]> {
  const first = await browser.newContext({ baseURL });
  const setup = await first.newPage();
  await setup.goto(tutorial);
  expect((await setup.request.get('/api/me')).ok()).toBe(true);
  await setup.close();
  const { cookies } = await first.storageState();
  const second = await browser.newContext({ baseURL, storageState: { cookies, origins: [] } });
  return [first, second];
}

test('a manual step ticked on one device ticks on the other within a second, and comes back from the server after localStorage is cleared', async ({ browser, baseURL }) => {
  const [laptop, phone] = await twoDevices(browser, baseURL!);
  const here = await laptop.newPage();
  const there = await phone.newPage();
  // A device follows the other once its event stream has answered (the server subscribes it
  // before the headers go out). Waited for from before the navigation: it may open during it.
  const following = [here, there].map((page) => page.waitForResponse((response) => response.url().includes('/api/progress/events')));
  await here.goto(tutorial);
  await there.goto(tutorial);
  await Promise.all(following);

  const events = there.evaluate(
    () => new Promise<{ step: string; done: boolean }>((resolve) => document.addEventListener('atelier:progress', (event) => resolve((event as CustomEvent).detail), { once: true })),
  );
  await box(here, 'show-dir').check();
  await expect(box(there, 'show-dir')).toBeChecked({ timeout: 1000 });
  expect(await events).toEqual({ step: 'show-dir', done: true });

  // An un-tick travels the same way.
  await box(there, 'show-dir').uncheck();
  await expect(box(here, 'show-dir')).not.toBeChecked({ timeout: 1000 });
  await box(there, 'list-files').check();
  await expect(box(here, 'list-files')).toBeChecked({ timeout: 1000 });

  // A device that forgot everything (localStorage cleared) gets it back from the server, in the
  // other language too (both share the page's progress).
  await here.evaluate(() => localStorage.clear());
  await here.goto(english);
  await expect(box(here, 'list-files')).toBeChecked();
  await expect(box(here, 'show-dir')).not.toBeChecked();
  await laptop.close();
  await phone.close();
});

test('two tabs of one browser follow each other without the server stream (BroadcastChannel), and the page loads no socket.io before a launch', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL });
  const first = await context.newPage();
  const scripts: string[] = [];
  first.on('request', (request) => {
    if (request.resourceType() === 'script') scripts.push(request.url());
  });
  await first.goto(tutorial);
  const second = await context.newPage();
  await second.goto(tutorial);
  await box(first, 'list-hidden').check();
  await expect(box(second, 'list-hidden')).toBeChecked({ timeout: 1000 });
  expect(scripts.some((url) => /socket\.io|terminal-tabs/.test(url))).toBe(false);
  await context.close();
});

test('a checked step cannot be ticked by the browser: the server refuses it and says why', async ({ page }) => {
  await page.goto(tutorial);
  const answer = await page.evaluate(async () => {
    const response = await fetch('/api/progress', { method: 'PUT', headers: { 'Content-Type': 'application/json', 'Accept-Language': 'fr' }, body: JSON.stringify({ page: '/tp/terminal/', step: 'made-dir', done: true }) });
    return { status: response.status, body: await response.json() };
  });
  expect(answer.status).toBe(403);
  expect(answer.body.error.message).toContain('Vérifier');
  await page.reload();
  await expect(box(page, 'made-dir')).not.toBeChecked();
});
