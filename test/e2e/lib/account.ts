/** My account as the e2e tests fill it: git identity and a personal access token, injected into every lab. */
import { expect, type Page } from '@playwright/test';
import type fr from '../../../i18n/fr.json';

/** `base`: the site's origin when it is not the test's baseURL (atelier.localhost). */
export async function gitIdentityAndToken(page: Page, language: 'fr' | 'en', strings: typeof fr, base = ''): Promise<void> {
  await page.goto(`${base}/${language}/account/`);
  await page.getByLabel(strings.account.gitName).fill('Ada Lovelace');
  await page.getByLabel(strings.account.gitEmail).fill('ada@example.org');
  await page.getByRole('button', { name: strings.account.save, exact: true }).click();
  await expect(page.getByText(strings.account.saved)).toBeVisible();
  await page.getByRole('button', { name: strings.account.tokenNew }).click();
  await expect(page.getByText(strings.account.tokenShown)).toBeVisible();
}
