import { test, expect } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';

test('My files: upload, browse, download and delete, each with its mc command', async ({ page }) => {
  await page.goto('/en/files/');
  const files = page.locator('atelier-files');
  await expect(files).toContainText('This folder is empty.');
  await expect(files.locator('.atelier-files__command')).toContainText(/mc ls s3\/u[a-z0-9]+\//);

  await files.locator('input[type="file"]').setInputFiles({ name: 'notes de cours.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1,2\n') });
  const row = files.locator('tr[data-key="notes de cours.csv"]');
  await expect(row).toBeVisible();
  await expect(files.locator('.atelier-app__status')).toHaveText('notes de cours.csv uploaded.');
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

test('My files: the Initiation folder, an upload into it, CSV and Parquet previews read from the S3 origin, breadcrumbs', async ({ page }) => {
  const s3Reads: string[] = [];
  page.on('request', (request) => void (new URL(request.url()).hostname.startsWith('s3.') && s3Reads.push(request.headers().range ?? 'whole')));
  await page.goto('/fr/files/');
  const files = page.locator('atelier-files');
  await files.getByLabel('Nom du dossier').fill('../x');
  await files.getByRole('button', { name: 'Créer' }).click();
  await expect(files.locator('.atelier-field-error')).toContainText('ne contient pas de /');
  await files.getByLabel('Nom du dossier').fill('Initiation');
  await files.getByRole('button', { name: 'Créer' }).click();
  await expect(files.locator('.atelier-app__status')).toHaveText('Dossier « Initiation » créé.');
  await expect(files.locator('.atelier-files__command code')).toHaveText(/^mc cp fichier\.csv s3\/u[a-z0-9]+\/Initiation\/$/);
  await files.getByRole('link', { name: 'Initiation/' }).click();
  await expect(files.getByRole('navigation', { name: 'Chemin dans le bucket' }).locator('[aria-current]')).toHaveText('Initiation');
  await expect(files).toContainText('Ce dossier est vide.');

  const csv = 'code;nom;population\n01001;"L\'Abergement-Clémenciat";779\n01002;<b>Varey</b>;256\n';
  await files.locator('input[type="file"]').setInputFiles({ name: 'communes.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  const row = files.locator('tr[data-key="Initiation/communes.csv"]');
  await expect(row).toContainText('80 o');
  await expect(row).toContainText(/\d{1,2} [a-zéû]+\.? 20\d\d, \d\d:\d\d/);
  await expect(files.locator('.atelier-files__command code')).toHaveText(/^mc cp communes\.csv s3\/u[a-z0-9]+\/Initiation\/communes\.csv$/);
  await row.getByRole('button', { name: 'Aperçu de communes.csv' }).click();
  const preview = files.getByRole('region', { name: 'Aperçu de communes.csv' });
  await expect(preview.getByRole('columnheader', { name: 'population' })).toBeVisible();
  await expect(preview.getByRole('cell', { name: "L'Abergement-Clémenciat" })).toBeVisible();
  await expect(preview.getByRole('cell', { name: '<b>Varey</b>' }), 'markup in a file stays text').toBeVisible();
  await expect(preview.locator('b')).toHaveCount(0);

  const parquet = Buffer.from(parquetWriteBuffer({ columnData: [{ name: 'code', data: ['01001', '01002', '01004'], type: 'STRING' }, { name: 'population', data: [779, 256, 14514], type: 'INT32' }] }));
  await files.locator('input[type="file"]').setInputFiles({ name: 'resultats.parquet', mimeType: 'application/octet-stream', buffer: parquet });
  await files.locator('tr[data-key="Initiation/resultats.parquet"]').getByRole('button', { name: /^Aperçu/ }).click();
  const parquetPreview = files.getByRole('region', { name: 'Aperçu de resultats.parquet' });
  await expect(parquetPreview).toContainText('3 lignes, 2 colonnes, 1 groupes de lignes.');
  await expect(parquetPreview.getByRole('region', { name: 'Schéma' }).getByRole('cell', { name: 'INT32' })).toBeVisible();
  await expect(parquetPreview.getByRole('cell', { name: '14514' })).toBeVisible();
  expect(s3Reads.length, 'the bytes came from the S3 origin').toBeGreaterThan(0);
  expect(s3Reads.filter((range) => range !== 'whole').every((range) => /^bytes=\d+-\d+$/.test(range)), 'by ranges').toBe(true);

  await files.getByRole('navigation', { name: 'Chemin dans le bucket' }).getByRole('link').first().click();
  await expect(files.locator('tr[data-folder="Initiation/"]')).toBeVisible();
});

test('My secrets: editing projet_patate keeps the values not retyped, names are checked as typed', async ({ page }) => {
  await page.goto('/en/secrets/');
  const secrets = page.locator('atelier-secrets');
  await secrets.getByLabel('Group name').fill('Projet Patate');
  await expect(secrets.locator('#atelier-group-error')).toContainText('"Projet Patate" cannot name a group');
  await secrets.getByLabel('Group name').fill('projet_patate');
  await expect(secrets.locator('#atelier-group-error')).toBeEmpty();
  await secrets.getByLabel('NAME', { exact: true }).fill('1KEY');
  await expect(secrets.locator('.atelier-var--new .atelier-field-error')).toContainText('"1KEY" cannot name a variable');
  await secrets.getByLabel('NAME', { exact: true }).fill('API_KEY');
  await secrets.getByLabel('value', { exact: true }).fill('v4lue-one');
  await secrets.getByRole('button', { name: 'Add a variable' }).click();
  await secrets.getByLabel('NAME', { exact: true }).nth(1).fill('DB_PASSWORD');
  await secrets.getByLabel('value', { exact: true }).nth(1).fill('v4lue-two');
  await secrets.getByRole('button', { name: 'Save the group' }).click();
  const card = secrets.locator('li[data-group="projet_patate"]');
  await expect(card).toContainText('Variables: 2');

  await card.getByRole('button', { name: 'Edit the group projet_patate' }).click();
  await expect(secrets.getByRole('heading', { name: 'Edit the group "projet_patate"' })).toBeVisible();
  await expect(secrets.locator('[data-var="API_KEY"]')).toContainText('set');
  await secrets.locator('[data-var="DB_PASSWORD"] input').fill('v4lue-new');
  await secrets.getByRole('button', { name: 'Save the group' }).click();
  await expect(secrets.locator('.atelier-app__status')).toHaveText('Group "projet_patate" saved.');
  const listed = (await (await page.request.get('/api/me/secrets')).json()) as { groups: { group: string; names: string[] }[] };
  expect(listed.groups.find((group) => group.group === 'projet_patate')?.names, 'API_KEY kept though its input was empty').toEqual(['API_KEY', 'DB_PASSWORD']);

  await secrets.locator('li[data-group="projet_patate"]').getByRole('button', { name: 'Edit the group projet_patate' }).click();
  await secrets.getByRole('button', { name: 'Remove API_KEY' }).click();
  await secrets.getByRole('button', { name: 'Save the group' }).click();
  await expect(secrets.locator('li[data-group="projet_patate"]')).toContainText('Variables: 1');
  expect(await page.content()).not.toMatch(/v4lue-/);
});

test('My account: secrets masked until Reveal (aria-pressed), copied whole', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  // The learner first, then the page: two first requests at once (the page's and this one) would
  // each make a learner, and the page would show the other one's keys.
  const me = (await (await page.request.get('/api/me')).json()) as { s3: { secretAccessKey: string } };
  await page.goto('/en/account/');
  const account = page.locator('atelier-account');
  const secret = account.locator('dt:text-is("AWS_SECRET_ACCESS_KEY") + dd');
  await expect(secret.locator('code')).toContainText('hidden value');
  expect(await account.textContent()).not.toContain(me.s3.secretAccessKey);
  const reveal = secret.getByRole('button', { name: 'Show AWS_SECRET_ACCESS_KEY' });
  await expect(reveal).toHaveAttribute('aria-pressed', 'false');
  await reveal.click();
  await expect(reveal).toHaveAttribute('aria-pressed', 'true');
  await expect(secret.locator('code')).toHaveText(me.s3.secretAccessKey);
  await reveal.click();
  await expect(secret.locator('code')).not.toContainText(me.s3.secretAccessKey);
  await secret.getByRole('button', { name: 'Copy AWS_SECRET_ACCESS_KEY' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(me.s3.secretAccessKey);
});

test('My repositories: the README rendered (sanitized), breadcrumbs, a Python file highlighted', async ({ page, baseURL }) => {
  const me = (await (await page.request.get('/api/me')).json()) as { learner: { id: string } };
  const { token } = (await (await page.request.post('/api/me/git/token')).json()) as { token: string };
  const work = mkdtempSync(join(tmpdir(), 'atelier-e2e-readme-'));
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { stdio: 'pipe', env: { PATH: process.env.PATH, HOME: work } });
    git('init', '-q', '-b', 'main');
    writeFileSync(join(work, 'README.md'), '# TP Datalab\n\nDes **données** et [un lien](javascript:alert(1)).\n\n<script>document.title = "ran"</script>\n');
    execFileSync('mkdir', ['-p', join(work, 'src')]);
    writeFileSync(join(work, 'src', 'analyse.py'), 'import pandas as pd\n\ndef total(df):\n    return df["population"].sum()\n');
    git('add', '.');
    git('commit', '-q', '-m', 'first');
    const remote = new URL(`${baseURL}/git/${me.learner.id}/tp-readme.git`);
    remote.username = me.learner.id;
    remote.password = token;
    git('push', '-q', remote.href, 'main');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  await page.goto('/fr/forge/');
  await page.locator('atelier-forge').getByRole('link', { name: 'tp-readme' }).click();
  const readme = page.locator('.atelier-readme');
  await expect(readme.getByRole('heading', { name: 'TP Datalab' })).toBeVisible();
  await expect(readme.locator('strong')).toHaveText('données');
  await expect(readme.locator('script')).toHaveCount(0);
  expect(await readme.getByText('un lien').getAttribute('href')).toBeNull();
  await page.locator('atelier-forge').getByRole('link', { name: 'src/' }).click();
  await page.locator('atelier-forge').getByRole('link', { name: 'analyse.py' }).click();
  const code = page.locator('pre.atelier-code[data-language="python"]');
  await expect(code).toContainText('def total(df):');
  expect(await code.locator('span').count()).toBeGreaterThan(5);
  const crumbs = page.getByRole('navigation', { name: 'Chemin dans le dépôt' });
  await expect(crumbs.locator('[aria-current]')).toHaveText('analyse.py');
  await crumbs.getByRole('link', { name: 'tp-readme' }).click();
  await expect(readme.getByRole('heading', { name: 'TP Datalab' })).toBeVisible();
  expect(await page.title()).not.toBe('ran');
});

test('My services: a running lab with its time left and course, deleted with confirmation; nothing-running fails then passes', async ({ page }) => {
  await page.goto('/fr/services/');
  const services = page.locator('atelier-services');
  await expect(services).toContainText('Aucun service en cours.');
  await expect(services.getByRole('link', { name: 'Voir les travaux pratiques' })).toHaveAttribute('href', '/fr/');
  const launched = await page.request.post('/api/labs', { data: { lab: 'datalab-discovery' }, headers: { origin: new URL(page.url()).origin } });
  expect(launched.status()).toBeLessThan(300);
  const check = async () => (await (await page.request.post('/api/me/checks/nothing-running', { headers: { 'accept-language': 'fr', origin: new URL(page.url()).origin } })).json()) as { ok: boolean; message: string };
  const failing = await check();
  expect(failing.ok).toBe(false);
  expect(failing.message).toMatch(/^1 service tourne encore : Découverte du Datalab \(encore 1 h 59 min\)\. Supprimez-le dans Mes services\.$/);

  await page.reload();
  const row = services.locator('tbody tr');
  await expect(row).toHaveCount(1);
  await expect(row.getByRole('rowheader')).toContainText('Découverte du Datalab');
  // Launched without a choice: the catalogue's first service, named as the catalogue names it.
  await expect(row.getByRole('rowheader')).toContainText('Terminal · Lancé le');
  await expect(row).toContainText(/En cours|Démarrage/);
  await expect(row.getByRole('link', { name: 'Ouvrir le cours de Découverte du Datalab' })).toHaveAttribute('href', '/fr/datalab-tp/');
  const left = row.locator('.atelier-services__left');
  const first = await left.textContent();
  await expect(left).not.toHaveText(first!, { timeout: 3000 });
  expect(first).toMatch(/^encore 1 h 59 min \d\d s$|^encore 2 h 00 min 00 s$/);

  page.once('dialog', (dialog) => void dialog.dismiss());
  await row.getByRole('button', { name: 'Supprimer Découverte du Datalab' }).click();
  await expect(row).toHaveCount(1);
  page.once('dialog', (dialog) => void dialog.accept());
  await row.getByRole('button', { name: 'Supprimer Découverte du Datalab' }).click();
  await expect(services.locator('.atelier-app__status')).toHaveText('« Découverte du Datalab » supprimé.');
  await expect(services).toContainText('Aucun service en cours.');
  expect(await check()).toEqual({ ok: true, message: 'Plus rien ne tourne : toutes les ressources que vous occupiez sont libérées.' });

  await page.goto('/fr/datalab-tp/cleanup/');
  await expect(page.locator('atelier-check[data-check="nothing-running"][data-scope="learner"]')).toHaveCount(1);
});

test('learner pages are applications: no previous/next cards, no edit link', async ({ page }) => {
  for (const path of ['/fr/account/', '/en/services/', '/fr/files/', '/en/secrets/', '/fr/forge/']) {
    await page.goto(path);
    await expect(page.locator('.pagination-links a')).toHaveCount(0);
    await expect(page.getByRole('link', { name: /Modifier cette page|Edit page/ })).toHaveCount(0);
  }
});
