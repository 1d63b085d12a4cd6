import { test, expect, type Page } from '@playwright/test';
import { deleteLab, screenOf, terminalOf } from './lib/dock.ts';

const cases = [
  { language: 'fr', launch: 'Lancer', check: 'Vérifier', passed: 'Validé', delete: 'Supprimer', deleted: 'Service supprimé', folder: 'mon-dossier' },
  { language: 'en', launch: 'Launch', check: 'Check', passed: 'Done', delete: 'Delete', deleted: 'Service deleted', folder: 'my-folder' },
] as const;

/** Every request a page makes must go to the server it came from: the site works air-gapped. */
function recordForeignRequests(page: Page, origin: string): string[] {
  const foreign: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
  });
  return foreign;
}

for (const c of cases) {
  test(`${c.language}: launch, type in the terminal, pass a check, keep it after a reload`, async ({ page, baseURL }) => {
    const foreign = recordForeignRequests(page, baseURL!);
    await page.goto(`/${c.language}/tp/terminal/`);
    const card = page.locator('atelier-launch');
    await card.getByRole('button', { name: c.launch }).click();

    const terminal = await terminalOf(page);

    // A check before the work is done fails and says what it expected.
    const step = page.locator('li[data-step="made-dir"]');
    await step.getByRole('button', { name: c.check }).click();
    await expect(step.locator('.atelier-check__result')).toContainText(c.folder);
    await expect(step.locator('input[type="checkbox"]')).not.toBeChecked();

    await terminal.click();
    await page.keyboard.type(`mkdir ${c.folder} && ls\n`);
    await expect(screenOf(page)).toContainText(c.folder);

    await step.getByRole('button', { name: c.check }).click();
    await expect(step.locator('.atelier-check__result')).toHaveText(c.passed);
    await expect(step.locator('input[type="checkbox"]')).toBeChecked();

    // A plain step is a real checkbox too.
    const plain = page.locator('li[data-step]:not([data-check]) input[type="checkbox"]').first();
    await plain.check();

    await page.reload();
    await expect(page.locator('li[data-step="made-dir"] input[type="checkbox"]')).toBeChecked();
    await expect(page.locator('li[data-step]:not([data-check]) input[type="checkbox"]').first()).toBeChecked();
    // The lab survives the reload: the dock comes back with the same shell and its screen.
    await terminalOf(page);
    await expect(screenOf(page)).toContainText(c.folder, { timeout: 15_000 });

    await deleteLab(page, c);
    await expect(card.getByRole('button', { name: c.launch })).toBeVisible();
    expect(foreign).toEqual([]);
  });
}

test('progress is shared between the French and English versions of a page', async ({ page }) => {
  await page.goto('/fr/tp/terminal/');
  const first = page.locator('li[data-step]:not([data-check])').first();
  const id = await first.getAttribute('data-step');
  await first.locator('input[type="checkbox"]').check();
  await page.goto('/en/tp/terminal/');
  await expect(page.locator(`li[data-step="${id}"] input[type="checkbox"]`)).toBeChecked();
});

test('the root sends visitors to their language', async ({ browser, baseURL }) => {
  for (const [accept, expected] of [['en-US,en;q=0.9', '/en/'], ['fr-FR,fr;q=0.9', '/fr/'], ['de-DE', '/fr/']] as const) {
    const context = await browser.newContext({ locale: accept.split(',')[0], extraHTTPHeaders: { 'Accept-Language': accept } });
    const page = await context.newPage();
    await page.goto(baseURL! + '/');
    expect(new URL(page.url()).pathname).toBe(expected);
    await context.close();
  }
});
