/**
 * `npm run bench [-- name…]`: runs every benchmark (or those named) in turn and prints its figures. Benchmarks measure;
 * they never fail a build (targets are printed beside the figures).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
if (!existsSync(join(root, 'dist'))) {
  console.log('Building the site first (the page-weight benchmark reads dist/)…');
  spawnSync('npx', ['astro', 'build'], { cwd: root, stdio: 'inherit' });
}
const all = ['page-weight.ts', ...readdirSync(import.meta.dirname).filter((file) => file.endsWith('.bench.ts')).sort()];
// `npm run bench -- browser page-weight`: only the benchmarks whose file names start so.
const wanted = process.argv.slice(2);
const benches = wanted.length === 0 ? all : all.filter((file) => wanted.some((name) => file.startsWith(name)));
let failed = 0;
for (const bench of benches) {
  console.log(`\n== ${bench}`);
  const result = spawnSync(process.execPath, [join(import.meta.dirname, bench)], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed += 1;
}
process.exit(failed > 0 ? 1 : 0);
