/**
 * What the progress tests share: a built site (the test lab's tutorial in both languages, two
 * manual steps and two checked ones, and `extraPages` more pages with one manual step each for
 * quota tests), and the live progress stream read as an EventSource does.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { StartOptions } from '../../server/app.ts';
import type { ProgressChange } from '../../server/learners/progress.ts';
import { LearnerClient } from './learner.ts';
import { makeSiteDir, startTestServer, testLabId, type TestServer } from './server.ts';
import { openSse, type SseStream } from './sse.ts';

export const tutorialPage = '/tp/demo/';
export const manualSteps = ['show-dir', 'list-files'];
export const checkedSteps = ['made-dir', 'always-ok'];

function writePage(siteDir: string, path: string, html: string): void {
  mkdirSync(join(siteDir, path), { recursive: true });
  writeFileSync(join(siteDir, path, 'index.html'), html);
}

/**
 * A real server on that site (and `options`) for the calling test file: started before its
 * tests, removed with its data after them. `newLearner` is a learner with a cookie (GET /api/me done).
 */
export function progressServer(extraPages = 0, options: StartOptions = {}): { readonly server: TestServer; newLearner(): Promise<LearnerClient> } {
  let server: TestServer | undefined;
  let siteDir = '';
  before(async () => {
    siteDir = makeProgressSite(extraPages);
    server = await startTestServer({ ...options, config: { ...options.config, siteDir } });
  });
  after(async () => {
    await server?.cleanup();
    if (server) rmSync(server.config.dataDir, { recursive: true, force: true });
    rmSync(siteDir, { recursive: true, force: true });
  });
  return {
    get server() {
      if (!server) throw new Error('progressServer: the server starts in before()');
      return server;
    },
    async newLearner() {
      const client = new LearnerClient(this.server.url);
      await client.me();
      return client;
    },
  };
}

export function makeProgressSite(extraPages = 0): string {
  const siteDir = makeSiteDir();
  for (const language of ['fr', 'en']) {
    const items = [
      ...manualSteps.map((step) => `<li class="task-list-item" data-step="${step}"><input type="checkbox"> ${step}</li>`),
      ...checkedSteps.map((step) => `<li class="task-list-item" data-step="${step}" data-check="${step}"><input type="checkbox" disabled> ${step}</li>`),
    ];
    writePage(siteDir, `${language}${tutorialPage}`, `<!doctype html><html lang="${language}"><atelier-launch data-lab="${testLabId}" class="atelier-launch"></atelier-launch><ul>${items.join('')}</ul></html>`);
  }
  for (let i = 0; i < extraPages; i += 1) {
    writePage(siteDir, `fr/extra/p${i}/`, '<!doctype html><ul><li class="task-list-item" data-step="read"><input type="checkbox"> read</li></ul>');
  }
  return siteDir;
}

export type ProgressStream = SseStream<ProgressChange>;

/** GET /api/progress/events: its `progress` events. */
export function openProgressStream(port: number, cookie: string | undefined): Promise<ProgressStream> {
  return openSse(`http://127.0.0.1:${port}`, '/api/progress/events', cookie, (event) => (event.event === 'progress' ? (event.data as ProgressChange) : undefined));
}
