/**
 * JavaScript a tutorial page ships before the learner launches a lab: every module script of the
 * built page and the chunks they import statically, gzipped. Chunks reached only through dynamic
 * import() (xterm.js, socket.io) are counted apart: they load on launch.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

const dist = join(import.meta.dirname, '..', '..', 'dist');

function gz(text: string): number {
  return gzipSync(text, { level: 9 }).length;
}

function chunk(path: string): string {
  return readFileSync(join(dist, path), 'utf8');
}

/** Static imports (`import … from "./x.js"`, `import "./x.js"`) of a built chunk, as dist paths. */
function staticImports(path: string, source: string): string[] {
  const base = path.slice(0, path.lastIndexOf('/') + 1);
  return [...source.matchAll(/(?:^|[;\s}])import\s*(?:[^'"()]*?from\s*)?["'](\.{1,2}\/[^"']+)["']/g)].map((match) =>
    new URL(match[1]!, `file:///${base}`).pathname.slice(1),
  );
}

function dynamicImports(path: string, source: string): string[] {
  const base = path.slice(0, path.lastIndexOf('/') + 1);
  return [...source.matchAll(/import\(\s*["'`](\.{1,2}\/[^"'`]+)["'`]\s*\)/g)].map((match) =>
    new URL(match[1]!, `file:///${base}`).pathname.slice(1),
  );
}

export function pageWeight(page: string): { initial: number; lazy: number } {
  const html = readFileSync(join(dist, page), 'utf8');
  let initial = 0;
  const seen = new Set<string>();
  const lazy = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const source = chunk(path);
    initial += gz(source);
    staticImports(path, source).forEach(visit);
    dynamicImports(path, source).forEach((target) => lazy.add(target));
  };
  for (const match of html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)) {
    const attributes = match[1]!;
    if (/type="application\/(ld\+)?json"/.test(attributes)) continue;
    const src = /src="\/([^"]+)"/.exec(attributes)?.[1];
    if (src) visit(src);
    else {
      initial += gz(match[2]!);
      staticImports('_astro/inline.js', match[2]!).forEach(visit);
    }
  }
  let lazyBytes = 0;
  const lazySeen = new Set<string>();
  const visitLazy = (path: string) => {
    if (seen.has(path) || lazySeen.has(path)) return;
    lazySeen.add(path);
    const source = chunk(path);
    lazyBytes += gz(source);
    staticImports(path, source).forEach(visitLazy);
  };
  lazy.forEach(visitLazy);
  return { initial, lazy: lazyBytes };
}

if (import.meta.main) {
  for (const page of ['fr/tp/terminal/index.html', 'en/tp/terminal/index.html']) {
    const { initial, lazy } = pageWeight(page);
    console.log(`${page}: JS before launch ${(initial / 1024).toFixed(1)} KB gz (target < 20 KB); loaded on launch ${(lazy / 1024).toFixed(1)} KB gz`);
  }
}
