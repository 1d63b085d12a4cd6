/**
 * Sign-in in Chromium with a real OpenID provider (test/helpers/oidc.ts) and a lab server of
 * its own configured for it (a real process on the built site): two browser contexts (two
 * computers) sign in through the provider's own pages; what the first made before signing in is
 * there on the second; signing out through the provider leaves a new anonymous visitor with
 * nothing of the person left in the browser. Sign-in and sign-out by keyboard; the header and
 * the School account card have no axe violation.
 */
import { test, expect, type Page } from '@playwright/test';
import { signInThroughProvider, startOidcLabServer, type OidcLabServer } from './lib/oidc-server.ts';
import { wcagViolations } from './helpers/axe.ts';
import fr from '../../i18n/fr.json' with { type: 'json' };

let lab: OidcLabServer;
let origin: string;

test.beforeAll(async () => {
  test.setTimeout(90_000);
  lab = await startOidcLabServer('sign-in', 293_000);
  origin = lab.origin;
});

test.afterAll(async () => lab?.stop());

const signIn = (page: Page, login: string) => signInThroughProvider(page, origin, login, 'keyboard');

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
