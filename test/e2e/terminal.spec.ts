import { test, expect } from '@playwright/test';
import { deleteLab, dockOf } from './lib/dock.ts';

test('several terminals per lab, as tabs that survive a reload; Ctrl-C interrupts', async ({ page }) => {
  await page.goto('/en/tp/terminal/');
  await page.locator('atelier-launch').getByRole('button', { name: 'Launch', exact: true }).click();
  const card = dockOf(page);
  const first = card.locator('.atelier-tabs__pane').nth(0);
  await expect(first.locator('.xterm-rows')).toContainText('$', { timeout: 15_000 });
  await first.locator('.xterm').click();
  await page.keyboard.type('echo first-tab\n');
  await expect(first.locator('.xterm-rows')).toContainText('first-tab');

  await card.getByRole('button', { name: 'New terminal' }).click();
  const second = card.locator('.atelier-tabs__pane').nth(1);
  await expect(second).toBeVisible();
  await expect(first).toBeHidden();
  await expect(second.locator('.xterm-rows')).toContainText('$', { timeout: 15_000 });
  await second.locator('.xterm').click();
  await page.keyboard.type('sleep 100\n');
  await page.keyboard.press('Control+C');
  await page.keyboard.type('echo second-tab\n');
  await expect(second.locator('.xterm-rows')).toContainText('second-tab', { timeout: 5_000 });

  await page.reload();
  // The terminals' own tabs (the dock's views — Terminal, Monitoring — are tabs of another list).
  await expect(card.getByRole('tablist', { name: 'Terminals of the service' }).getByRole('tab')).toHaveCount(2);
  await card.getByRole('tab', { name: 'Terminal 1' }).click();
  await expect(card.locator('.atelier-tabs__pane').nth(0).locator('.xterm-rows')).toContainText('first-tab', { timeout: 15_000 });
  await card.getByRole('tab', { name: 'Terminal 2' }).click();
  await expect(card.locator('.atelier-tabs__pane').nth(1).locator('.xterm-rows')).toContainText('second-tab', { timeout: 15_000 });

  await deleteLab(page, { delete: 'Delete', deleted: 'Service deleted' });
  await expect(page.locator('atelier-launch').getByRole('button', { name: 'Launch', exact: true })).toBeVisible();
});
