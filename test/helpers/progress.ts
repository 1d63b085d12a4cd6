/**
 * What the progress tests share: a built site (the test lab's tutorial in both languages, two
 * manual steps and two checked ones, and `extraPages` more pages with one manual step each for
 * quota tests), and the live progress stream read as an EventSource does.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { LearnerClient } from './learner.ts';
import { makeSiteDir, startTestServer, testLabId, type TestServer } from './server.ts';

export const tutorialPage = '/tp/demo/';
export const manualSteps = ['show-dir', 'list-files'];
export const checkedSteps = ['made-dir', 'always-ok'];

function writePage(siteDir: string, path: string, html: string): void {
  mkdirSync(join(siteDir, path), { recursive: true });
  writeFileSync(join(siteDir, path, 'index.html'), html);
}

/**
 * A real server on that site for the calling test file: started before its tests, removed with
 * its data after them. `newLearner` is a learner with a cookie (GET /api/me done).
 */
export function progressServer(extraPages = 0): { readonly server: TestServer; newLearner(): Promise<LearnerClient> } {
  let server: TestServer | undefined;
  let siteDir = '';
  before(async () => {
    siteDir = makeProgressSite(extraPages);
    server = await startTestServer({ config: { siteDir } });
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

export interface ProgressStream {
  status: number;
  events: { page: string; step: string; done: boolean }[];
  /** Resolves with the first event (already received or to come) matching, or rejects after `ms`. */
  next(match: (event: { page: string; step: string; done: boolean }) => boolean, ms: number): Promise<{ page: string; step: string; done: boolean }>;
  close(): void;
}

/** GET /api/progress/events as an EventSource does, parsed as it arrives. */
export function openProgressStream(port: number, cookie: string | undefined): Promise<ProgressStream> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/progress/events', headers: { accept: 'text/event-stream', ...(cookie ? { cookie } : {}) } });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      const events: ProgressStream['events'] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: progress$/m.test(block) && data) events.push(JSON.parse(data));
        }
        for (const wake of waiters) wake();
      });
      res.on('error', () => {});
      resolve({
        status: res.statusCode ?? 0,
        events,
        next: (match, ms) =>
          new Promise((found, fail) => {
            const look = (): boolean => {
              const event = events.find(match);
              if (!event) return false;
              waiters.delete(wake);
              clearTimeout(timer);
              found(event);
              return true;
            };
            const wake = (): void => void look();
            const timer = setTimeout(() => {
              waiters.delete(wake);
              fail(new Error(`no matching event within ${ms} ms; got ${JSON.stringify(events)}`));
            }, ms);
            if (!look()) waiters.add(wake);
          }),
        close: () => req.destroy(),
      });
    });
    req.end();
  });
}
