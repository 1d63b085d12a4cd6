/**
 * mergeDevice on real parts (SQLite learner store, bare repositories on disk, the embedded object
 * store): names the account has come over beside its own (a suffix that fits the 64-character
 * repository names, a second from-device prefix when the first is taken), and what the account's
 * bucket quota refuses stays with the device's learner, which is then kept and reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sealer } from '../../server/learners/sealed.ts';
import { SqliteLearnerStore } from '../../server/learners/sqlite-store.ts';
import { RepositoryStore } from '../../server/forge/index.ts';
import { ObjectStore } from '../../server/storage/object-store.ts';
import { embeddedObjects } from '../../server/storage/external.ts';
import { mergeDevice } from '../../server/auth/accounts.ts';

async function setUp(maxObjects?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-merge-'));
  const store = new SqliteLearnerStore({ path: join(dir, 'learners.db'), sealer: Sealer.fromKeyFile(join(dir, 'secret.key')) });
  const repos = new RepositoryStore(join(dir, 'forge'));
  const objectStore = new ObjectStore(join(dir, 's3'), maxObjects === undefined ? {} : { limits: () => ({ maxBytes: 1024 ** 3, maxObjects }) });
  await objectStore.ready();
  const stopped: string[] = [];
  const services = { store, repos, objects: embeddedObjects(objectStore), stopLabs: async (id: string) => void stopped.push(id) };
  return {
    services,
    stopped,
    dispose: async () => {
      await objectStore.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('names the account has: a long repository name keeps its suffix within 64 characters; a second from-device prefix when the first is taken', async () => {
  const { services, stopped, dispose } = await setUp();
  try {
    const account = (await services.store.create()).id;
    const device = (await services.store.create()).id;
    const long = 'r'.repeat(64);
    for (const learner of [account, device]) {
      await services.repos.ensureEmpty(learner, long);
      await services.repos.ensureEmpty(learner, 'projet');
    }
    await services.repos.ensureEmpty(account, 'projet-device');
    await services.objects.put(account, 'notes.txt', 'account', 'text/plain');
    await services.objects.put(account, 'from-device/notes.txt', 'an earlier merge', 'text/plain');
    await services.objects.put(device, 'notes.txt', 'device', 'text/plain');
    await services.objects.put(device, 'data.csv', 'a,b', 'text/csv');

    const report = await mergeDevice(services, device, account);
    assert.deepEqual(stopped, [device]);
    assert.deepEqual(report.repositories, {
      moved: [],
      renamed: [
        { from: 'projet', to: 'projet-device-2' },
        { from: long, to: `${'r'.repeat(57)}-device` },
      ].sort((a, b) => a.from.localeCompare(b.from)),
    });
    assert.deepEqual(services.repos.names(account).sort(), ['projet', 'projet-device', 'projet-device-2', long, `${'r'.repeat(57)}-device`].sort());
    assert.deepEqual(report.objects, { moved: 1, renamed: [{ from: 'notes.txt', to: 'from-device-2/notes.txt' }], left: [] });
    const read = async (key: string) => {
      const object = await services.objects.read(account, key);
      const chunks: Buffer[] = [];
      for await (const chunk of object!.stream) chunks.push(chunk as Buffer);
      return [Buffer.concat(chunks).toString(), object!.meta.headers['content-type']];
    };
    assert.deepEqual(await read('notes.txt'), ['account', 'text/plain']);
    assert.deepEqual(await read('from-device-2/notes.txt'), ['device', 'text/plain']);
    assert.deepEqual(await read('data.csv'), ['a,b', 'text/csv']);
    assert.equal(report.deviceDeleted, true);
    assert.equal(await services.store.get(device), undefined);
    assert.deepEqual(services.repos.names(device), []);
  } finally {
    await dispose();
  }
});

test('an object the account\'s full bucket refuses stays with the device\'s learner, kept and reported', async () => {
  const { services, dispose } = await setUp(2);
  try {
    const account = (await services.store.create()).id;
    const device = (await services.store.create()).id;
    await services.objects.put(account, 'mine.txt', 'x', 'text/plain');
    await services.objects.put(device, 'a.txt', 'a', 'text/plain');
    await services.objects.put(device, 'b.txt', 'b', 'text/plain');
    const report = await mergeDevice(services, device, account);
    assert.deepEqual(report.objects, { moved: 1, renamed: [], left: ['b.txt'] });
    assert.equal(report.deviceDeleted, false);
    assert.ok(await services.store.get(device), 'the device\'s learner is kept with what it still holds');
    assert.ok(await services.objects.head(device, 'b.txt'));
  } finally {
    await dispose();
  }
});
