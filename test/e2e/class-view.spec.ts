/**
 * A class in Chromium: the trainer signs in with the token and creates a class, two learners
 * join it in their own browsers; one passes a check in their lab and the trainer's table says so
 * without a reload; the trainer's message reaches the other learner's page as a notice they
 * dismiss, and one to the learner with a lab shows in their dock; the trainer pages and the join
 * page have no WCAG 2.1 AA violation, light and dark, phone and desktop.
 */
import { test, expect, type Browser, type Page } from '@playwright/test';
import fr from '../../i18n/fr.json' with { type: 'json' };
import { resize, wcagViolations } from './helpers/axe.ts';
import { launchHere, screenOf, terminalOf } from './lib/dock.ts';

const token = process.env.ATELIER_E2E_TRAINER_TOKEN!;
const phone = { name: 'phone', width: 390, height: 844 };
const laptop = { name: 'laptop', width: 1280, height: 800 };

async function signIn(page: Page): Promise<void> {
  await page.goto('/fr/trainer/');
  await page.getByLabel(fr.trainer.tokenLabel).fill(token);
  await page.getByRole('button', { name: fr.trainer.signIn }).click();
  await expect(page.getByText(fr.trainer.signedIn)).toBeVisible();
}

async function createClass(page: Page, title: string): Promise<string> {
  await page.getByLabel(fr.trainer.course).selectOption('/tp/');
  await page.getByLabel(fr.trainer.classTitle).fill(title);
  await page.getByRole('button', { name: fr.trainer.create }).click();
  const item = page.locator('.atelier-trainer__class', { hasText: title });
  await expect(item).toBeVisible();
  return (await item.locator('.atelier-trainer__code').textContent())!;
}

async function join(browser: Browser, code: string, name: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`/fr/join/?code=${code}`);
  await page.getByLabel(fr.join.name).fill(name);
  await page.getByRole('button', { name: fr.join.button }).click();
  await expect(page.getByRole('status')).toContainText(name);
  await page.getByRole('link', { name: fr.join.start }).click();
  await expect(page).toHaveURL(/\/fr\/tp\/terminal\/$/);
  return page;
}

test('a passed check updates the trainer\'s table live; a message reaches a learner\'s page', async ({ browser }) => {
  test.setTimeout(120_000);
  const trainer = await (await browser.newContext()).newPage();
  await signIn(trainer);
  const code = await createClass(trainer, 'Groupe du matin');
  await trainer.getByRole('link', { name: fr.trainer.openLabel.replace('{{title}}', 'Groupe du matin') }).click();
  const ada = await join(browser, code, 'Ada <b>L.</b>');
  const bob = await join(browser, code, 'Bob');
  const table = trainer.locator('table.atelier-class__table');
  await expect(table.locator('tbody tr')).toHaveCount(2);
  const adaRow = table.locator('tr', { has: trainer.getByRole('rowheader', { name: 'Ada <b>L.</b>' }) });
  await expect(adaRow).toContainText('0 sur ');
  // Stuck longest first: the default sort, announced on its header.
  await expect(table.locator('th[aria-sort="ascending"]')).toHaveAttribute('data-column', 'stuck');

  await launchHere(ada, fr.launch.button);
  const terminal = await terminalOf(ada);
  await terminal.click();
  await ada.keyboard.type('mkdir ~/work/mon-dossier && echo cr""ee\n');
  await expect(screenOf(ada)).toContainText('cree');
  const step = ada.locator('li[data-step="made-dir"]');
  await step.getByRole('button', { name: fr.steps.check }).click();
  await expect(step.locator('input[type="checkbox"]')).toBeChecked({ timeout: 20_000 });
  await expect(adaRow).toContainText('1 sur ', { timeout: 5_000 });
  await expect(adaRow).toContainText(fr.classView.labRunning.split(',')[0]!);

  await trainer.getByLabel(fr.classView.classMessage).fill('Pause de 10 minutes');
  await trainer.getByRole('button', { name: fr.classView.send, exact: true }).click();
  const notice = bob.locator('.atelier-class-message');
  await expect(notice).toContainText('Pause de 10 minutes', { timeout: 5_000 });
  await expect(notice).toHaveAttribute('role', 'status');
  await notice.getByRole('button', { name: fr.classMessage.dismiss }).click();
  await expect(notice).toHaveCount(0);
  await bob.reload();
  await expect(bob.locator('.atelier-class-message')).toHaveCount(0);

  // To one learner, whose lab is open: the notice sits in their dock.
  trainer.once('dialog', (dialog) => void dialog.accept('Ada, regarde la ligne 3'));
  await adaRow.getByRole('button', { name: fr.classView.messageLabel.replace('{{name}}', 'Ada <b>L.</b>') }).click();
  await expect(ada.locator('#atelier-dock .atelier-class-message', { hasText: 'Ada, regarde la ligne 3' })).toBeVisible({ timeout: 5_000 });
  await expect(bob.locator('.atelier-class-message')).toHaveCount(0);

  for (const page of [trainer, ada, bob]) await page.context().close();
});

for (const theme of ['light', 'dark'] as const) {
  test(`the trainer pages and the join page have no WCAG 2.1 AA violation (${theme})`, async ({ browser }) => {
    const context = await browser.newContext();
    await context.addInitScript((value) => localStorage.setItem('starlight-theme', value), theme);
    const page = await context.newPage();
    await signIn(page);
    const code = await createClass(page, `Classe ${theme}`);
    const learner = await join(browser, code, 'Camille');
    const found: string[] = [];
    // The join page as a member sees it: the form and their class with Leave.
    await learner.goto('/fr/join/');
    await expect(learner.getByRole('button', { name: fr.join.leaveLabel.replace('{{title}}', `Classe ${theme}`) })).toBeVisible();
    for (const viewport of [phone, laptop]) await resize(learner, viewport).then(async () => found.push(...(await wcagViolations(learner, `join ${theme} ${viewport.name}`))));
    const classLink = page.getByRole('link', { name: fr.trainer.openLabel.replace('{{title}}', `Classe ${theme}`) });
    for (const viewport of [phone, laptop]) await resize(page, viewport).then(async () => found.push(...(await wcagViolations(page, `trainer ${theme} ${viewport.name}`))));
    await classLink.click();
    await expect(page.locator('table.atelier-class__table tbody tr')).toHaveCount(1);
    for (const viewport of [phone, laptop]) {
      await resize(page, viewport);
      found.push(...(await wcagViolations(page, `class view ${theme} ${viewport.name}`)));
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      if (overflow > 0) found.push(`class view ${theme} ${viewport.name}: ${overflow} px wider than the screen`);
    }
    expect(found, found.join('\n')).toEqual([]);
    await learner.context().close();
    await context.close();
  });
}
