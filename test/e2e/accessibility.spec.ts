/**
 * WCAG 2.1 AA with axe-core: every page of the built site, French and English, light and dark,
 * on a laptop and a phone; then a tutorial page with its lab launched and check results shown
 * (a failing one, then a passing one). The launch UI is found by role and name, not by markup.
 */
import { test, expect, type Browser, type Page } from '@playwright/test';
import fr from '../../i18n/fr.json' with { type: 'json' };
import en from '../../i18n/en.json' with { type: 'json' };
import { resize, sitePaths, wcagViolations } from './helpers/axe.ts';
import { terminalOf } from './lib/dock.ts';

const themes = ['light', 'dark'] as const;
const laptop = { name: '1280×900', width: 1280, height: 900 };
const phone = { name: '390×844', width: 390, height: 844 };
const strings = { fr, en };
/** The folder the terminal tutorial's first checked step asks for, in each language. */
const folder = { fr: 'mon-dossier', en: 'my-folder' };
/** labs/terminal-basics caps a lab at 0.5 core and 256 MiB, written as each language writes numbers. */
const caps = {
  fr: { cpu: 'jusqu’à 0,5 cœur', note: 'jusqu’à 0,5 cœur, 256 Mio de mémoire, 64 Mio de fichiers' },
  en: { cpu: 'up to 0.5 cores', note: 'up to 0.5 cores, 256 MiB of memory, 64 MiB of files' },
};

/** One context per theme: Starlight reads the theme from localStorage before the first paint. */
async function themedPage(browser: Browser, theme: (typeof themes)[number]): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((value) => localStorage.setItem('starlight-theme', value), theme);
  return context.newPage();
}

/**
 * Gives the page's learner something to show on every learner page (git identity and token, a
 * secret group, a file in a folder, a running lab), so they are scanned filled in, not empty.
 */
async function seedLearner(page: Page, origin: string): Promise<void> {
  await page.goto('/fr/account/');
  const headers = { origin };
  const calls = [
    page.request.put('/api/me/git', { headers, data: { name: 'Camille Martin', email: 'camille@example.org' } }),
    page.request.post('/api/me/git/token', { headers }),
    page.request.put('/api/me/secrets/projet_patate', { headers, data: { vars: { PATATE_TOKEN: 'pomme-de-terre', PATATE_PORT: '8080' } } }),
    page.request.put('/api/me/files?key=Initiation/communes.csv', { headers: { ...headers, 'content-type': 'text/csv' }, data: 'code;nom\n01001;Ambérieu\n' }),
    page.request.post('/api/labs', { headers, data: { lab: 'terminal-basics' } }),
  ];
  for (const response of await Promise.all(calls)) expect(response.ok(), `${response.url()}: ${await response.text()}`).toBe(true);
}

for (const theme of themes) {
  test(`every page has no WCAG 2.1 AA violation (${theme})`, async ({ browser, baseURL }) => {
    const paths = sitePaths();
    // Two viewports per page and axe each time: the budget grows with the site (53 pages now).
    test.setTimeout(30_000 + paths.length * 6_000);
    expect(paths.length, 'the built site (npx astro build) has pages').toBeGreaterThan(10);
    const page = await themedPage(browser, theme);
    await seedLearner(page, baseURL!);
    const found: string[] = [];
    for (const path of paths) {
      await page.setViewportSize(phone);
      // Learner pages fill themselves from the API: scan them once they have.
      await page.goto(path, { waitUntil: 'networkidle' });
      // Both sizes from one load: the layout follows the viewport through media queries.
      for (const viewport of [phone, laptop]) {
        await resize(page, viewport);
        found.push(...(await wcagViolations(page, `${path} ${theme} ${viewport.name}`)));
        // WCAG 1.4.10 (reflow): nothing makes the page scroll sideways, the header included.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        if (overflow > 0) found.push(`${path} ${theme} ${viewport.name}: the page is ${overflow} px wider than the screen`);
      }
    }
    expect(found, found.join('\n')).toEqual([]);
    await page.context().close();
  });
}

test('on a phone, the header opens the menu, whose theme and language switches work; the tab shows our icon', async ({ browser }) => {
  const page = await themedPage(browser, 'light');
  await page.setViewportSize(phone);
  await page.goto('/fr/tp/terminal/');
  const icon = await page.locator('link[rel~="icon"]').getAttribute('href');
  const served = await page.request.get(icon!);
  expect(served.status(), `${icon} is served`).toBe(200);
  expect(served.headers()['content-type']).toContain('image/svg+xml');
  await page.getByRole('button', { name: 'Menu' }).click();
  const theme = page.getByRole('combobox', { name: /thème/ });
  await expect(theme).toBeVisible();
  await theme.selectOption('dark');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.getByRole('combobox', { name: /langue/ }).selectOption({ label: 'English' });
  await expect(page).toHaveURL(/\/en\/tp\/terminal\/$/);
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.context().close();
});

for (const theme of themes) {
  for (const language of ['fr', 'en'] as const) {
    test(`a tutorial with its lab launched and check results shown has no violation (${language}, ${theme})`, async ({ browser }) => {
      const s = strings[language];
      const page = await themedPage(browser, theme);
      await page.setViewportSize(laptop);
      await page.goto(`/${language}/tp/terminal/`);
      const found: string[] = [];
      const scan = async (moment: string) => found.push(...(await wcagViolations(page, `${language} ${theme} ${moment}`)));

      // Before the launch: a Check pressed too early says to launch first.
      const step = page.getByRole('listitem').filter({ has: page.getByRole('button', { name: s.steps.check }) }).first();
      await step.getByRole('button', { name: s.steps.check }).click();
      await expect(step.getByRole('status')).toHaveText(s.steps.needLab);
      await page.getByText(s.configure.title, { exact: true }).click();
      // Configure offers caps, the lab's own first, in the page's language.
      await expect(page.getByRole('group', { name: s.configure.cpu }).getByRole('radio', { name: caps[language].cpu })).toBeChecked();
      await scan('before launch');

      await page.getByRole('button', { name: s.launch.button }).click();
      await expect(page.getByRole('button', { name: s.launch.delete })).toBeVisible({ timeout: 30_000 });
      // The step is not done yet: its check fails and says why.
      await step.getByRole('button', { name: s.steps.check }).click();
      await expect(step.getByRole('status')).toContainText(folder[language], { timeout: 15_000 });
      await page.getByText(s.note.title, { exact: true }).click();
      await expect(page.getByText(caps[language].note, { exact: true })).toBeVisible();
      // How the caps are enforced is for trainers, behind a disclosure.
      await page.getByText(s.note.trainers, { exact: true }).click();
      await scan('after launch, failing check');

      // Once the step is done in the terminal, its check passes.
      await (await terminalOf(page)).click();
      await page.keyboard.type(`mkdir ${folder[language]}\n`);
      await expect(async () => {
        await step.getByRole('button', { name: s.steps.check }).click();
        await expect(step.getByRole('status')).toHaveText(s.steps.passed, { timeout: 1_000 });
      }).toPass({ timeout: 15_000 });
      await scan('after launch, passing check');
      // On a phone the dock is a bottom sheet over the course.
      await resize(page, phone);
      await scan('after launch, passing check, phone');

      expect(found, found.join('\n')).toEqual([]);
      await page.context().close();
    });
  }
}

for (const theme of themes) {
  test(`the catalogue, the dock's service view and its monitoring have no violation (${theme})`, async ({ browser, baseURL }) => {
    const s = strings.fr;
    const page = await themedPage(browser, theme);
    await page.setViewportSize(laptop);
    // At atelier.localhost, whose subdomains (the services' origins) are its own site.
    const site = baseURL!.replace('127.0.0.1', 'atelier.localhost');
    await page.goto(`${site}/fr/datalab-tp/launch/`);
    const found: string[] = [];
    const scan = async (moment: string) => found.push(...(await wcagViolations(page, `fr ${theme} ${moment}`, ['.atelier-service__iframe'])));
    await expect(page.getByRole('radio', { name: s.catalog.jupyterlab.name })).toBeChecked();
    await scan('catalogue');
    await page.getByRole('button', { name: s.launch.button, exact: true }).click();
    await expect(page.getByRole('button', { name: s.servicePanel.open })).toBeVisible({ timeout: 30_000 });
    await expect(page.getByRole('tab', { name: s.catalog.jupyterlab.name })).toHaveAttribute('aria-selected', 'true');
    await scan('service view');
    await page.getByRole('tab', { name: s.dock.monitoring }).click();
    await expect(page.getByRole('meter').first()).toBeVisible();
    await scan('monitoring');
    await resize(page, phone);
    await scan('monitoring, phone');
    expect(found, found.join('\n')).toEqual([]);
    await page.context().close();
  });
}
