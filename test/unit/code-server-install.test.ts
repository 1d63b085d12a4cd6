/**
 * When setup installs VS Code for labs again: the stamp of the pinned manifest (missing, up to
 * date, out of date), on temporary directories. Only the failure test runs npm, on a manifest npm
 * refuses before fetching anything, to see the previous install kept and the reason given.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCodeServer } from '../../server/cli/code-server.ts';
import { codeServerManifest, codeServerReady, codeServerStamp, codeServerStampFile, vscodeWanted } from '../../server/services/code-server-install.ts';

const base = mkdtempSync(join(tmpdir(), 'atelier-code-server-test-'));
after(() => rmSync(base, { recursive: true, force: true }));

let count = 0;
/** A copy of the committed manifest and an install directory beside it (its .new and .log go there too). */
function fixture(): { manifest: string; target: string } {
  const dir = join(base, String(count++));
  const manifest = join(dir, 'manifest');
  cpSync(codeServerManifest, manifest, { recursive: true });
  return { manifest, target: join(dir, 'code-server') };
}

function markInstalled(target: string, manifest: string): void {
  mkdirSync(target, { recursive: true });
  writeFileSync(codeServerStampFile(target), `${codeServerStamp(manifest)}\n`);
}

test('the committed lock pins the versions package.json asks for (npm ci refuses them out of sync)', () => {
  const manifest = JSON.parse(readFileSync(join(codeServerManifest, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(codeServerManifest, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; dependencies?: Record<string, string> }>;
  };
  assert.deepEqual(lock.packages['']?.dependencies, manifest.dependencies);
  for (const [name, version] of Object.entries(manifest.dependencies)) assert.equal(lock.packages[`node_modules/${name}`]?.version, version, name);
  assert.ok(manifest.dependencies['code-server'] && manifest.dependencies.node, 'code-server and the Node it runs on');
});

test('missing: no install, or one whose stamp was never written (an interrupted build), is not ready', () => {
  const { manifest, target } = fixture();
  assert.equal(codeServerReady(target, manifest), false);
  mkdirSync(join(target, 'node_modules'), { recursive: true });
  assert.equal(codeServerReady(target, manifest), false);
});

test('up to date: the stamp of the same manifest is ready, and ensureCodeServer does nothing and says nothing', async () => {
  const { manifest, target } = fixture();
  markInstalled(target, manifest);
  assert.equal(codeServerReady(target, manifest), true);
  const lines: string[] = [];
  assert.equal(await ensureCodeServer(target, (line) => lines.push(line), manifest), false);
  assert.deepEqual(lines, []);
  assert.equal(existsSync(`${target}.install.log`), false, 'npm never ran');
});

test('out of date: a change to either pinned file makes an install stale', () => {
  for (const file of ['package.json', 'package-lock.json']) {
    const { manifest, target } = fixture();
    markInstalled(target, manifest);
    const path = join(manifest, file);
    writeFileSync(path, readFileSync(path, 'utf8').replace('4.139.1', '4.139.2'));
    assert.equal(codeServerReady(target, manifest), false, file);
  }
});

test('a failed install keeps the previous one as it was, removes its half build, and says why in one line', async () => {
  const { manifest, target } = fixture();
  markInstalled(target, manifest);
  writeFileSync(join(target, 'previous-install'), 'kept');
  const staleStamp = 'an older manifest\n';
  writeFileSync(codeServerStampFile(target), staleStamp);
  // A dependency the lock does not have: npm ci refuses it at once, offline.
  writeFileSync(join(manifest, 'package.json'), JSON.stringify({ private: true, dependencies: { 'code-server': '4.139.1', node: '24.21.0', 'left-pad': '1.3.0' } }));
  const lines: string[] = [];
  await assert.rejects(ensureCodeServer(target, (line) => lines.push(line), manifest), (error: Error) => {
    assert.match(error.message, /^Could not install VS Code: npm ci --ignore-scripts failed \(exit \d+\); npm's output is in .*code-server\.install\.log\./);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
  assert.match(lines[0] ?? '', /^Installing VS Code \(code-server 4\.139\.1 with Node 24\.21\.0\) .* into .*code-server: the first time takes several minutes/);
  assert.match(lines.at(-1) ?? '', /^Last 30 lines of .*code-server\.install\.log:\n[\s\S]*npm error/);
  assert.equal(readFileSync(join(target, 'previous-install'), 'utf8'), 'kept');
  assert.equal(readFileSync(codeServerStampFile(target), 'utf8'), staleStamp);
  assert.equal(existsSync(`${target}.new`), false);
});

test('ATELIER_VSCODE: unset, empty or on installs; off skips; anything else is refused naming the variable', () => {
  assert.equal(vscodeWanted({}), true);
  assert.equal(vscodeWanted({ ATELIER_VSCODE: '' }), true);
  assert.equal(vscodeWanted({ ATELIER_VSCODE: 'on' }), true);
  assert.equal(vscodeWanted({ ATELIER_VSCODE: 'off' }), false);
  assert.throws(() => vscodeWanted({ ATELIER_VSCODE: 'no' }), /ATELIER_VSCODE="no": expected on or off/);
});
