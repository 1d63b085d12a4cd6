/**
 * The first tutorial with the keyboard alone: Launch reached in reading order, commands typed in
 * the dock's terminal, Escape then Tab to leave it, the skip link to the current step, its
 * checkbox or Check button, Ctrl+` back to the terminal. The terminal never takes focus by itself.
 */
import { test, expect, type Page } from '@playwright/test';
import fr from '../../i18n/fr.json' with { type: 'json' };
import en from '../../i18n/en.json' with { type: 'json' };
import { screenOf, terminalOf } from './lib/dock.ts';

/** Each page's own example names (labs/terminal-basics/lab.yaml). */
const runs = [
  { language: 'fr', strings: fr, folder: 'mon-dossier', nested: { dir: 'donnees', file: 'brut.csv' } },
  { language: 'en', strings: en, folder: 'my-folder', nested: { dir: 'data', file: 'raw.csv' } },
] as const;

/** Presses Tab (or Shift+Tab) until `matches` holds for the focused element (perhaps already); fails after `max`. */
async function tabUntil(page: Page, matches: (element: Element) => boolean, max = 80, key = 'Tab'): Promise<void> {
  const test = matches.toString();
  const focused = () =>
    page.evaluate((source) => {
      const element = document.activeElement;
      return element ? (new Function(`return (${source})`)() as (e: Element) => boolean)(element) : false;
    }, test);
  for (let presses = 0; presses < max; presses += 1) {
    if (await focused()) return;
    await page.keyboard.press(key);
  }
  if (await focused()) return;
  throw new Error(`no focusable element matching ${test} within ${max} presses of ${key}`);
}

async function typeInTerminal(page: Page, command: string): Promise<void> {
  const marker = `ok-${Math.random().toString(36).slice(2, 7)}`;
  await page.keyboard.type(`${command}; echo ${marker.slice(0, 3)}''${marker.slice(3)}\n`);
  await expect(screenOf(page)).toContainText(marker, { timeout: 15_000 });
}

/** From the terminal to the current step, keyboard only; returns the step's id. */
async function toCurrentStep(page: Page): Promise<string> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.closest('.xterm') === null)).toBe(true);
  await tabUntil(page, (element) => element.classList.contains('atelier-skip-step'), 8);
  await page.keyboard.press('Enter');
  return page.evaluate(() => (document.activeElement as HTMLElement).dataset.step ?? '');
}

async function tickStep(page: Page, id: string): Promise<void> {
  expect(await toCurrentStep(page)).toBe(id);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Space');
  await expect(page.locator(`li[data-step="${id}"] > input, li[data-step="${id}"] > p > input`)).toBeChecked();
  await page.keyboard.press('Control+Backquote');
}

async function checkStep(page: Page, strings: typeof fr, id: string): Promise<void> {
  expect(await toCurrentStep(page)).toBe(id);
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.closest('atelier-check')?.getAttribute('data-check'))).toBe(id);
  await page.keyboard.press('Enter');
  await expect(page.locator(`li[data-step="${id}"] .atelier-check__result`)).toHaveText(strings.steps.passed, { timeout: 15_000 });
  await page.keyboard.press('Control+Backquote');
  expect(await page.evaluate(() => document.activeElement?.closest('#atelier-dock .xterm') !== null)).toBe(true);
}

for (const { language, strings, folder, nested } of runs) {
  test(`${language}: the first tutorial with the keyboard alone`, async ({ page }) => {
    test.setTimeout(120_000);
    await page.goto(`/${language}/tp/terminal/`);
    await tabUntil(page, (element) => element.matches('atelier-launch button[data-action="launch"]'));
    await page.keyboard.press('Enter');
    await terminalOf(page);
    // A launch the learner asked for moves the keyboard into the terminal.
    await expect.poll(() => page.evaluate(() => document.activeElement?.closest('#atelier-dock .xterm') !== null)).toBe(true);

    await typeInTerminal(page, 'pwd');
    await tickStep(page, 'show-dir');
    await typeInTerminal(page, 'ls');
    await tickStep(page, 'list-files');
    await typeInTerminal(page, 'ls -a');
    await tickStep(page, 'list-hidden');
    await typeInTerminal(page, `mkdir ${folder}`);
    await checkStep(page, strings, 'made-dir');
    await typeInTerminal(page, `cd ${folder} && pwd`);
    await tickStep(page, 'enter-dir');
    await typeInTerminal(page, 'touch notes.txt');
    await checkStep(page, strings, 'made-file');
    await typeInTerminal(page, 'rm notes.txt');
    await checkStep(page, strings, 'removed-file');
    await typeInTerminal(page, 'cd .. && ls');
    await checkStep(page, strings, 'back-home');
    await typeInTerminal(page, 'cd ~ && pwd && cd ~/work');
    await tickStep(page, 'home-and-back');
    await typeInTerminal(page, `mkdir -p ${folder}/${nested.dir} && touch ${folder}/${nested.dir}/${nested.file}`);
    await checkStep(page, strings, 'made-nested');
    await tickStep(page, 'workspace-ephemeral');
    await expect(page.locator('li[data-step] input[type="checkbox"]:not(:checked)')).toHaveCount(0);

    // After a reload the lab comes back in the dock, but the keyboard stays where the page starts.
    await page.reload();
    await terminalOf(page);
    expect(await page.evaluate(() => document.activeElement === document.body)).toBe(true);
  });
}
