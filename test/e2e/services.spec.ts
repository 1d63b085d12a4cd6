/**
 * The practical's services, as a learner uses them, in Chromium: launch with JupyterLab from the
 * catalogue, open it in the dock, type the note's password, run the page's own cells (pandas
 * reading the shared CSV from S3, the result written to the learner's bucket) and see the steps
 * ticked; VS Code: open it, commit and push from its terminal. The platform is reached at
 * atelier.localhost, whose subdomains are its site: services are framed in the dock there.
 */
import { test, expect, type Page, type FrameLocator } from '@playwright/test';
import { deleteLab, dockOf } from './lib/dock.ts';
import { gitIdentityAndToken } from './lib/account.ts';
import fr from '../../i18n/fr.json' with { type: 'json' };
import en from '../../i18n/en.json' with { type: 'json' };

const languages = { fr, en } as const;
const port = Number(process.env.ATELIER_E2E_PORT);
const site = `http://atelier.localhost:${port}`;
const results = { fr: 'tp/population-departements.csv', en: 'tp/department-population.csv' } as const;

async function launchWith(page: Page, service: 'jupyterlab' | 'vscode', strings: typeof fr): Promise<{ frame: FrameLocator; password: string }> {
  const card = page.locator('atelier-launch');
  await card.locator(`.atelier-launch__catalog input[value="${service}"]`).check();
  await card.getByRole('button', { name: strings.launch.button, exact: true }).click();
  const view = dockOf(page).locator('.atelier-views__panel--service');
  const open = view.getByRole('button', { name: strings.servicePanel.open });
  await expect(open).toBeVisible({ timeout: 30_000 });
  const password = (await view.locator('.atelier-service__password code').textContent())!.trim();
  await open.click();
  return { frame: page.frameLocator('.atelier-service__iframe'), password };
}

/** A check whose evidence may still be on its way (a push): pressed again until it passes. */
async function checkUntilPassed(page: Page, id: string, strings: typeof fr): Promise<void> {
  const step = page.locator(`li[data-step="${id}"]`);
  await expect(async () => {
    await step.getByRole('button', { name: strings.steps.check }).click();
    await expect(step.locator('.atelier-check__result')).toHaveText(strings.steps.passed, { timeout: 5_000 });
  }).toPass({ timeout: 90_000 });
}

async function check(page: Page, id: string, strings: typeof fr): Promise<void> {
  const step = page.locator(`li[data-step="${id}"]`);
  await step.getByRole('button', { name: strings.steps.check }).click();
  await expect(step.locator('.atelier-check__result')).toHaveText(strings.steps.passed, { timeout: 30_000 });
  await expect(step.locator('input[type="checkbox"]')).toBeChecked();
}

/** Types a cell's code in the notebook's active cell and runs it; resolves once its output shows `expected`. */
async function runCell(frame: FrameLocator, page: Page, code: string, expected: RegExp): Promise<void> {
  const cells = frame.locator('.jp-Notebook .jp-CodeCell');
  const count = await cells.count();
  const cell = cells.nth(count - 1);
  await cell.locator('.cm-content').click();
  // Inserted as text: typed key by key, the editor would close brackets and quotes itself.
  await page.keyboard.insertText(code);
  await expect(cell.locator('.cm-content')).toContainText(code.split('\n')[0]!);
  await page.keyboard.press('Shift+Enter');
  await expect(cell.locator('.jp-OutputArea')).toContainText(expected, { timeout: 60_000 });
}

for (const [language, strings] of Object.entries(languages)) {
  test(`${language}: JupyterLab from the catalogue, a notebook reading and writing S3, the steps ticked`, async ({ page }) => {
    test.setTimeout(180_000);
    await page.goto(`${site}/${language}/datalab-tp/launch/`);
    // The launch page preselects JupyterLab in the catalogue.
    await expect(page.locator('.atelier-launch__catalog input[value="jupyterlab"]')).toBeChecked();
    const { frame, password } = await launchWith(page, 'jupyterlab', strings);
    await frame.locator('#password_input').fill(password);
    await frame.locator('#password_input').press('Enter');
    await frame.locator('.jp-LauncherCard[data-category="Notebook"]').first().waitFor({ timeout: 30_000 });

    // What a notebook's JavaScript could try: it runs on the service's origin, never the platform's.
    const service = page.frames().find((f) => f.url().includes('.apps.'))!;
    const attempt = await service.evaluate(async (platform) => {
      const read = await fetch(`${platform}/api/me`, { credentials: 'include' }).then((r) => `read ${r.status}`, () => 'blocked');
      // A blind write (no-cors: the response is opaque): the Origin guard must refuse it.
      await fetch(`${platform}/api/labs`, { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"lab":"terminal-basics"}' }).catch(() => undefined);
      return { read, cookie: document.cookie.includes('atelier_learner') || document.cookie.includes('atelier_service') };
    }, site);
    expect(attempt).toEqual({ read: 'blocked', cookie: false });
    const mine = await page.evaluate(async () => (await (await fetch('/api/me/labs')).json()) as { labs: { lab: string }[] });
    expect(mine.labs.map((lab) => lab.lab)).toEqual(['datalab-discovery']);

    await frame.locator('.jp-LauncherCard[data-category="Notebook"]').first().click({ timeout: 30_000 });
    await expect(frame.locator('.jp-Notebook .jp-CodeCell')).toHaveCount(1, { timeout: 30_000 });
    // The kernel up and waiting (a first notebook starts it): what runs before is lost on a busy machine.
    await expect(frame.getByRole('button', { name: /Python 3 \(ipykernel\) \| Idle/ })).toBeVisible({ timeout: 60_000 });

    await runCell(frame, page, 'def moyenne(valeurs):\n    return sum(valeurs) / len(valeurs)\nmoyenne([1, 2, 3])', /2\.0/);
    await runCell(
      frame,
      page,
      'import os\nimport pandas as pd\ncommunes = pd.read_csv("s3://atelier/diffusion/tp-datalab/communes.csv", dtype={"departement": str})\ncommunes.head()',
      /population/,
    );
    await runCell(
      frame,
      page,
      `resultat = communes.groupby("departement", as_index=False)["population"].sum()\nresultat.to_csv(f"s3://{os.environ['AWS_BUCKET']}/${results[language as keyof typeof results]}", index=False)\nlen(resultat)`,
      /^\s*\[\d+\]:\s*\d+\s*$|\d+/,
    );
    // The checks read the notebook as saved on disk.
    // A first save asks for the notebook's name, as the practical names it.
    await frame.locator('.jp-NotebookPanel-toolbar [data-command="docmanager:save"]').click();
    await frame.locator('.jp-Dialog input[type="text"]').fill('S3.ipynb');
    await frame.locator('.jp-Dialog .jp-mod-accept').click();
    await expect(frame.locator('.lm-TabBar-tab.jp-mod-dirty')).toHaveCount(0, { timeout: 10_000 });

    await check(page, 'notebook-function', strings);
    await page.goto(`${site}/${language}/datalab-tp/s3/`);
    await check(page, 'notebook-read-shared', strings);
    await check(page, 'notebook-wrote-result', strings);
    await deleteLab(page, strings.launch);
  });
}

test('fr: VS Code from the catalogue: its terminal clones, commits and pushes to the forge', async ({ page }) => {
  test.setTimeout(180_000);
  const strings = fr;
  // Git's identity and token, as My account gives them to every service.
  await gitIdentityAndToken(page, 'fr', strings, site);
  await page.goto(`${site}/fr/datalab-tp/launch/`);
  const { frame, password } = await launchWith(page, 'vscode', strings);
  await frame.locator('input[type="password"]').fill(password);
  await frame.locator('input[type="password"]').press('Enter');
  await expect(frame.locator('.monaco-workbench')).toBeVisible({ timeout: 60_000 });
  await frame.locator('.monaco-workbench').click({ position: { x: 400, y: 300 } });
  // VS Code's own "toggle terminal" (the dock's Ctrl+` is the page's, not the frame's).
  await page.keyboard.press('Control+Backquote');
  const terminal = frame.locator('.terminal-wrapper.active .xterm');
  await expect(terminal).toBeVisible({ timeout: 30_000 });
  await terminal.click();
  // VS Code draws its terminal on a canvas: the forge's own check is what tells the push happened.
  await page.keyboard.type(
    `git clone -q "$FORGE_URL/tp-datalab.git" && cd tp-datalab && printf 'from ex0 import moyenne\\nprint(moyenne([1, 2]))\\n' > analyse.py && git add analyse.py && git commit -qm "Analyse" && git push -q\n`,
  );
  // Checked from another tab of the course: this one keeps VS Code (and its terminal) open meanwhile.
  const course = await page.context().newPage();
  await course.goto(`${site}/fr/datalab-tp/git/`);
  await checkUntilPassed(course, 'pushed', strings);
  await deleteLab(course, strings.launch);
});

test('en: where the platform is not the services’ site (127.0.0.1), Open puts the service in a tab of its own', async ({ page }) => {
  test.setTimeout(120_000);
  const strings = en;
  await page.goto('/en/datalab-tp/launch/');
  const card = page.locator('atelier-launch');
  await card.getByRole('button', { name: strings.launch.button, exact: true }).click();
  const view = dockOf(page).locator('.atelier-views__panel--service');
  await expect(view.getByRole('button', { name: strings.servicePanel.open })).toBeVisible({ timeout: 30_000 });
  // Framing is off here: no "new tab" button beside Open, which is one already.
  await expect(view.getByRole('button', { name: strings.servicePanel.newTab })).toBeHidden();
  const password = (await view.locator('.atelier-service__password code').textContent())!.trim();
  const [tab] = await Promise.all([page.context().waitForEvent('page'), view.getByRole('button', { name: strings.servicePanel.open }).click()]);
  await tab.locator('#password_input').fill(password, { timeout: 30_000 });
  await tab.locator('#password_input').press('Enter');
  await expect(tab.locator('.jp-LauncherCard').first()).toBeVisible({ timeout: 30_000 });
  expect(new URL(tab.url()).hostname).toMatch(/^jupyterlab-[a-z2-7]{16}\.apps\.atelier\.localhost$/);
  await expect(view.locator('.atelier-service__status')).toHaveText(strings.servicePanel.openedInTab);
  await expect(view.locator('iframe')).toHaveCount(0);
  await tab.close();
  await deleteLab(page, strings.launch);
});
