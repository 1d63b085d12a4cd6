/** The dock, as the e2e tests reach it: the running lab beside the course (site/client/dock.ts). */
import { expect, type Locator, type Page } from '@playwright/test';

export function dockOf(page: Page): Locator {
  return page.locator('#atelier-dock');
}

/** The visible terminal of the dock, once its shell has printed a prompt. */
export async function terminalOf(page: Page): Promise<Locator> {
  const pane = dockOf(page).locator('.atelier-tabs__pane:not([hidden])');
  await expect(pane.locator('.xterm')).toBeVisible({ timeout: 20_000 });
  await expect(pane.locator('.xterm-rows')).toContainText('$', { timeout: 20_000 });
  return pane.locator('.xterm');
}

/** What the visible terminal shows. */
export function screenOf(page: Page): Locator {
  return dockOf(page).locator('.atelier-tabs__pane:not([hidden]) .xterm-rows');
}

/** Deletes the docked lab through the dock's button; the page's card says so. */
export async function deleteLab(page: Page, labels: { delete: string; deleted: string }): Promise<void> {
  page.once('dialog', (dialog) => void dialog.accept());
  await dockOf(page).getByRole('button', { name: labels.delete }).click();
  await expect(dockOf(page)).toBeHidden();
  await expect(page.locator('atelier-launch .atelier-launch__status')).toContainText(labels.deleted);
}

/** On a card with a catalogue (JupyterLab, VS Code…), picks the terminal alone, as these tests drive the shell. */
export async function chooseTerminal(page: Page): Promise<void> {
  const terminal = page.locator('atelier-launch .atelier-launch__catalog input[value="terminal"]');
  if ((await terminal.count()) > 0) await terminal.check();
}

/** Presses the page's Launch button (`label`: its text in the page's language) and waits for the dock's prompt. */
export async function launchHere(page: Page, label: string): Promise<Locator> {
  await chooseTerminal(page);
  await page.locator('atelier-launch').getByRole('button', { name: label, exact: true }).click();
  return terminalOf(page);
}
