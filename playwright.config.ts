import { defineConfig } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Set once in the runner's process and inherited by its workers, so both agree on the port; derived
// from the pid so that two runs on one machine (a developer's and a fresh-clone check) do not collide.
process.env.ATELIER_E2E_PORT ??= String(20_000 + (process.pid % 20_000));
const port = Number(process.env.ATELIER_E2E_PORT);
// The trainers' token, known to the specs (test/e2e/class-view.spec.ts) and the server alike.
process.env.ATELIER_E2E_TRAINER_TOKEN ??= randomBytes(18).toString('base64url');

// Browsers cannot be downloaded here: Playwright drives Debian's Chromium (installed by `npm test`).
export default defineConfig({
  testDir: './test/e2e',
  workers: 1,
  timeout: 60_000,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      // *.localhost (the S3 and service origins, atelier.localhost) to the server's own address.
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--host-resolver-rules=MAP *.localhost 127.0.0.1'],
    },
  },
  webServer: {
    // node:sqlite (the learner store) is still flagged experimental in Node 22.
    command: 'node --disable-warning=ExperimentalWarning server/main.ts',
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    env: { PORT: String(port), HOST: '127.0.0.1', ATELIER_DATA_DIR: mkdtempSync(join(tmpdir(), 'atelier-e2e-')), ATELIER_TRAINER_TOKEN: process.env.ATELIER_E2E_TRAINER_TOKEN },
  },
});
