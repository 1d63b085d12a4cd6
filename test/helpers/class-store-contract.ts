/**
 * What every `ClassStore` must do, as one list of cases run against the class store on each
 * learner database: SQLite (test/unit/class-store.test.ts) and PostgreSQL
 * (test/integration/class-store-pg.test.ts). Each case gets both stores on one fresh database.
 */
import assert from 'node:assert/strict';
import { runCases, type Case } from './contract.ts';
import type { LearnerStore } from '../../server/learners/store.ts';
import { formatJoinCode, joinCodeAlphabet, joinCodeLength, newJoinCode, normalizeJoinCode, type ClassStore } from '../../server/classes/store.ts';

export interface ClassDatabase {
  learners: LearnerStore;
  classes: ClassStore;
  /** Removes the database, once the contract closed both stores. */
  remove?(): void;
}

const course = '/datalab-tp/';
const newClass = (trainerId: string, title = 'TP 1') => ({ trainerId, course, title, startsAt: 1_000, endsAt: 2_000 });

const cases: Case<ClassDatabase>[] = [
  [
    'a class is found by id, by its join code and among its trainer\'s only',
    async ({ classes }) => {
      const a = await classes.create(newClass('trainer-a', 'Groupe A'));
      const b = await classes.create(newClass('trainer-b', 'Groupe B'));
      assert.match(a.joinCode, new RegExp(`^[${joinCodeAlphabet}]{${joinCodeLength}}$`));
      assert.notEqual(a.joinCode, b.joinCode);
      assert.deepEqual(await classes.get(a.id), a);
      assert.deepEqual(await classes.byJoinCode(a.joinCode), a);
      assert.equal(await classes.byJoinCode('AAAAAAAA'), undefined);
      assert.deepEqual((await classes.ofTrainer('trainer-a')).map((c) => c.id), [a.id]);
      assert.deepEqual(await classes.ofTrainer('nobody'), []);
    },
  ],
  [
    'members join once (a second join renames), leave, and a closed class is no longer the learner\'s',
    async ({ learners, classes }) => {
      const group = await classes.create(newClass('t'));
      const [ada, bob] = [await learners.create(), await learners.create()];
      await classes.join(group.id, ada.id, 'Ada', 10);
      await classes.join(group.id, bob.id, 'Bob', 20);
      const renamed = await classes.join(group.id, ada.id, 'Ada L.', 30);
      assert.deepEqual(renamed, { learnerId: ada.id, displayName: 'Ada L.', joinedAt: 10 });
      assert.deepEqual((await classes.members(group.id)).map((m) => m.displayName), ['Ada L.', 'Bob']);
      assert.deepEqual((await classes.ofLearner(ada.id)).map((c) => c.id), [group.id]);
      assert.equal(await classes.leave(group.id, bob.id), true);
      assert.equal(await classes.leave(group.id, bob.id), false);
      assert.equal(await classes.member(group.id, bob.id), undefined);
      assert.equal(await classes.closeClass(group.id, 40), true);
      assert.equal(await classes.closeClass(group.id, 50), false, 'closed once');
      assert.equal((await classes.get(group.id))?.closedAt, 40);
      assert.deepEqual(await classes.ofLearner(ada.id), []);
    },
  ],
  [
    'progress: the members\' steps under the course only, with their times, in order',
    async ({ learners, classes }) => {
      const group = await classes.create(newClass('t'));
      const [ada, outsider] = [await learners.create(), await learners.create()];
      await classes.join(group.id, ada.id, 'Ada', 10);
      await learners.setProgress(ada.id, '/datalab-tp/launch/', 'launch-lab', true);
      await learners.setProgress(ada.id, '/datalab-tp/', 'read', true);
      await learners.setProgress(ada.id, '/tp/terminal/', 'made-dir', true);
      // `_` in a course path is a letter, not LIKE's any-character.
      await learners.setProgress(ada.id, '/datalabxtp/', 'other', true);
      await learners.setProgress(outsider.id, '/datalab-tp/', 'read', true);
      const steps = await classes.progress(group.id, course);
      assert.deepEqual(steps.map((s) => `${s.learnerId}:${s.page}:${s.step}`).sort(), [`${ada.id}:/datalab-tp/:read`, `${ada.id}:/datalab-tp/launch/:launch-lab`]);
      assert.ok(steps.every((s) => Number.isInteger(s.doneAt) && s.doneAt > 0));
      assert.deepEqual((await classes.progress(group.id, course, outsider.id)), []);
    },
  ],
  [
    'check outcomes: the latest per check wins, an older one arriving late does not',
    async ({ learners, classes }) => {
      const group = await classes.create(newClass('t'));
      const ada = await learners.create();
      await classes.join(group.id, ada.id, 'Ada', 10);
      await classes.recordOutcome({ learnerId: ada.id, lab: 'lab', check: 'c1', passed: false, feedback: 'No file « x »', at: 100 });
      await classes.recordOutcome({ learnerId: ada.id, lab: 'lab', check: 'c1', passed: false, feedback: 'stale', at: 50 });
      await classes.recordOutcome({ learnerId: ada.id, lab: 'lab', check: 'c2', passed: true, feedback: '', at: 120 });
      assert.deepEqual(await classes.outcomes(group.id), [
        { learnerId: ada.id, lab: 'lab', check: 'c1', passed: false, feedback: 'No file « x »', at: 100 },
        { learnerId: ada.id, lab: 'lab', check: 'c2', passed: true, feedback: '', at: 120 },
      ]);
      await classes.recordOutcome({ learnerId: ada.id, lab: 'lab', check: 'c1', passed: true, feedback: '', at: 130 });
      assert.equal((await classes.outcomes(group.id, ada.id)).find((o) => o.check === 'c1')?.passed, true);
    },
  ],
  [
    'messages reach members only and stay until read, by their own learner',
    async ({ learners, classes }) => {
      const group = await classes.create(newClass('t'));
      const [ada, bob, outsider] = [await learners.create(), await learners.create(), await learners.create()];
      await classes.join(group.id, ada.id, 'Ada', 10);
      await classes.join(group.id, bob.id, 'Bob', 10);
      const sent = await classes.addMessages(group.id, [ada.id, bob.id, outsider.id, ada.id], 'Pause: 10 min', 100);
      assert.deepEqual(sent.map((m) => m.learnerId).sort(), [ada.id, bob.id].sort());
      assert.deepEqual((await classes.unread(ada.id)).map((m) => m.text), ['Pause: 10 min']);
      assert.deepEqual(await classes.unread(outsider.id), []);
      const message = (await classes.unread(ada.id))[0]!;
      assert.equal(await classes.markRead(bob.id, message.id, 110), false, 'another learner cannot mark it read');
      assert.equal(await classes.markRead(ada.id, message.id, 110), true);
      assert.deepEqual(await classes.unread(ada.id), []);
      assert.equal((await classes.unread(bob.id)).length, 1);
    },
  ],
  [
    'a purged learner leaves every class with their outcomes and messages',
    async ({ learners, classes }) => {
      const group = await classes.create(newClass('t'));
      const ada = await learners.create();
      await classes.join(group.id, ada.id, 'Ada', 10);
      await classes.recordOutcome({ learnerId: ada.id, lab: 'lab', check: 'c1', passed: false, feedback: 'no', at: 100 });
      await classes.addMessages(group.id, [ada.id], 'hello', 100);
      assert.equal(await learners.deleteIfIdle(ada.id, Date.now() + 1), true);
      assert.deepEqual(await classes.members(group.id), []);
      assert.deepEqual(await classes.outcomes(group.id), []);
      assert.deepEqual(await classes.unread(ada.id), []);
    },
  ],
  [
    'join codes: unambiguous letters, typed in any case or with a dash',
    async () => {
      const codes = new Set(Array.from({ length: 2000 }, newJoinCode));
      assert.equal(codes.size, 2000);
      const code = [...codes][0]!;
      assert.equal(normalizeJoinCode(formatJoinCode(code).toLowerCase()), code);
      assert.equal(normalizeJoinCode(` ${code.slice(0, 4)} ${code.slice(4)} `), code);
      for (const wrong of ['', 'ABCD', `${code}A`, 'OOOOOOOO', '0000-0000', 'ＡＡＡＡＡＡＡＡ']) assert.equal(normalizeJoinCode(wrong), undefined, wrong);
    },
  ],
];

export function classStoreContract(storeName: string, fresh: () => Promise<ClassDatabase>): void {
  runCases(storeName, cases, fresh, async (db) => {
    await db.classes.close();
    await db.learners.close();
    db.remove?.();
  });
}
