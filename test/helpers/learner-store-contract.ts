/**
 * What every `LearnerStore` must do, as one list of cases run against each store: SQLite
 * (test/unit/learner-store.test.ts) and PostgreSQL (test/integration/learner-store-pg.test.ts).
 */
import assert from 'node:assert/strict';
import { runCases, type Case } from './contract.ts';
import type { LearnerStore } from '../../server/learners/store.ts';
import { startAnonymousPurge } from '../../server/learners/purge.ts';

/** One empty database of the store under test. */
export interface StoreDatabase {
  /** A store on this database; opened again after `close`, it finds the same data. */
  open(now?: () => number): Promise<LearnerStore>;
  /** Everything the database holds, as text: what a copy of it would show. */
  raw(): Promise<string>;
  /** Closes what is still open and removes the database. */
  dispose(): Promise<void>;
}

const cases: Case<StoreDatabase>[] = [
  [
    'learner data survives closing and reopening the store',
    async (db) => {
      let store = await db.open();
      const learner = await store.create();
      await store.setGit(learner.id, { name: 'Ada', email: 'ada@example.org' });
      const token = await store.rotateGitToken(learner.id);
      await store.putSecretGroup(learner.id, 'projet', { API_KEY: 'very-secret-value' });
      await store.setProgress(learner.id, '/tp/terminal/', 'made-dir', true);
      const s3 = await store.s3Credentials(learner.id);
      await store.close();

      store = await db.open();
      assert.deepEqual((await store.get(learner.id))?.git, { name: 'Ada', email: 'ada@example.org' });
      assert.equal(await store.learnerByGitToken(token), learner.id);
      assert.equal(await store.gitToken(learner.id), token);
      assert.deepEqual(await store.secretGroup(learner.id, 'projet'), { API_KEY: 'very-secret-value' });
      assert.deepEqual(await store.progress(learner.id, '/tp/terminal/'), ['made-dir']);
      assert.deepEqual(await store.s3Credentials(learner.id), s3, 'unexpired credentials are reused');
      assert.equal((await store.s3CredentialsByAccessKey(s3.accessKeyId))?.learnerId, learner.id);
      await store.close();
    },
  ],
  [
    'secrets, tokens and S3 keys are sealed: not readable in the database',
    async (db) => {
      const store = await db.open();
      const learner = await store.create();
      const token = await store.rotateGitToken(learner.id);
      await store.putSecretGroup(learner.id, 'projet', { API_KEY: 'very-secret-value' });
      const s3 = await store.s3Credentials(learner.id);
      await store.close();
      const raw = await db.raw();
      assert.ok(raw.includes(learner.id) && raw.includes(s3.accessKeyId), 'the check reads the right data');
      for (const secret of [token, 'very-secret-value', s3.secretAccessKey, s3.sessionToken]) assert.ok(!raw.includes(secret), secret);
    },
  ],
  [
    'a new git token revokes the previous one',
    async (db) => {
      const store = await db.open();
      const learner = await store.create();
      assert.equal(await store.gitToken(learner.id), undefined);
      const first = await store.rotateGitToken(learner.id);
      const second = await store.rotateGitToken(learner.id);
      assert.notEqual(first, second);
      assert.equal(await store.learnerByGitToken(first), undefined);
      assert.equal(await store.learnerByGitToken(second), learner.id);
      assert.equal(await store.gitToken(learner.id), second);
    },
  ],
  [
    'S3 credentials: reused while a quarter of their life is left, replaced when expired (and no longer found), all revoked by a rotation',
    async (db) => {
      let now = 1_000_000;
      const store = await db.open(() => now);
      const learner = await store.create();
      const first = await store.s3Credentials(learner.id);
      assert.equal(first.expiresAt, now + 24 * 3600e3, 'the default lifetime is a day');
      now = first.expiresAt - 6 * 3600e3 - 1;
      assert.deepEqual(await store.s3Credentials(learner.id), first, 'more than a quarter left: reused');
      now = first.expiresAt - 6 * 3600e3;
      const second = await store.s3Credentials(learner.id);
      assert.notEqual(second.accessKeyId, first.accessKeyId, 'a quarter left: new ones');
      assert.ok(await store.s3CredentialsByAccessKey(first.accessKeyId), 'the old key still works until it expires');

      const rotated = await store.rotateS3Credentials(learner.id);
      for (const earlier of [first, second]) assert.equal(await store.s3CredentialsByAccessKey(earlier.accessKeyId), undefined, 'a rotation revokes every earlier key');
      assert.deepEqual(await store.s3CredentialsByAccessKey(rotated.accessKeyId), { ...rotated, learnerId: learner.id });
      assert.deepEqual(await store.s3Credentials(learner.id), rotated);

      now = rotated.expiresAt + 1;
      const fresh = await store.s3Credentials(learner.id);
      assert.notEqual(fresh.accessKeyId, rotated.accessKeyId, 'expired: replaced');
      assert.equal(await store.s3CredentialsByAccessKey(rotated.accessKeyId), undefined, 'and no longer found');
    },
  ],
  [
    'secret groups list names only, in order, are replaced whole, and can be deleted',
    async (db) => {
      const store = await db.open();
      const learner = await store.create();
      const other = await store.create();
      await store.putSecretGroup(learner.id, 'b', { Z: '1', A: '2' });
      await store.putSecretGroup(learner.id, 'a', { X: '3' });
      await store.putSecretGroup(learner.id, 'B', { Y: '4' });
      assert.deepEqual(
        (await store.secretGroups(learner.id)).map(({ group, names }) => ({ group, names })),
        [
          { group: 'B', names: ['Y'] },
          { group: 'a', names: ['X'] },
          { group: 'b', names: ['A', 'Z'] },
        ],
        'byte order, as SQLite sorts',
      );
      await store.putSecretGroup(learner.id, 'a', { W: '5' });
      assert.deepEqual(await store.secretGroup(learner.id, 'a'), { W: '5' });
      assert.equal(await store.secretGroup(other.id, 'a'), undefined, "another learner's groups are not theirs");
      assert.equal(await store.deleteSecretGroup(learner.id, 'a'), true);
      assert.equal(await store.deleteSecretGroup(learner.id, 'a'), false);
      assert.equal(await store.secretGroup(learner.id, 'a'), undefined);
    },
  ],
  [
    'progress: a change says whether it changed anything; steps oldest first; every page; pages counted',
    async (db) => {
      let now = 1_000;
      const store = await db.open(() => now);
      const learner = await store.create();
      const other = await store.create();
      for (const step of ['c', 'a', 'b']) {
        now += 1;
        assert.equal(await store.setProgress(learner.id, '/tp/one/', step, true), true);
      }
      assert.equal(await store.setProgress(learner.id, '/tp/one/', 'a', true), false, 'done already');
      assert.equal(await store.setProgress(learner.id, '/tp/one/', 'z', false), false, 'never done');
      now += 1;
      await store.setProgress(learner.id, '/tp/Two/', 'x', true);
      assert.deepEqual(await store.progress(learner.id, '/tp/one/'), ['c', 'a', 'b']);
      assert.equal(await store.setProgress(learner.id, '/tp/one/', 'a', false), true);
      assert.deepEqual(await store.progress(learner.id, '/tp/one/'), ['c', 'b']);
      assert.deepEqual(await store.allProgress(learner.id), { '/tp/Two/': ['x'], '/tp/one/': ['c', 'b'] });
      assert.deepEqual(Object.keys(await store.allProgress(learner.id)), ['/tp/Two/', '/tp/one/'], 'pages in byte order');
      assert.equal(await store.progressPages(learner.id), 2);
      assert.equal(await store.progressPages(other.id), 0);
      assert.deepEqual(await store.allProgress(other.id), {});
    },
  ],
  [
    'skipped steps: only a step done can be marked; the mark is per learner, stays with the step, and goes when it is unticked',
    async (db) => {
      let now = 1_000;
      const store = await db.open(() => now);
      const learner = await store.create();
      const other = await store.create();
      assert.equal(await store.markSkipped(learner.id, '/tp/one/', 'a'), false, 'not done');
      for (const step of ['b', 'a']) {
        now += 1;
        await store.setProgress(learner.id, '/tp/one/', step, true);
        await store.setProgress(other.id, '/tp/one/', step, true);
      }
      await store.setProgress(learner.id, '/tp/two/', 'x', true);
      assert.equal(await store.markSkipped(learner.id, '/tp/one/', 'a'), true);
      assert.equal(await store.markSkipped(learner.id, '/tp/one/', 'b'), true);
      assert.equal(await store.markSkipped(learner.id, '/tp/two/', 'x'), true);
      assert.deepEqual(await store.skippedSteps(learner.id), { '/tp/one/': ['b', 'a'], '/tp/two/': ['x'] });
      assert.deepEqual(await store.skippedSteps(other.id), {}, "another learner's same steps are not marked");
      assert.equal(await store.setProgress(learner.id, '/tp/one/', 'b', true), false, 'done already: the mark stays');
      assert.deepEqual(await store.progress(learner.id, '/tp/one/'), ['b', 'a'], 'still done');
      await store.setProgress(learner.id, '/tp/one/', 'b', false);
      await store.setProgress(learner.id, '/tp/one/', 'b', true);
      assert.deepEqual(await store.skippedSteps(learner.id), { '/tp/one/': ['a'], '/tp/two/': ['x'] }, 'ticked by hand again: not skipped');
    },
  ],
  [
    'the instance a check last passed in: the latest pass wins, per learner, lab and check, gone with the learner',
    async (db) => {
      let clock = 1_000;
      let store = await db.open(() => clock);
      const [ada, bob] = [(await store.create()).id, (await store.create()).id];
      assert.equal(await store.lastCheckPass(ada, 'datalab-discovery', 'made-file'), undefined);
      await store.recordCheckPass(ada, 'datalab-discovery', 'made-file', 'instance-a');
      clock = 2_000;
      await store.recordCheckPass(ada, 'datalab-discovery', 'made-file', 'instance-b');
      await store.recordCheckPass(ada, 'terminal-basics', 'made-file', 'instance-c');
      await store.close();

      store = await db.open(() => clock);
      assert.deepEqual(await store.lastCheckPass(ada, 'datalab-discovery', 'made-file'), { instance: 'instance-b', passedAt: 2_000 });
      assert.equal((await store.lastCheckPass(ada, 'terminal-basics', 'made-file'))?.instance, 'instance-c', 'another lab keeps its own');
      assert.equal(await store.lastCheckPass(ada, 'datalab-discovery', 'file-gone'), undefined, 'another check has none');
      assert.equal(await store.lastCheckPass(bob, 'datalab-discovery', 'made-file'), undefined, 'another learner has none');
      assert.equal(await store.deleteIfIdle(ada, Number.MAX_SAFE_INTEGER), true);
      assert.equal(await store.lastCheckPass(ada, 'datalab-discovery', 'made-file'), undefined, 'passes go with the learner');
    },
  ],
  [
    'a learner is seen when created and when touched; the unseen are walked by last sighting, page by page',
    async (db) => {
      let clock = 1_000_000;
      const store = await db.open(() => clock);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        clock += 1000;
        ids.push((await store.create()).id);
      }
      assert.equal((await store.get(ids[0]!))?.lastSeenAt, 1_001_000);
      clock = 2_000_000;
      await store.touch(ids[0]!);
      assert.equal((await store.get(ids[0]!))?.lastSeenAt, 2_000_000);
      await store.setProgress(ids[1]!, '/p/', 'step', true);
      await store.setGit(ids[2]!, { name: 'Ada', email: '' });
      await store.putSecretGroup(ids[3]!, 'g', { A: 'b' });

      const first = await store.unseenLearners(1_500_000, undefined, 2);
      assert.deepEqual(first.map((learner) => [learner.id, learner.holdsData]), [[ids[1], true], [ids[2], true]], 'oldest first, the touched one is not unseen');
      const second = await store.unseenLearners(1_500_000, first.at(-1), 2);
      assert.deepEqual(second.map((learner) => [learner.id, learner.holdsData]), [[ids[3], true], [ids[4], false]]);
      assert.deepEqual(await store.unseenLearners(1_500_000, second.at(-1), 2), [], 'the walk ends');

      assert.equal(await store.deleteIfIdle(ids[0]!, 1_500_000), false, 'seen since: kept');
      const s3 = await store.s3Credentials(ids[4]!);
      const token = await store.rotateGitToken(ids[4]!);
      assert.equal(await store.deleteIfIdle(ids[4]!, 1_500_000), true);
      assert.equal(await store.get(ids[4]!), undefined);
      assert.equal(await store.s3CredentialsByAccessKey(s3.accessKeyId), undefined, 'credentials go with the learner');
      assert.equal(await store.learnerByGitToken(token), undefined, 'and the git token');
    },
  ],
  [
    'learners seen in the same millisecond are walked by id, byte order, none skipped at a page edge',
    async (db) => {
      const store = await db.open(() => 5_000);
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await store.create()).id);
      const walked: string[] = [];
      let cursor: { lastSeenAt: number; id: string } | undefined;
      for (let page = await store.unseenLearners(6_000, cursor, 3); page.length > 0; page = await store.unseenLearners(6_000, cursor, 3)) {
        walked.push(...page.map((learner) => learner.id));
        cursor = page.at(-1);
      }
      assert.deepEqual(walked, [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    },
  ],
  [
    'the purge deletes only unseen learners holding nothing anywhere and running no lab, a page per tick',
    async (db) => {
      let clock = 1_000_000;
      const store = await db.open(() => clock);
      const [empty, withProgress, withRepo, withLab, recent, another] = (await Promise.all(Array.from({ length: 6 }, () => store.create()))).map(
        (learner) => learner.id,
      ) as [string, string, string, string, string, string];
      await store.setProgress(withProgress, '/p/', 'step', true);
      const removed: string[] = [];
      const looked: string[] = [];
      const purge = startAnonymousPurge({
        store,
        ttlMs: 3600_000,
        holdsData: async (id) => {
          looked.push(id);
          return id === withRepo;
        },
        inUse: (id) => id === withLab,
        remove: async (id) => void removed.push(id),
        log: (message, error) => assert.fail(`${message}: ${String(error)}`),
        pageSize: 4,
        intervalMs: 3600_000,
        now: () => clock,
      });
      try {
        assert.equal(await purge.tick(), 0, 'nobody is unseen for an hour yet');
        clock += 2 * 3600_000;
        await store.touch(recent);
        const before = clock;
        // Five unseen learners (ids in random order) in pages of 4: the walk takes two ticks.
        const first = await purge.tick();
        assert.equal(first + (await purge.tick()), 2);
        assert.deepEqual(removed.sort(), [empty, another].sort());
        assert.equal(await store.get(empty), undefined);
        for (const kept of [withProgress, withRepo, withLab, recent]) assert.ok(await store.get(kept), kept);
        assert.ok(!looked.includes(withProgress), 'data in the store is enough: no directory is read');
        assert.ok((await store.get(withRepo))!.lastSeenAt >= before, 'a learner found holding data is not looked at again before another TTL');
      } finally {
        purge.stop();
      }
    },
  ],
  [
    'an account names one learner: linked once, read with the learner, never purged nor deleted as anonymous',
    async (db) => {
      let clock = 1_000_000;
      const store = await db.open(() => clock);
      const device = (await store.create()).id;
      const other = (await store.create()).id;
      const profile = { name: 'Ada Lovelace', email: 'ada@school.example', trainer: true, signedInAt: clock };
      assert.equal(await store.accountLearner('https://idp.example', 'ada'), undefined);
      assert.equal(await store.linkAccount(device, 'https://idp.example', 'ada', profile), device);
      assert.equal(await store.linkAccount(other, 'https://idp.example', 'ada', profile), device, 'a second first sign-in finds the account taken');
      assert.equal(await store.linkAccount(device, 'https://idp.example', 'grace', profile), undefined, 'a learner is one account\'s at most');
      assert.equal(await store.accountLearner('https://idp.example', 'ada'), device);
      assert.equal(await store.accountLearner('https://other.example', 'ada'), undefined, 'the issuer is part of the name');
      assert.deepEqual((await store.get(device))?.account, { issuer: 'https://idp.example', subject: 'ada', ...profile });
      assert.equal((await store.get(other))?.account, undefined);
      await store.updateAccount(device, { name: 'Ada', email: '', trainer: false, signedInAt: clock + 1, mergeReport: '{"steps":1}' });
      assert.deepEqual((await store.get(device))?.account, { issuer: 'https://idp.example', subject: 'ada', name: 'Ada', email: '', trainer: false, signedInAt: clock + 1, mergeReport: '{"steps":1}' });

      clock += 10 * 3600_000;
      const unseen = await store.unseenLearners(clock, undefined, 10);
      assert.equal(unseen.find((learner) => learner.id === device)?.holdsData, true, 'an account is data');
      assert.equal(await store.deleteIfIdle(device, clock), false);
      assert.equal(await store.deleteAnonymous(device), false);
      assert.ok(await store.get(device));
      assert.equal(await store.deleteAnonymous(other), true);
      assert.equal(await store.get(other), undefined);
      await store.close();
    },
  ],
  [
    'a device\'s learner merges into an account\'s: steps united, groups the account lacks moved, its own kept, git settings when it has none',
    async (db) => {
      const store = await db.open();
      const account = (await store.create()).id;
      const device = (await store.create()).id;
      await store.setProgress(account, '/tp/a/', 'one', true);
      await store.setProgress(device, '/tp/a/', 'one', true);
      await store.setProgress(device, '/tp/a/', 'two', true);
      await store.setProgress(device, '/tp/b/', 'three', true);
      await store.putSecretGroup(account, 'projet', { KEY: 'account' });
      await store.putSecretGroup(device, 'projet', { KEY: 'device' });
      await store.putSecretGroup(device, 'perso', { TOKEN: 'device-only' });
      await store.setGit(device, { name: 'Ada', email: 'ada@school.example' });
      const token = await store.rotateGitToken(device);
      await store.recordCheckPass(device, 'lab', 'check', 'instance-1');
      // Skipped on the device: `two` comes over with its mark; `one` the account had done itself.
      await store.markSkipped(device, '/tp/a/', 'one');
      await store.markSkipped(device, '/tp/a/', 'two');

      const merged = await store.mergeLearner(device, account);
      assert.deepEqual(merged, { steps: 2, secretGroups: ['perso'], secretGroupsKept: ['projet'], git: true, classes: 0 });
      assert.deepEqual(await store.allProgress(account), { '/tp/a/': ['one', 'two'], '/tp/b/': ['three'] });
      assert.deepEqual(await store.allProgress(device), {}, 'steps moved, not copied');
      assert.deepEqual(await store.skippedSteps(account), { '/tp/a/': ['two'] }, 'the device\'s Skip marks follow its steps only');
      assert.deepEqual(await store.secretGroup(account, 'projet'), { KEY: 'account' });
      assert.deepEqual(await store.secretGroup(account, 'perso'), { TOKEN: 'device-only' });
      assert.deepEqual((await store.get(account))?.git, { name: 'Ada', email: 'ada@school.example' });
      assert.equal(await store.learnerByGitToken(token), account, 'the device\'s token follows when the account had none');
      assert.equal((await store.lastCheckPass(account, 'lab', 'check'))?.instance, 'instance-1');

      const later = (await store.create()).id;
      await store.setGit(later, { name: 'Someone', email: '' });
      assert.equal((await store.mergeLearner(later, account)).git, false, 'the account\'s git settings stay');
      assert.deepEqual((await store.get(account))?.git, { name: 'Ada', email: 'ada@school.example' });
      await store.close();
    },
  ],
];

/** Registers every case against the store `fresh` opens, each on a database of its own. */
export function learnerStoreContract(storeName: string, fresh: () => Promise<StoreDatabase>): void {
  runCases(storeName, cases, fresh, (db) => db.dispose());
}

/**
 * Keeps the stores a case opened, so that `dispose` closes those it left open (an open
 * PostgreSQL pool keeps the test process alive).
 */
export function openedStores(open: (now?: () => number) => Promise<LearnerStore>): Pick<StoreDatabase, 'open'> & { closeAll(): Promise<void> } {
  const live = new Set<LearnerStore>();
  return {
    async open(now) {
      const store = await open(now);
      const close = store.close.bind(store);
      live.add(store);
      // A store closed by the case is not closed again.
      store.close = async () => {
        live.delete(store);
        await close();
      };
      return store;
    },
    async closeAll() {
      for (const store of [...live]) await store.close();
    },
  };
}
