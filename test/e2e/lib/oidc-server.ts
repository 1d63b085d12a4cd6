/**
 * A lab server of its own (a real process) configured for a real OpenID provider on loopback
 * (test/helpers/oidc.ts: its group claim `trainers` makes trainers), and signing in through the
 * provider's own pages in Chromium, as a person does.
 */
import { expect, type Page } from '@playwright/test';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProvider, type TestProvider } from '../../helpers/oidc.ts';
import { freePort, spawnServer } from '../../helpers/server-process.ts';
import fr from '../../../i18n/fr.json' with { type: 'json' };

export interface OidcLabServer {
  origin: string;
  provider: TestProvider;
  stop(): Promise<void>;
}

/** `name` names its deployment and data directory; `uidBase` is its own range of 20 lab uids. */
export async function startOidcLabServer(name: string, uidBase: number, env: Record<string, string> = {}): Promise<OidcLabServer> {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const provider = await startProvider(origin);
  const dataDir = mkdtempSync(join(tmpdir(), `atelier-e2e-${name}-`));
  let server: ChildProcess;
  try {
    server = await spawnServer('the lab server', port, {
      ATELIER_DATA_DIR: dataDir,
      ATELIER_ORIGIN: origin,
      ATELIER_DEPLOYMENT: `e2e-${name}`,
      ATELIER_LAB_UID_BASE: String(uidBase),
      ATELIER_LAB_UID_COUNT: '20',
      ATELIER_MAX_LABS: '20',
      ATELIER_OIDC_ISSUER: provider.issuer,
      ATELIER_OIDC_CLIENT_ID: provider.clientId,
      ATELIER_OIDC_CLIENT_SECRET: provider.clientSecret,
      ATELIER_OIDC_SCOPES: 'openid profile email groups',
      ATELIER_OIDC_TRAINER_CLAIM: 'groups=trainers',
      ...env,
    });
  } catch (error) {
    await provider.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
    await provider.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { origin, provider, stop };
}

/**
 * From the header's Sign in (a click, or by keyboard), then through the provider's login and
 * consent pages, until back on the site past the callback (which sets the sign-in's cookies).
 */
export async function signInThroughProvider(page: Page, origin: string, login: string, by: 'click' | 'keyboard' = 'click'): Promise<void> {
  const link = page.locator('atelier-sign-in').first().getByRole('link', { name: fr.signIn.signIn });
  if (by === 'keyboard') {
    await link.focus();
    await page.keyboard.press('Enter');
  } else await link.click();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((url) => url.origin === origin && !url.pathname.startsWith('/auth/'), { waitUntil: 'commit' });
  await expect(page.locator('atelier-sign-in').first()).toContainText(fr.signIn.signOut);
}
