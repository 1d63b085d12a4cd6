/**
 * Step help in Chromium on the practical's pages: hints revealed one at a time (button state,
 * hidden text), the solution's disclosure, Skip by keyboard after its confirmation, and Rebuild
 * after Delete (it launches the lab, runs the page's earlier steps and ticks them); axe on the
 * controls, opened, in light and dark themes.
 */
import { test, expect, type Browser, type Page } from '@playwright/test';
import { deleteLab, dockOf, launchHere, screenOf, terminalOf } from './lib/dock.ts';
import { wcagViolations } from './helpers/axe.ts';

async function themedPage(browser: Browser, theme: 'light' | 'dark'): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((value) => localStorage.setItem('starlight-theme', value), theme);
  return context.newPage();
}

test('hints one at a time, then hidden again; the solution only when asked for', async ({ page }) => {
  await page.goto('/en/datalab-tp/git/');
  const step = page.locator('li[data-step="cloned"]');
  const button = step.locator('.atelier-hints__button');
  const hints = step.locator('.atelier-hint');
  await expect(button).toHaveText('Show a hint (1/2)');
  await expect(button).toHaveAttribute('aria-expanded', 'false');
  await expect(button).toHaveAttribute('aria-controls', 'step-hints-cloned');
  await expect(hints.first()).toBeHidden();
  await button.click();
  await expect(hints.nth(0)).toBeVisible();
  await expect(hints.nth(0)).toContainText('$FORGE_URL');
  await expect(hints.nth(1)).toBeHidden();
  await expect(button).toHaveText('Show a hint (2/2)');
  await expect(button).toHaveAttribute('aria-expanded', 'true');
  // By keyboard too: the button keeps the focus while the hints come.
  await button.focus();
  await page.keyboard.press('Enter');
  await expect(hints.nth(1)).toBeVisible();
  await expect(button).toHaveText('Hide the hints');
  await expect(button).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(hints.first()).toBeHidden();
  await expect(button).toHaveText('Show a hint (1/2)');

  const solution = step.locator('details.atelier-solution');
  await expect(solution).not.toHaveAttribute('open');
  await expect(solution.locator('pre')).toBeHidden();
  await solution.getByText('Show the solution').click();
  await expect(solution.locator('pre')).toContainText('git clone "$FORGE_URL/tp-datalab.git"');
});

test('Skip by keyboard after a confirmation ticks the step; after Delete, Rebuild launches a lab and redoes the earlier step', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/en/datalab-tp/ephemeral/');
  await launchHere(page, 'Launch');
  // The dock names the current step by its words alone, not its help's buttons.
  await expect(dockOf(page).locator('.atelier-dock__step a')).toHaveText('In ~/work, create a file my-file.txt holding a sentence of your choice');
  const made = page.locator('li[data-step="made-file"]');
  const skip = made.getByRole('button', { name: 'Skip this step' });
  // Cancelled: nothing runs.
  page.once('dialog', (dialog) => void dialog.dismiss());
  await skip.focus();
  await page.keyboard.press('Enter');
  await expect(made.locator('input[type="checkbox"]')).not.toBeChecked();
  page.once('dialog', (dialog) => {
    expect(dialog.message()).toContain('Skip this step?');
    void dialog.accept();
  });
  await page.keyboard.press('Enter');
  await expect(made.locator('.atelier-step-actions__status')).toHaveText("Skipped: the step's script did it.", { timeout: 30_000 });
  await expect(made.locator('input[type="checkbox"]')).toBeChecked();
  await expect(made.locator('.atelier-check__result')).toHaveText('Done');

  await deleteLab(page, { delete: 'Delete', deleted: 'Service deleted' });
  // The server keeps the tick; the new lab has no file until the rebuild.
  const gone = page.locator('li[data-step="file-gone"]');
  page.once('dialog', (dialog) => {
    expect(dialog.message()).toContain('1 earlier checked steps');
    void dialog.accept();
  });
  await gone.getByRole('button', { name: 'Rebuild my service up to this step' }).click();
  const status = gone.locator('.atelier-step-actions__status');
  await expect(status).toHaveText('Your service is rebuilt up to this step.', { timeout: 60_000 });
  await expect(dockOf(page)).toBeVisible();
  const terminal = await terminalOf(page);
  await terminal.click();
  await page.keyboard.type('cat ~/work/my-file.txt\n');
  await expect(screenOf(page)).toContainText('My first file on the Datalab');
  await deleteLab(page, { delete: 'Delete', deleted: 'Service deleted' });
});

test('Rebuild says where it stopped and why: the git page without a Git account', async ({ page }) => {
  test.setTimeout(90_000);
  await page.goto('/fr/datalab-tp/git/');
  await launchHere(page, 'Lancer');
  const pushed = page.locator('li[data-step="pushed"]');
  page.once('dialog', (dialog) => void dialog.accept());
  await pushed.getByRole('button', { name: "Reconstruire mon service jusqu'à cette étape" }).click();
  await expect(pushed.locator('.atelier-step-actions__status')).toHaveText(/^Arrêt à 1\/2 \(Relancez le service .*\) : Votre compte n'a pas encore de nom Git/, { timeout: 30_000 });
  await deleteLab(page, { delete: 'Supprimer', deleted: 'Service supprimé' });
});

const viewports = [
  { name: 'wide', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844 },
] as const;

for (const theme of ['light', 'dark'] as const) {
  test(`step help has no WCAG 2.1 AA violation, opened, wide and on a phone (${theme})`, async ({ browser }) => {
    for (const viewport of viewports) {
      // Loaded at its size: the code blocks make themselves focusable for the width they load at.
      const page = await themedPage(browser, theme);
      await page.setViewportSize(viewport);
      await page.goto('/fr/datalab-tp/git/');
      const step = page.locator('li[data-step="cloned"]');
      await step.locator('.atelier-hints__button').click();
      await step.locator('.atelier-hints__button').click();
      await step.locator('details.atelier-solution summary').click();
      await expect(step.locator('details.atelier-solution pre')).toBeVisible();
      expect(await wcagViolations(page, `git ${theme} ${viewport.name}`)).toEqual([]);
      // A long command scrolls in its own block, not the page.
      expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
      await page.context().close();
    }
  });
}
