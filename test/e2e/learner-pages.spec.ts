import { test, expect } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('My files: upload, browse, download and delete, each with its mc command', async ({ page }) => {
  await page.goto('/en/files/');
  const files = page.locator('atelier-files');
  await expect(files).toContainText('This folder is empty.');
  await expect(files.locator('.atelier-files__command')).toContainText(/mc ls s3\/u[a-z0-9]+\//);

  await files.locator('input[type="file"]').setInputFiles({ name: 'notes de cours.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1,2\n') });
  const row = files.locator('tr[data-key="notes de cours.csv"]');
  await expect(row).toBeVisible();
  await expect(files.locator('.atelier-files__status')).toHaveText('notes de cours.csv uploaded.');
  await expect(files.locator('.atelier-files__command')).toContainText("mc cp 'notes de cours.csv' 's3/");

  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: 'Download' }).click()]);
  expect(readFileSync((await download.path())!, 'utf8')).toBe('a,b\n1,2\n');
  await expect(files.locator('.atelier-files__command')).toContainText("mc cp 's3/");

  page.once('dialog', (dialog) => void dialog.accept());
  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(row).toHaveCount(0);
  await expect(files.locator('.atelier-files__command')).toContainText("mc rm 's3/");
});

test('My secrets: values go in and never come back to the page', async ({ page }) => {
  await page.goto('/fr/secrets/');
  await page.getByLabel('Nom du groupe').fill('projet');
  await page.getByLabel('NOM', { exact: true }).fill('API_KEY');
  await page.getByLabel('valeur', { exact: true }).fill('s3cr3t-value-123');
  await page.getByRole('button', { name: 'Enregistrer le groupe' }).click();
  await expect(page.locator('li[data-group="projet"]')).toContainText('API_KEY');
  await page.reload();
  await expect(page.locator('li[data-group="projet"]')).toContainText('API_KEY');
  expect(await page.content()).not.toContain('s3cr3t-value-123');
  page.once('dialog', (dialog) => void dialog.accept());
  await page.locator('li[data-group="projet"]').getByRole('button', { name: 'Supprimer' }).click();
  await expect(page.locator('li[data-group="projet"]')).toHaveCount(0);
});

test('My account: new S3 keys replace the shown ones; the pages run under the site CSP, theme switch included', async ({ page }) => {
  const consoleErrors: string[] = [];
  page.on('console', (message) => void (message.type() === 'error' && consoleErrors.push(message.text())));
  await page.goto('/en/account/');
  const account = page.locator('atelier-account');
  const keyOf = () => account.locator('dt:text-is("AWS_ACCESS_KEY_ID") + dd code').textContent();
  await expect(account.locator('dt:text-is("AWS_ACCESS_KEY_ID")')).toBeVisible();
  const before = await keyOf();
  const endpoint = await account.locator('dt:text-is("Endpoint") + dd code').textContent();
  expect(new URL(endpoint!).host, 'the S3 origin is not the site').not.toBe(new URL(page.url()).host);

  page.once('dialog', (dialog) => void dialog.accept());
  await account.getByRole('button', { name: 'Generate new S3 keys' }).click();
  await expect(account.locator('[role="status"]').filter({ hasText: 'New keys in place' })).toBeVisible();
  const after = await keyOf();
  expect(after).not.toBe(before);
  expect(((await (await page.request.get('/api/me')).json()) as { s3: { accessKeyId: string } }).s3.accessKeyId).toBe(after);
  // The pages' own scripts (Starlight's inline ones included) run under the site's CSP: no refusal.
  for (const path of ['/fr/', '/en/files/', '/fr/secrets/', '/en/forge/']) {
    await page.goto(path);
    await page.waitForLoadState('networkidle');
  }
  await page.getByRole('combobox', { name: /theme/i }).selectOption('light');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  expect(consoleErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
});

test('My repositories: a file is downloaded whole from the S3 origin, never shown as a page', async ({ page, baseURL }) => {
  const me = (await (await page.request.get('/api/me')).json()) as { learner: { id: string } };
  const { token } = (await (await page.request.post('/api/me/git/token')).json()) as { token: string };
  const work = mkdtempSync(join(tmpdir(), 'atelier-e2e-repo-'));
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { stdio: 'pipe', env: { PATH: process.env.PATH, HOME: work } });
    git('init', '-q', '-b', 'main');
    writeFileSync(join(work, 'page.html'), '<script>document.title = "ran"</script>');
    git('add', '.');
    git('commit', '-q', '-m', 'a page');
    const remote = new URL(`${baseURL}/git/${me.learner.id}/pages.git`);
    remote.username = me.learner.id;
    remote.password = token;
    git('push', '-q', remote.href, 'main');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  await page.goto('/en/forge/?repo=pages&path=page.html');
  await expect(page.locator('atelier-forge pre')).toHaveText('<script>document.title = "ran"</script>');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the file' }).click()]);
  expect(new URL(download.url()).hostname).toMatch(/^s3\.localhost$/);
  expect(readFileSync((await download.path())!, 'utf8')).toBe('<script>document.title = "ran"</script>');
  expect(await page.title()).not.toBe('ran');
});
