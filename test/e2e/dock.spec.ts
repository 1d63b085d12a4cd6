/**
 * The dock keeps the lab beside the course: across client-side navigation the same terminal stays
 * connected (no reload, no new socket), and a dropped connection is said, with typing refused
 * rather than queued behind the learner's back.
 */
import { test, expect } from '@playwright/test';
import en from '../../i18n/en.json' with { type: 'json' };
import fr from '../../i18n/fr.json' with { type: 'json' };
import { deleteLab, dockOf, launchHere, screenOf, terminalOf } from './lib/dock.ts';

test('the lab stays open and connected while the learner moves between pages', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  const sockets: string[] = [];
  page.on('websocket', (socket) => sockets.push(socket.url()));
  await page.goto('/en/datalab-tp/launch/');
  const terminal = await launchHere(page, en.launch.button);
  await terminal.click();
  await page.keyboard.type('echo before-navigation\n');
  await expect(screenOf(page)).toContainText('before-navigation');
  const opened = sockets.length;
  await page.evaluate(() => {
    (window as unknown as { atelierVisit: number }).atelierVisit = 1;
    document.querySelector<HTMLElement>('#atelier-dock .xterm')!.dataset.kept = 'yes';
  });

  // The page's "Next" link, as a learner follows the course.
  await page.locator('a[rel="next"]').first().click();
  await expect(page).toHaveURL(/\/en\/datalab-tp\/ephemeral\/$/);
  await expect(page.locator('h1')).not.toHaveText(/launch/i);
  expect(await page.evaluate(() => (window as unknown as { atelierVisit?: number }).atelierVisit)).toBe(1);
  await expect(dockOf(page).locator('.xterm[data-kept="yes"]')).toBeVisible();
  await expect(screenOf(page)).toContainText('before-navigation');
  expect(sockets.length).toBe(opened);
  // The new page's card knows its lab is running in the dock, and the dock names the page's step.
  await expect(page.locator('atelier-launch .atelier-launch__status')).toHaveText(en.dock.runningThere);
  await expect(dockOf(page).locator('.atelier-dock__step')).toContainText('Step 1 of');
  await (await terminalOf(page)).click();
  await page.keyboard.type('echo after-navigation\n');
  await expect(screenOf(page)).toContainText('after-navigation');
  // A wide screen gives the shell at least 100 columns (stty prints rows and columns).
  await page.keyboard.type("stty size | awk '{ print \"cols=\" $2 }'\n");
  await expect(screenOf(page)).toContainText(/cols=\d{3}/);
  // The page's run blocks type into the dock's terminal.
  const run = page.locator('atelier-run').first();
  const command = (await run.getAttribute('data-command'))!.split('\n')[0]!;
  await run.getByRole('button', { name: en.steps.run }).click();
  await expect(screenOf(page)).toContainText(command);

  await deleteLab(page, en.launch);
});

test('a dropped connection is shown, typing is refused, and the dock says when it is back', async ({ page }) => {
  let offline = false;
  await page.routeWebSocket(/\/socket\.io\//, (socket) => {
    if (offline) return socket.close();
    const server = socket.connectToServer();
    const drop = setInterval(() => {
      if (!offline) return;
      clearInterval(drop);
      socket.close();
      server.close();
    }, 50);
  });
  // socket.io falls back to long-polling: that path is cut too while "offline".
  await page.route(/\/socket\.io\/.*transport=polling/, (route) => (offline ? route.abort() : route.continue()));
  await page.goto('/en/tp/terminal/');
  const terminal = await launchHere(page, en.launch.button);
  await terminal.click();

  offline = true;
  await expect(dockOf(page).locator('.atelier-dock__connection')).toHaveText(en.dock.offline, { timeout: 10_000 });
  await expect(dockOf(page)).toHaveAttribute('data-connection', 'offline');
  await expect(page.locator('atelier-launch .atelier-launch__status')).toHaveText(en.dock.offline);
  await page.keyboard.type('echo typed-while-offline\n');

  offline = false;
  await expect(dockOf(page).locator('.atelier-dock__connection')).toHaveText(en.dock.back, { timeout: 20_000 });
  await terminal.click();
  await page.keyboard.type('echo typed-when-back\n');
  await expect(screenOf(page)).toContainText('typed-when-back');
  // Nothing typed during the outage reached the shell later.
  await expect(screenOf(page)).not.toContainText('typed-while-offline');
  await deleteLab(page, en.launch);
});

test('launching another lab swaps the dock to it, and the old lab’s goodbye is not read as a dropped connection', async ({ page }) => {
  await page.goto('/en/datalab-tp/launch/');
  await launchHere(page, en.launch.button);
  await page.goto('/en/tp/terminal/');
  // The docked lab comes back on this page too, then the page's own lab replaces it.
  await expect(dockOf(page).locator('.atelier-dock__title')).toHaveText(/Datalab/);
  await page.locator('atelier-launch').getByRole('button', { name: en.launch.button, exact: true }).click();
  await expect(dockOf(page).locator('.atelier-dock__title')).not.toHaveText(/Datalab/);
  const terminal = await terminalOf(page);
  await terminal.click();
  await page.keyboard.type('echo typed-at-once\n');
  await expect(screenOf(page)).toContainText('typed-at-once');
  await expect(dockOf(page).locator('.atelier-dock__connection')).toHaveText(en.dock.online);
  await deleteLab(page, en.launch);
});

test('the dock speaks the page’s language after a switch, with the lab’s title in that language', async ({ page }) => {
  await page.goto('/en/tp/terminal/');
  await launchHere(page, en.launch.button);
  await expect(dockOf(page).getByRole('button', { name: en.launch.delete })).toBeVisible();
  // The French version of the page, reached by a link (client-side navigation).
  await page.evaluate(() => {
    const link = document.createElement('a');
    link.href = '/fr/tp/terminal/';
    link.textContent = 'fr';
    document.querySelector('main')!.prepend(link);
    link.click();
  });
  await expect(page).toHaveURL(/\/fr\/tp\/terminal\/$/);
  await expect(dockOf(page).getByRole('button', { name: fr.launch.delete })).toBeVisible();
  await expect(dockOf(page).locator('.atelier-dock__title')).toHaveText(await page.locator('atelier-launch').getAttribute('aria-label') ?? '');
  await expect(dockOf(page).locator('.atelier-dock__timer')).toContainText('restantes');
  await deleteLab(page, fr.launch);
});

test('on a phone the dock is a bottom sheet: minimized on a page with nothing to do in the lab, as left on a course page', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/en/tp/terminal/');
  await launchHere(page, en.launch.button);
  const sheet = await dockOf(page).boundingBox();
  expect(sheet!.y).toBeGreaterThan(300);
  expect(sheet!.width).toBe(390);
  await page.goto('/en/account/');
  await expect(dockOf(page).getByRole('button', { name: en.dock.expand })).toBeVisible({ timeout: 15_000 });
  await expect(dockOf(page).locator('.xterm')).toBeHidden();
  await page.goto('/en/tp/terminal/');
  await expect(dockOf(page).getByRole('button', { name: en.dock.collapse })).toBeVisible({ timeout: 15_000 });
  await terminalOf(page);
  await deleteLab(page, en.launch);
});

test('on a wide screen the dock minimizes to a corner bar on account pages, the page whole again, and names the lab in the page’s language', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto('/en/tp/terminal/');
  await launchHere(page, en.launch.button);
  await page.goto('/fr/services/');
  await expect(dockOf(page).getByRole('button', { name: fr.dock.expand })).toBeVisible({ timeout: 15_000 });
  // The French title, though the lab was launched from the English page.
  await expect(dockOf(page).locator('.atelier-dock__title')).toHaveText('Premiers pas dans le terminal');
  const main = await page.locator('.main-frame').boundingBox();
  expect(main!.width).toBeGreaterThan(1200);
  await dockOf(page).getByRole('button', { name: fr.dock.expand }).click();
  await terminalOf(page);
  expect((await page.locator('.main-frame').boundingBox())!.width).toBeLessThan(700);
  // Deleted from the dock on a page without its card.
  page.once('dialog', (dialog) => void dialog.accept());
  await dockOf(page).getByRole('button', { name: fr.launch.delete }).click();
  await expect(dockOf(page)).toBeHidden();
});
