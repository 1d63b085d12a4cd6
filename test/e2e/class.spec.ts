/**
 * A full server and a lab near its end, through the page: the launch waits in a queue that says
 * its position, and a lab about to expire warns and can be extended. A server of its own, so
 * that its tiny limits touch no other test (its own port, data and lab uid range).
 */
import { test, expect, type Browser } from '@playwright/test';
import { deleteLab, dockOf, terminalOf } from './lib/dock.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const port = Number(process.env.ATELIER_E2E_PORT) + 1;
const origin = `http://127.0.0.1:${port}`;
let server: ChildProcess;

test.beforeAll(async () => {
  server = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'server/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      ATELIER_DATA_DIR: mkdtempSync(join(tmpdir(), 'atelier-e2e-class-')),
      ATELIER_MAX_LABS: '1',
      ATELIER_MAX_TTL: '5m',
      ATELIER_MAX_LIFETIME: '20m',
      ATELIER_LAB_UID_BASE: String(260_000 + (process.pid % 50) * 100),
      ATELIER_LAB_UID_COUNT: '100',
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${origin}/healthz`).then((r) => r.ok, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the second server did not start');
});

test.afterAll(async () => {
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
});

async function learner(browser: Browser) {
  const context = await browser.newContext({ baseURL: origin });
  return { context, page: await context.newPage() };
}

test('a full server queues the launch and shows its position; a lab near its end can be extended', async ({ browser }) => {
  const first = await learner(browser);
  await first.page.goto('/en/tp/terminal/');
  await first.page.locator('atelier-launch').getByRole('button', { name: 'Launch', exact: true }).click();
  await terminalOf(first.page);
  // Five minutes left (the server's cap): the dock warns and offers more time.
  const dock = dockOf(first.page);
  await expect(dock.locator('.atelier-dock__status')).toContainText('save your work');
  await dock.getByRole('button', { name: 'Add time' }).click();
  await expect(dock.locator('.atelier-dock__status')).toContainText('Time added');

  const second = await learner(browser);
  await second.page.goto('/fr/tp/terminal/');
  const waiting = second.page.locator('atelier-launch');
  await waiting.getByRole('button', { name: 'Lancer', exact: true }).click();
  await expect(waiting.locator('.atelier-launch__status')).toContainText('Prochain dans la file', { timeout: 10_000 });

  await deleteLab(first.page, { delete: 'Delete', deleted: 'Service deleted' });
  await expect(dockOf(second.page).locator('.xterm-rows')).toContainText('$', { timeout: 30_000 });
  await first.context.close();
  await second.context.close();
});
