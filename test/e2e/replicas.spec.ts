/**
 * Two lab-server replicas on one real PostgreSQL behind a small load balancer, in Chromium: the
 * page and the launch go to replica A, the terminal's socket to replica B; B is then killed
 * (SIGKILL), and the learner keeps working: the dock reconnects (through the balancer, to A), the
 * shell answers, a check passes. Real sandboxes (the local driver, both replicas of one
 * deployment on this host), real PostgreSQL, real server processes.
 */
import { test, expect } from '@playwright/test';
import { rmSync } from 'node:fs';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { balancer, startReplica, type Replica } from '../helpers/replica-processes.ts';
import { dockOf, launchHere, screenOf } from './lib/dock.ts';
import en from '../../i18n/en.json' with { type: 'json' };

let postgres: TestPostgres;
let a: Replica;
let b: Replica;
let lb: ReturnType<typeof balancer>;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  postgres = await startPostgres();
  const databaseUrl = await postgres.database();
  a = await startReplica('A', databaseUrl);
  b = await startReplica('B', databaseUrl, a.dataDir);
  lb = balancer({ a, b });
  await new Promise<void>((resolve) => lb.server.listen(0, '127.0.0.1', resolve));
});

test.afterAll(async () => {
  lb?.server.close();
  for (const replica of [a, b]) {
    if (!replica) continue;
    if (replica.alive) {
      replica.process.kill('SIGTERM');
      await new Promise((resolve) => replica.process.once('exit', resolve));
    }
    rmSync(replica.dataDir, { recursive: true, force: true });
  }
  await postgres?.stop();
});

test('launch through one replica, terminal through the other; the other killed, the learner keeps working', async ({ page }) => {
  test.setTimeout(90_000);
  const base = `http://127.0.0.1:${lb.port()}`;
  await page.goto(`${base}/en/tp/terminal/`);
  const terminal = await launchHere(page, en.launch.button);
  expect(lb.sent.get('A')!.some((line) => line.startsWith('POST /api/labs'))).toBe(true);
  expect(lb.sent.get('B')!.some((line) => line.startsWith('UPGRADE /socket.io/') || line.includes('/socket.io/'))).toBe(true);
  await terminal.click();
  await page.keyboard.type('mkdir -p my-folder && echo through-b-$((6*7))\n');
  await expect(screenOf(page)).toContainText('through-b-42');

  // Replica B dies at once: the dock says so, reconnects through the balancer (to A), and the
  // learner goes on in the same lab (a new shell: B's shell went with B; the lab's files did not).
  b.alive = false;
  b.process.kill('SIGKILL');
  await expect(dockOf(page).locator('.atelier-dock__connection')).toHaveText(en.dock.back, { timeout: 30_000 });
  await terminal.click();
  await page.keyboard.type('ls -d my-folder && echo through-a-$((6*7))\n');
  await expect(screenOf(page)).toContainText('through-a-42', { timeout: 15_000 });

  // A check, answered by A, sees the folder made through B.
  const step = page.locator('li[data-step="made-dir"]');
  await step.getByRole('button', { name: 'Check' }).click();
  await expect(step.locator('input[type="checkbox"]')).toBeChecked({ timeout: 15_000 });
});
