/**
 * Two servers of one deployment on one host (replicas), each with its own LocalDriver process:
 * a lab made by one is served by the other — exec, terminal — through its handle alone, while
 * the other neither lists it as its own nor stops it when it closes. The lab's uid stays leased
 * to the server that made it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import type { LabHandle } from '../../server/drivers/driver.ts';
import { hostPidsOfUid, internal, labSpec } from '../helpers/driver.ts';

const options = { uidBase: 212_000, uidCount: 10, cgroupName: 'atelier-test', deployment: 'replica-test' };
const root = join(import.meta.dirname, '..', '..');

// The other replica: a process that makes a lab, prints its handle and keeps it until killed.
const other = spawn(
  process.execPath,
  [
    '--disable-warning=ExperimentalWarning',
    '--input-type=module',
    '-e',
    `import { LocalDriver } from ${JSON.stringify(join(root, 'server/drivers/local/local-driver.ts'))};
     import { startLab, labSpec } from ${JSON.stringify(join(root, 'test/helpers/driver.ts'))};
     const driver = new LocalDriver(${JSON.stringify(options)});
     await driver.reapAll();
     const handle = await startLab(driver, labSpec('replica-lab', { env: { FROM_THE_CLAIM: 'yes' } }));
     console.log(JSON.stringify(handle));
     setInterval(() => {}, 1000);`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
after(() => other.kill('SIGKILL'));

const handle = await new Promise<LabHandle>((resolve, reject) => {
  let out = '';
  other.stdout.on('data', (data: Buffer) => {
    out += data.toString();
    if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as LabHandle);
  });
  other.once('exit', (code) => reject(new Error(`the other replica exited (${code})`)));
});

test('a replica serves another live replica\'s lab by its handle, and leaves it alone', async () => {
  const driver = new LocalDriver(options);
  const { uid } = internal(handle);
  const result = await driver.exec(handle, ['sh', '-c', 'printf %s "$FROM_THE_CLAIM"']);
  assert.deepEqual(result, { code: 0, stdout: 'yes', stderr: '', timedOut: false }, 'the claim\'s environment too');
  const terminal = await driver.attach(handle, { cols: 80, rows: 24 });
  const seen = await new Promise<string>((resolve) => {
    let text = '';
    terminal.onData((data) => {
      text += data;
      if (/here-42/.test(text)) resolve(text);
    });
    terminal.write('echo here-$((6*7))\r');
  });
  assert.match(seen, /here-42/);
  terminal.close();
  assert.ok(!(await driver.list()).some((listed) => listed.id === handle.id), 'not listed as this replica\'s own');
  assert.equal(await driver.poll(handle), true, 'but known to run (a replica joining keeps its session)');
  assert.equal(JSON.parse(readFileSync(`/run/atelier/uids/${uid}`, 'utf8')).pid, other.pid, 'its uid stays leased to its maker');
  await driver.close();
  assert.ok(hostPidsOfUid(uid).length > 0, 'closing this replica left the other\'s lab running');
  assert.equal((await driver.exec(handle, ['true'])).code, 0);
});
