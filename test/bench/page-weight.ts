/**
 * What a tutorial page weighs as a real Chromium loads it from a real server: JS, CSS, HTML and
 * fonts, compressed as served (Content-Encoding, brotli here) and raw, before the learner
 * launches a lab and what the launch adds (xterm.js, socket.io, the terminal font). Targets before
 * launch: ≤ 20 KB JS and ≤ 40 KB CSS compressed.
 * Then the CPU the server spends per request on the page and on the terminal bundle, sent from
 * the build's precompressed copies (what the server does) or compressed on the fly by
 * @fastify/compress (a copy of the site without them).
 */
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { startServer, type RunningServer } from '../../server/app.ts';

const root = join(import.meta.dirname, '..', '..');
const dist = join(root, 'dist');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const kinds = ['script', 'stylesheet', 'document', 'font'] as const;
type Kind = (typeof kinds)[number];
const labels: Record<Kind, string> = { script: 'JS', stylesheet: 'CSS', document: 'HTML', font: 'fonts' };
const targets: Partial<Record<Kind, number>> = { script: 20, stylesheet: 40 };

export interface Weight {
  served: number;
  raw: number;
  files: number;
}
type Weights = Record<Kind, Weight>;

const empty = (): Weights => Object.fromEntries(kinds.map((kind) => [kind, { served: 0, raw: 0, files: 0 }])) as Weights;

/** Records every response of `page` by kind, into whatever `into()` returns at the time it ends. */
function recordWeights(page: Page, into: () => Weights): Promise<void>[] {
  const pending: Promise<void>[] = [];
  page.on('requestfinished', (request) => {
    const kind = request.resourceType() as Kind;
    if (!kinds.includes(kind)) return;
    const bucket = into()[kind];
    pending.push(
      (async () => {
        const response = await request.response();
        if (!response || response.status() !== 200) return;
        const sizes = await request.sizes();
        const body = await response.body();
        bucket.served += sizes.responseBodySize;
        bucket.raw += body.length;
        bucket.files += 1;
      })(),
    );
  });
  return pending;
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

export async function measurePage(baseURL: string, path: string): Promise<{ before: Weights; launch: Weights }> {
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const context = await browser.newContext({ baseURL });
    const page = await context.newPage();
    const before = empty();
    const launch = empty();
    let current = before;
    const pending = recordWeights(page, () => current);
    await page.goto(path, { waitUntil: 'networkidle' });
    await Promise.all(pending);
    current = launch;
    const started = page.waitForResponse((response) => response.url().endsWith('/api/labs') && response.request().method() === 'POST');
    await page.locator('atelier-launch').getByRole('button').first().click();
    const lab = (await (await started).json()) as { id: string; token: string };
    await page.locator('.xterm-rows').filter({ hasText: '$' }).first().waitFor({ timeout: 30_000 });
    await page.waitForLoadState('networkidle');
    await Promise.all(pending);
    await page.request.delete(`/api/labs/${lab.id}`, { headers: { authorization: `Bearer ${lab.token}` } });
    return { before, launch };
  } finally {
    await browser.close();
  }
}

function printWeights(title: string, weights: Weights, withTargets: boolean): void {
  console.log(title);
  for (const kind of kinds) {
    const { served, raw, files } = weights[kind];
    const target = withTargets && targets[kind] !== undefined ? `  (target ≤ ${targets[kind]} KB: ${served / 1024 <= targets[kind]! ? 'met' : 'MISSED'})` : '';
    console.log(`  ${labels[kind].padEnd(6)} ${kb(served).padStart(9)} served (brotli) · ${kb(raw).padStart(9)} raw · ${files} file(s)${target}`);
  }
}

/** GET `url` accepting brotli, its body as sent (not decoded). */
function rawGet(url: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent, headers: { 'accept-encoding': 'br' } }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve(bytes));
    }).on('error', reject);
  });
}

/** Server CPU (this process: the server runs in it) per request, for `count` sequential GETs. */
async function cpuPerRequest(url: string, count: number): Promise<{ cpuMs: number; bytes: number }> {
  const agent = new Agent({ keepAlive: true });
  for (let i = 0; i < 10; i += 1) await rawGet(url, agent);
  const start = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < count; i += 1) bytes = await rawGet(url, agent);
  const used = process.cpuUsage(start);
  agent.destroy();
  return { cpuMs: (used.user + used.system) / 1000 / count, bytes };
}

async function withServer<T>(siteDir: string, run: (server: RunningServer) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'atelier-bench-weight-'));
  const server = await startServer({ logger: false, config: { port: 0, host: '127.0.0.1', siteDir, dataDir } });
  try {
    return await run(server);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  // The terminal bundle: the largest script of the build (xterm.js and socket.io-client).
  const terminalBundle = readdirSync(join(dist, '_astro'))
    .filter((file) => file.endsWith('.js'))
    .sort((a, b) => statSync(join(dist, '_astro', b)).size - statSync(join(dist, '_astro', a)).size)[0];
  const costs: Record<string, Record<string, { cpuMs: number; bytes: number }>> = {};
  await withServer(dist, async (server) => {
    for (const path of ['/fr/tp/terminal/', '/en/tp/terminal/']) {
      const { before, launch } = await measurePage(server.url, path);
      printWeights(`${path} before launch:`, before, true);
      printWeights(`${path} loaded by the launch:`, launch, false);
    }
    costs.precompressed = { page: await cpuPerRequest(`${server.url}/fr/tp/terminal/`, 200), ...(terminalBundle ? { terminal: await cpuPerRequest(`${server.url}/_astro/${terminalBundle}`, 100) } : {}) };
  });
  const bare = mkdtempSync(join(tmpdir(), 'atelier-bench-site-'));
  cpSync(dist, bare, { recursive: true, filter: (source) => !/\.(br|gz)$/.test(source) });
  await withServer(bare, async (server) => {
    costs['on the fly (brotli 4)'] = { page: await cpuPerRequest(`${server.url}/fr/tp/terminal/`, 200), ...(terminalBundle ? { terminal: await cpuPerRequest(`${server.url}/_astro/${terminalBundle}`, 100) } : {}) };
  });
  rmSync(bare, { recursive: true, force: true });
  console.log('Server CPU per request (brotli accepted; client in the same process, the same in both):');
  for (const [way, files] of Object.entries(costs)) {
    console.log(`  ${way.padEnd(22)} ${Object.entries(files).map(([file, { cpuMs, bytes }]) => `${file}: ${cpuMs.toFixed(2)} ms CPU, ${kb(bytes)} sent`).join(' · ')}`);
  }
}
