/**
 * The class view's latency as a trainer sees it, in Chromium against a real server on the built
 * site (memory driver labs: the sandbox's own cost is the browser bench's): a learner's check
 * POSTed (from the trainer's page, so one clock times it) → the trainer's table showing the new
 * outcome (a MutationObserver on the class view). Beside it, in the same runs and the same page,
 * the path's floor: the `members` message the view drew from, timed as it arrives on the view's
 * own EventSource (a listener added before the view's), before any drawing. The check alternates between failing and passing (its
 * folder removed and made again in the lab), so every run changes the learner's row; runs are
 * spaced beyond the view's coalescing window (250 ms), which would otherwise be what is measured.
 * With BENCH_DRIVER=local (root), the same on real labs: the project's terminal-basics lab in a
 * bubblewrap sandbox, its own file check, so the sandbox's exec is in the figure.
 * Run: node test/bench/class-view.bench.ts (BENCH_RUNS, default 40).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { startServer } from '../../server/app.ts';
import { loadLabs } from '../../server/labs/registry.ts';
import { LearnerClient } from '../helpers/learner.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { ms, summarize, type Summary } from './lib/stats.ts';
import fr from '../../i18n/fr.json' with { type: 'json' };

const runs = Number(process.env.BENCH_RUNS ?? 40);
const token = 'bench-trainer-token-0123456789abcdef';
const lab = 'terminal-basics';
const check = 'made-dir';

const dataDir = mkdtempSync(join(tmpdir(), 'atelier-bench-class-view-'));
// The course's lab with its check as a shell test of $HOME: the memory driver's labs live in a
// temporary home, not in the image's workspace that the file check reads.
const labsDir = mkdtempSync(join(tmpdir(), 'atelier-bench-class-view-labs-'));
mkdirSync(join(labsDir, lab));
writeFileSync(
  join(labsDir, lab, 'lab.yaml'),
  `id: ${lab}\ntitle: { fr: Terminal, en: Terminal }\nresources: { cpu: 0.5, memory: 256Mi, disk: 64Mi, pids: 128 }\nttl: 30m\nidle: 30m\nchecks:\n  ${check}:\n    kind: shell\n    run: test -d "$HOME/work/mon-dossier"\n`,
);
const real = process.env.BENCH_DRIVER === 'local';
const projectLabs = join(import.meta.dirname, '..', '..', 'labs');
const server = await startServer({
  logger: false,
  labs: loadLabs(real ? projectLabs : labsDir),
  ...(real ? {} : { driver: new MemoryDriver() }),
  config: {
    port: 0,
    host: '127.0.0.1',
    dataDir,
    siteDir: join(import.meta.dirname, '..', '..', 'dist'),
    trainerToken: { value: token },
    ...(real ? { labsDir: projectLabs, labUids: { base: 297_000, count: 10 }, deployment: 'bench-class-view' } : {}),
  },
});
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });

const screen: number[] = [];
const floor: number[] = [];
try {
  const context = await browser.newContext({ baseURL: server.url });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error', error.message));
  const signIn = await page.request.post('/api/trainer/session', { data: { token }, headers: { origin: server.url } });
  if (!signIn.ok()) throw new Error(`trainer sign-in: ${signIn.status()}`);
  const created = await page.request.post('/api/trainer/classes', { data: { course: '/tp/', title: 'Bench', startsAt: 1, endsAt: Date.now() + 3600_000 }, headers: { origin: server.url } });
  const group = (await created.json()) as { id: string; joinCode: string };

  const learner = new LearnerClient(server.url);
  const joined = await learner.api('/api/classes/join', { method: 'POST', body: { code: group.joinCode, name: 'Ada' } });
  if (joined.status !== 200) throw new Error(`join: ${joined.status} ${joined.text}`);
  const labInfo = await learner.launch(lab);
  const session = server.sessions.get(labInfo.id)!;
  const handle = await session.ready;
  const inLab = (script: string) => server.driver.exec(handle, ['bash', '-c', script]);

  // Every `members` message's arrival on the page's streams, timed before the view's own listener runs.
  await page.addInitScript(() => {
    const arrivals: number[] = [];
    (window as unknown as { classArrivals: number[] }).classArrivals = arrivals;
    const Native = window.EventSource;
    window.EventSource = class extends Native {
      constructor(url: string | URL, init?: EventSourceInit) {
        super(url, init);
        this.addEventListener('members', () => arrivals.push(performance.now()));
      }
    };
  });
  await page.goto(`/fr/trainer/class/?id=${group.id}`);
  await page.locator('table.atelier-class__table tbody tr').waitFor();

  for (let run = 0; run < runs; run += 1) {
    const passes = run % 2 === 1;
    await inLab(passes ? 'mkdir -p ~/work/mon-dossier' : 'rm -rf ~/work/mon-dossier');
    const result = await page.evaluate(
      ({ labId, labToken, check, passes, none }) =>
        new Promise<{ screen: number; floor: number }>((resolve, reject) => {
          const view = document.querySelector('atelier-class-view')!;
          const failedCell = () => view.querySelector('tbody tr td:nth-of-type(3)')?.textContent ?? '';
          const shows = () => (passes ? failedCell() === none : failedCell() !== none && failedCell() !== '');
          const arrivals = (window as unknown as { classArrivals: number[] }).classArrivals;
          const seen = arrivals.length;
          const timeout = setTimeout(() => reject(new Error(`no update within 10 s (passes: ${passes})`)), 10_000);
          const start = performance.now();
          const observer = new MutationObserver(() => {
            if (!shows()) return;
            const drawn = performance.now();
            observer.disconnect();
            clearTimeout(timeout);
            // The message the view drew from: the last to arrive on its stream before the drawing.
            resolve({ screen: drawn - start, floor: arrivals.slice(seen).filter((at) => at <= drawn).at(-1)! - start });
          });
          observer.observe(view, { childList: true, subtree: true, characterData: true });
          void fetch(`/api/labs/${labId}/checks/${check}`, { method: 'POST', headers: { authorization: `Bearer ${labToken}`, 'accept-language': 'fr' } });
        }),
      { labId: labInfo.id, labToken: labInfo.token, check, passes, none: fr.classView.noFailure },
    );
    screen.push(result.screen);
    floor.push(result.floor);
    // Beyond the coalescing window: each run is drawn at once, not held for the next slot.
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  await context.close();
} finally {
  await browser.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(labsDir, { recursive: true, force: true });
}

const labs = real ? 'real lab (bubblewrap)' : 'memory driver';
const line = (label: string, s: Summary) => `${`${label} [${labs}]`.padEnd(82)} n=${s.n}  median ${ms(s.median)}  p95 ${ms(s.p95)}  p99 ${ms(s.p99)}  max ${ms(s.max)}`;
console.log(line('check POSTed → trainer\'s table updated (Chromium, DOM)', summarize(screen)));
console.log(line('floor: check POSTed → `members` SSE message in the page', summarize(floor)));
