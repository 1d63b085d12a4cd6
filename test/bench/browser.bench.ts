/**
 * The learner's waits as Chromium shows them, 20 runs each, a fresh learner (browser context)
 * per run, against a real server and real sandboxes:
 *   (a) Launch click → the first shell prompt visible in the terminal (`.xterm-rows` shows "$");
 *   (b) Check click → the verdict shown (the step's result leaves the "checking" text).
 * Baselines measured in the same run, without a browser: POST /api/labs → first "$" on the
 * /terminal socket, and the bare POST of the check; the ratio says what the page adds.
 * Targets: launch-to-prompt p95 ≤ 500 ms, check-to-verdict p95 ≤ 200 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { startServer } from '../../server/app.ts';
import { connectTerminal } from '../helpers/terminal.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { ms, summarize, type Summary } from './lib/stats.ts';

const runs = Number(process.env.BENCH_RUNS ?? 20);
const tutorial = '/fr/tp/terminal/';
const lab = 'terminal-basics';
const check = 'made-dir';
const checkingText = 'Vérification…';

const dataDir = mkdtempSync(join(tmpdir(), 'atelier-bench-browser-'));
const server = await startServer({ logger: false, config: { port: 0, host: '127.0.0.1', dataDir, siteDir: join(import.meta.dirname, '..', '..', 'dist') } });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });

const page = { launch: [] as number[], check: [] as number[] };
const bare = { launch: [] as number[], check: [] as number[] };

try {
  for (let run = 0; run < runs; run += 1) {
    const context = await browser.newContext({ baseURL: server.url });
    const tab = await context.newPage();
    tab.on('crash', () => console.error('page crashed'));
    tab.on('pageerror', (error) => console.error('page error', error.message));
    await tab.goto(tutorial, { waitUntil: 'networkidle' });
    const launched = tab.waitForResponse((response) => response.url().endsWith('/api/labs') && response.request().method() === 'POST');
    launched.catch(() => undefined); // a run that fails before it resolves reports its own error
    // Timed in the page from the click's own event to the frame where "$" is in the terminal rows.
    const launchMs = await tab.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const start = performance.now();
          const look = (): void => {
            const rows = document.querySelector('.xterm-rows');
            if (rows?.textContent?.includes('$')) resolve(performance.now() - start);
            else requestAnimationFrame(look);
          };
          document.querySelector<HTMLButtonElement>('atelier-launch button[data-action="launch"]')!.click();
          look();
        }),
    );
    page.launch.push(launchMs);
    const labInfo = (await (await launched).json()) as { id: string; token: string };

    const checkMs = await tab.evaluate(
      ({ check, checkingText }) =>
        new Promise<number>((resolve) => {
          const step = document.querySelector(`li[data-step="${check}"]`)!;
          const result = step.querySelector('.atelier-check__result')!;
          const start = performance.now();
          const observer = new MutationObserver(() => {
            const text = result.textContent ?? '';
            if (text !== '' && text !== checkingText) {
              observer.disconnect();
              resolve(performance.now() - start);
            }
          });
          observer.observe(result, { childList: true, characterData: true, subtree: true });
          result.textContent = '';
          step.querySelector<HTMLButtonElement>('atelier-check button')!.click();
        }),
      { check, checkingText },
    );
    page.check.push(checkMs);
    await tab.request.delete(`/api/labs/${labInfo.id}`, { headers: { authorization: `Bearer ${labInfo.token}` } });
    await context.close();

    // The same two waits without a page: the API and the socket alone.
    const learner = new LearnerClient(server.url);
    const started = performance.now();
    const bareLab = await learner.launch(lab);
    const terminal = await connectTerminal(server.url, { lab: bareLab.id, token: bareLab.token, cols: 100, rows: 30 });
    await terminal.waitFor(/\$/, 30_000);
    bare.launch.push(performance.now() - started);
    const checkStarted = performance.now();
    await learner.api(`/api/labs/${bareLab.id}/checks/${check}`, { method: 'POST', token: bareLab.token });
    bare.check.push(performance.now() - checkStarted);
    terminal.close();
    await learner.deleteLab(bareLab.id);
  }
} finally {
  await browser.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}

function line(label: string, inPage: Summary, alone: Summary, target: number): void {
  const ratio = (inPage.median / alone.median).toFixed(2);
  console.log(
    `${label.padEnd(20)} page median ${ms(inPage.median).padStart(7)} p95 ${ms(inPage.p95).padStart(7)} (target p95 ≤ ${target} ms: ${inPage.p95 <= target ? 'met' : 'MISSED'}) · ` +
      `API alone median ${ms(alone.median).padStart(7)} p95 ${ms(alone.p95).padStart(7)} · page/API ${ratio}×`,
  );
}

console.log(`Chromium, ${runs} runs, a fresh learner each (${tutorial}, lab ${lab}):`);
line('launch → prompt', summarize(page.launch), summarize(bare.launch), 500);
line('check → verdict', summarize(page.check), summarize(bare.check), 200);
