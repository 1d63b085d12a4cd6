/**
 * Sign-in in Chromium with a real OpenID provider (test/helpers/oidc.ts) and a lab server of
 * its own configured for it (a real process on the built site): two browser contexts (two
 * computers) sign in through the provider's own pages; what the first made before signing in is
 * there on the second; signing out through the provider leaves a new anonymous visitor with
 * nothing of the person left in the browser. Sign-in and sign-out by keyboard; the header and
 * the School account card have no axe violation.
 */
import { test, expect, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProvider, type TestProvider } from '../helpers/oidc.ts';
import { wcagViolations } from './helpers/axe.ts';
import fr from '../../i18n/fr.json' with { type: 'json' };

const root = join(import.meta.dirname, '..', '..');
let provider: TestProvider;
let server: ChildProcess;
let dataDir: string;
let origin: string;

test.beforeAll(async () => {
  test.setTimeout(90_000);
  const port = await freePort();
  origin = `http://localhost:${port}`;
  provider = await startProvider(origin);
  dataDir = mkdtempSync(join(tmpdir(), 'atelier-e2e-sign-in-'));
  server = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(root, 'server', 'main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      ATELIER_DATA_DIR: dataDir,
      ATELIER_ORIGIN: origin,
      ATELIER_DEPLOYMENT: 'e2e-sign-in',
      ATELIER_LAB_UID_BASE: '293000',
      ATELIER_LAB_UID_COUNT: '20',
      ATELIER_MAX_LABS: '20',
      ATELIER_VSCODE: 'off',
      ATELIER_OIDC_ISSUER: provider.issuer,
      ATELIER_OIDC_CLIENT_ID: provider.clientId,
      ATELIER_OIDC_CLIENT_SECRET: provider.clientSecret,
      ATELIER_OIDC_SCOPES: 'openid profile email groups',
      ATELIER_OIDC_TRAINER_CLAIM: 'groups=trainers',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${origin}/healthz`).then((response) => response.ok, () => false))) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error('the lab server did not start');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
  await provider?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** From the header by keyboard, then through the provider's own login and consent pages, as a person does. */
async function signIn(page: Page, login: string): Promise<void> {
  await page.locator('atelier-sign-in').first().getByRole('link', { name: fr.signIn.signIn }).focus();
  await page.keyboard.press('Enter');
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((url) => url.origin === origin);
}

test('two computers: data made before signing in is on the second; signing out leaves nothing of the person', async ({ browser }) => {
  const laptop = await browser.newContext({ locale: 'fr-FR' });
  const desktop = await browser.newContext({ locale: 'fr-FR' });
  try {
    const page = await laptop.newPage();
    await page.goto(`${origin}/fr/`);
    const signInLink = page.locator('atelier-sign-in').first().getByRole('link', { name: fr.signIn.signIn });
    await expect(signInLink).toBeVisible();
    expect(await wcagViolations(page, 'home, signed out')).toEqual([]);
    await page.goto(`${origin}/fr/secrets/`);
    await page.getByLabel('Nom du groupe').fill('projet');
    await page.getByLabel('NOM', { exact: true }).fill('API_KEY');
    await page.getByLabel('valeur', { exact: true }).fill('laptop-secret');
    await page.getByRole('button', { name: 'Enregistrer le groupe' }).click();
    await expect(page.locator('li[data-group="projet"]')).toContainText('API_KEY');
    const anonymous = await page.evaluate(async () => ((await (await fetch('/api/me')).json()) as { learner: { id: string } }).learner.id);

    await signIn(page, 'ada');
    expect(new URL(page.url()).pathname).toBe('/fr/secrets/');
    const header = page.locator('atelier-sign-in').first();
    await expect(header).toContainText('Connecté·e : Ada Lovelace');
    await expect(header.getByRole('button', { name: fr.signIn.signOut })).toBeVisible();
    await expect(page.locator('li[data-group="projet"]')).toContainText('API_KEY');

    const other = await desktop.newPage();
    await other.goto(`${origin}/fr/account/`);
    await expect(other.locator('atelier-account')).toContainText(fr.signIn.anonymousIntro);
    await signIn(other, 'ada');
    await expect(other.locator('atelier-account')).toContainText('ada@school.example');
    expect(await other.evaluate(async () => ((await (await fetch('/api/me')).json()) as { learner: { id: string } }).learner.id)).toBe(anonymous);
    await other.goto(`${origin}/fr/secrets/`);
    await expect(other.locator('li[data-group="projet"]')).toContainText('API_KEY');

    await page.goto(`${origin}/fr/account/`);
    const card = page.locator('section[aria-labelledby="atelier-school-account"]');
    await expect(card).toContainText('Ada Lovelace');
    expect(await wcagViolations(page, 'My account, signed in')).toEqual([]);

    await page.evaluate(() => localStorage.setItem('atelier-test-left-behind', '1'));
    await card.getByRole('button', { name: fr.signIn.signOut }).focus();
    await page.keyboard.press('Space');
    // The provider asks whether to sign out there too.
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${origin}/fr/`);
    await expect(page.locator('atelier-sign-in').first().getByRole('link', { name: fr.signIn.signIn })).toBeVisible();
    // Starlight's own theme choice is written again by the new page; nothing of Atelier's is left.
    expect(await page.evaluate(() => Object.keys(localStorage).filter((key) => key !== 'starlight-theme'))).toEqual([]);
    expect((await laptop.cookies(origin)).map((cookie) => cookie.name)).not.toContain('atelier_account');
    const after = await page.evaluate(async () => ((await (await fetch('/api/me')).json()) as { learner: { id: string } }).learner.id);
    expect(after).not.toBe(anonymous);
    await page.goto(`${origin}/fr/secrets/`);
    await expect(page.locator('li[data-group="projet"]')).toHaveCount(0);
  } finally {
    await laptop.close();
    await desktop.close();
  }
});
