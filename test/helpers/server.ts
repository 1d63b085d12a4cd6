/**
 * A real lab server for tests, in-process on a free port: a temporary labs dir holding the test
 * lab below, a tiny built site (fr/, en/, 404.html), and the real driver.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type StartOptions } from '../../server/app.ts';
import type { Driver } from '../../server/drivers/driver.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
// The S3 origin is http://s3.localhost:<port>: resolved as browsers do.
import './loopback.ts';

export const testLabId = 'test-lab';

/** The test lab: one check of every shape the API tests need. */
export const testLabYaml = `
id: ${testLabId}
title: { fr: Lab de test, en: Test lab }
workspace: /home/onyxia/work
resources: { cpu: 0.5, memory: 256Mi, disk: 64Mi, pids: 128 }
ttl: 10m
idle: 10m
checks:
  made-dir:
    kind: file
    path: ~/work/mon-dossier
    type: dir
    expect: { fr: un dossier mon-dossier dans ~/work, en: a folder named mon-dossier in ~/work }
    hint: { fr: Tapez mkdir mon-dossier, en: Type mkdir mon-dossier }
  notes-say-hello:
    kind: file
    path: ~/work/notes.txt
    type: file
    contains: "^hello"
  no-notes:
    kind: file
    path: ~/work/notes.txt
    absent: true
  marker-set:
    kind: shell
    run: test -f ~/work/marker && cat ~/work/marker
    stdout: "^ready$"
  always-ok:
    kind: shell
    run: "true"
  slow:
    kind: shell
    run: sleep 30
`;

/** A lab offering JupyterLab (its memory as a notebook's kernel needs it), for the services' tests. */
export const serviceLabYaml = `
id: svc-lab
title: { fr: Lab avec services, en: Lab with services }
workspace: /home/onyxia/work
resources: { cpu: 1, memory: 256Mi, disk: 128Mi, pids: 256 }
ttl: 10m
idle: 10m
catalog:
  jupyterlab: { resources: { memory: 1Gi } }
  terminal: {}
`;

export function makeLabsDir(extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-labs-'));
  for (const [id, yaml] of Object.entries({ [testLabId]: testLabYaml, ...extra })) {
    mkdirSync(join(dir, id));
    writeFileSync(join(dir, id, 'lab.yaml'), yaml);
  }
  return dir;
}

export function makeSiteDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-site-'));
  for (const language of ['fr', 'en']) {
    mkdirSync(join(dir, language));
    writeFileSync(join(dir, language, 'index.html'), `<!doctype html><html lang="${language}"><title>${language}</title></html>`);
  }
  writeFileSync(join(dir, '404.html'), '<!doctype html><title>404</title><h1>Page introuvable</h1>');
  return dir;
}

/** The real local driver (bubblewrap sandboxes): tests run as root, as the server does. */
export function createTestDriver(): Driver {
  return new LocalDriver();
}

export interface TestServer extends RunningServer {
  /** fetch against the server with JSON in and out. */
  api(path: string, init?: ApiInit): Promise<{ status: number; headers: Headers; body: any }>;
  cleanup(): Promise<void>;
}

export interface ApiInit {
  method?: string;
  body?: unknown;
  /** Raw body, sent as is (with content-type application/json unless headers say otherwise). */
  raw?: string;
  token?: string;
  lang?: string;
  headers?: Record<string, string>;
}

export async function startTestServer(options: StartOptions = {}): Promise<TestServer> {
  const labsDir = makeLabsDir();
  const siteDir = makeSiteDir();
  const server = await startServer({
    ...options,
    driver: options.driver ?? createTestDriver(),
    logger: options.logger ?? false,
    config: { port: 0, host: '127.0.0.1', labsDir, siteDir, dataDir: mkdtempSync(join(tmpdir(), 'atelier-data-')), ...options.config, limits: { maxLabsPerClient: 20, ...options.config?.limits } },
  });
  const api: TestServer['api'] = async (path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    if (init.lang !== undefined) headers['accept-language'] = init.lang;
    let body: string | undefined;
    if (init.raw !== undefined) body = init.raw;
    else if (init.body !== undefined) body = JSON.stringify(init.body);
    if (body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    const response = await fetch(server.url + path, { method: init.method ?? 'GET', headers, body, redirect: 'manual' });
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed };
  };
  return {
    ...server,
    api,
    cleanup: async () => {
      await server.close();
      rmSync(labsDir, { recursive: true, force: true });
      rmSync(siteDir, { recursive: true, force: true });
    },
  };
}
