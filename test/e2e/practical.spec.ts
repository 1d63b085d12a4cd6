/**
 * The whole "Découverte du Datalab" practical, driven only through the pages and the lab's
 * terminal, in French and in English: every server-checked step must pass.
 */
import { test, expect, type Page } from '@playwright/test';
import { chooseTerminal, deleteLab, dockOf, screenOf, terminalOf } from './lib/dock.ts';
import { gitIdentityAndToken } from './lib/account.ts';
import fr from '../../i18n/fr.json' with { type: 'json' };
import en from '../../i18n/en.json' with { type: 'json' };

const languages = { fr, en } as const;

/** Each page's own example names, as its checks (labs/datalab-discovery/lab.yaml) look for them. */
const names = {
  fr: { file: 'mon-fichier.txt', script: 'analyse.py', results: 'resultats.csv', header: 'departement', group: 'projet_patate', secret: 'PATATE_TOKEN' },
  en: { file: 'my-file.txt', script: 'analysis.py', results: 'results.csv', header: 'department', group: 'potato_project', secret: 'POTATO_TOKEN' },
} as const;

/** Types a command and waits for a marker it prints, so the next step sees its effect. */
async function run(page: Page, command: string): Promise<void> {
  const terminal = await terminalOf(page);
  await terminal.click();
  const marker = `done-${Math.random().toString(36).slice(2, 8)}`;
  await page.keyboard.type(`${command}; echo ${marker.slice(0, 5)}''${marker.slice(5)}\n`);
  await expect(screenOf(page)).toContainText(marker, { timeout: 30_000 });
}

async function check(page: Page, id: string, label: string, passed: string): Promise<void> {
  const step = page.locator(`li[data-step="${id}"]`);
  await step.getByRole('button', { name: label }).click();
  await expect(step.locator('.atelier-check__result')).toHaveText(passed, { timeout: 20_000 });
  await expect(step.locator('input[type="checkbox"]')).toBeChecked();
}

/** Steps whose evidence reaches the server tick without anyone pressing Check. */
async function ticksByItself(page: Page, id: string): Promise<void> {
  await expect(page.locator(`li[data-step="${id}"] input[type="checkbox"]`)).toBeChecked({ timeout: 10_000 });
}

async function launch(page: Page, strings: typeof fr, secrets?: string): Promise<void> {
  const card = page.locator('atelier-launch');
  if (secrets) {
    await card.locator('.atelier-launch__configure summary').click();
    await card.getByLabel(strings.configure.secrets).selectOption(secrets);
  }
  await chooseTerminal(page);
  await card.getByRole('button', { name: strings.launch.button, exact: true }).click();
  await terminalOf(page);
}

async function remove(page: Page, strings: typeof fr): Promise<void> {
  await deleteLab(page, strings.launch);
}

for (const [language, strings] of Object.entries(languages)) {
  test(`${language}: the datalab practical, from launch to freeing resources`, async ({ page }) => {
    test.setTimeout(240_000);
    const { check: checkLabel, passed } = strings.steps;
    const name = names[language as keyof typeof names];

    // My account: git identity and a personal access token; My secrets: the practical's group.
    await gitIdentityAndToken(page, language as 'fr' | 'en', strings);
    await page.goto(`/${language}/secrets/`);
    await page.getByLabel(strings.secrets.group).fill(name.group);
    await page.getByLabel(strings.secrets.name, { exact: true }).fill(name.secret);
    await page.getByLabel(strings.secrets.value, { exact: true }).fill('123456');
    await page.getByRole('button', { name: strings.secrets.save }).click();
    await expect(page.locator(`li[data-group="${name.group}"]`)).toBeVisible();

    // Launching, then the same lab follows the learner from page to page.
    await page.goto(`/${language}/datalab-tp/launch/`);
    await launch(page, strings);
    await expect(dockOf(page).locator('.atelier-dock__note')).toBeVisible();

    await page.goto(`/${language}/datalab-tp/ephemeral/`);
    await run(page, `echo "Une phrase" > ~/work/${name.file}`);
    await check(page, 'made-file', checkLabel, passed);
    await remove(page, strings);
    await launch(page, strings);
    await check(page, 'file-gone', checkLabel, passed);

    await page.goto(`/${language}/datalab-tp/git/`);
    await check(page, 'token-injected', checkLabel, passed);
    await run(page, 'cd ~/work && git clone -q "$FORGE_URL/tp-datalab.git"');
    await check(page, 'cloned', checkLabel, passed);
    await run(page, `cd ~/work/tp-datalab && printf 'from ex0 import moyenne\\nprint(moyenne([1, 2]))\\n' > ${name.script} && git add ${name.script} && git commit -qm 'Mon analyse' && git push -q`);
    await ticksByItself(page, 'pushed');

    await page.goto(`/${language}/datalab-tp/s3/`);
    await run(page, 'mc cp s3/atelier/diffusion/tp-datalab/communes.csv ~/work/communes.csv');
    await check(page, 's3-downloaded', checkLabel, passed);
    await run(page, `cd ~/work && echo "${name.header},population" > ${name.results} && awk -F, 'NR > 1 { pop[$3] += $4 } END { for (d in pop) print d "," pop[d] }' communes.csv | sort >> ${name.results}`);
    await run(page, `mc cp ~/work/${name.results} "s3/$AWS_BUCKET/tp/${name.results}"`);
    await ticksByItself(page, 's3-uploaded');
    await run(page, `mc cp "s3/$AWS_BUCKET/tp/${name.results}" "s3/$AWS_BUCKET/diffusion/${name.results}"`);
    await ticksByItself(page, 's3-shared');

    await page.goto(`/${language}/datalab-tp/secrets/`);
    await remove(page, strings);
    await launch(page, strings, name.group);
    await check(page, 'secret-injected', checkLabel, passed);

    // The last page is reached by the course's own "Next" link: the dock comes along.
    await page.locator('a[rel="next"]').first().click();
    await expect(page).toHaveURL(new RegExp(`/${language}/datalab-tp/cleanup/$`));
    await terminalOf(page);
    // Nothing may be left running: with the lab still there, the step fails and says which one.
    const nothing = page.locator('li[data-step="nothing-running"]');
    await nothing.getByRole('button', { name: checkLabel }).click();
    await expect(nothing.locator('.atelier-check__result')).not.toHaveText(passed, { timeout: 20_000 });
    await expect(nothing.locator('.atelier-check__result')).not.toHaveText(strings.steps.checking);
    await remove(page, strings);
    await check(page, 'nothing-running', checkLabel, passed);
    // What survives the lab: the pushed commit and the bucket's objects, seen from the learner's pages.
    await page.goto(`/${language}/forge/?repo=tp-datalab`);
    await expect(page.getByText('Mon analyse')).toBeVisible();
    await page.goto(`/${language}/files/?prefix=tp/`);
    await expect(page.locator(`tr[data-key="tp/${name.results}"]`)).toBeVisible();
  });
}
