/**
 * What a trainer's row says of a member, from the course's steps, the member's steps done and
 * check outcomes (server/classes/view.ts), and the courses as read from a built site
 * (server/classes/course.ts); CSV cells as a spreadsheet would read them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCourses, textOf, type Course } from '../../server/classes/course.ts';
import { csvCell, csvOf, memberKey, memberRow } from '../../server/classes/view.ts';

const course: Course = {
  path: '/c/',
  title: { fr: 'Cours', en: 'Course' },
  labs: ['lab'],
  steps: [
    { page: '/c/a/', step: 'one', label: { fr: 'Un', en: 'One' } },
    { page: '/c/a/', step: 'two', label: { fr: 'Deux', en: 'Two' }, check: 'check-two' },
    { page: '/c/b/', step: 'three', label: { fr: 'Trois', en: 'Three' } },
  ],
};
const member = { learnerId: 'u1', displayName: 'Ada', joinedAt: 1_000 };

test('the current step is the first not done, in course order; its time runs from the step before it, or from joining', () => {
  const none = memberRow('c1', course, member, [], [], undefined, 'en');
  assert.deepEqual(none.current, { page: '/c/a/', step: 'one', label: 'One', since: 1_000 });
  assert.equal(none.done, 0);
  assert.equal(none.total, 3);
  const first = memberRow('c1', course, member, [{ learnerId: 'u1', page: '/c/a/', step: 'one', doneAt: 5_000 }], [], undefined, 'fr');
  assert.deepEqual(first.current, { page: '/c/a/', step: 'two', label: 'Deux', since: 5_000 });
  // Done out of order: the gap is the current step; before joining counts from joining.
  const skipped = memberRow('c1', course, member, [{ learnerId: 'u1', page: '/c/a/', step: 'one', doneAt: 500 }, { learnerId: 'u1', page: '/c/b/', step: 'three', doneAt: 9_000 }], [], undefined, 'en');
  assert.deepEqual(skipped.current, { page: '/c/a/', step: 'two', label: 'Two', since: 1_000 });
  assert.equal(skipped.done, 2);
  const all = memberRow('c1', course, member, course.steps.map((s, i) => ({ learnerId: 'u1', page: s.page, step: s.step, doneAt: 2_000 + i })), [], undefined, 'en');
  assert.equal(all.current, null);
});

test('failed checks: the last outcome failed, labelled by the step it ticks, of the course\'s labs only; the member is not named by their id', () => {
  const row = memberRow(
    'c1',
    course,
    member,
    [],
    [
      { learnerId: 'u1', lab: 'lab', check: 'check-two', passed: false, feedback: 'Pas encore', at: 3 },
      { learnerId: 'u1', lab: 'lab', check: 'other', passed: true, feedback: '', at: 4 },
      { learnerId: 'u1', lab: 'elsewhere', check: 'check-two', passed: false, feedback: 'x', at: 5 },
    ],
    undefined,
    'fr',
  );
  assert.deepEqual(row.failed, [{ lab: 'lab', check: 'check-two', label: 'Deux', feedback: 'Pas encore', at: 3 }]);
  assert.equal(row.member, memberKey('c1', 'u1'));
  assert.notEqual(memberKey('c1', 'u1'), memberKey('c2', 'u1'), 'one learner has another key in each class');
  assert.ok(!JSON.stringify(row).includes('u1'));
});

test('CSV: formulas are quoted as text, quotes doubled, rows end with CRLF', () => {
  for (const formula of ['=1+1', '+1', '-1', '@SUM(A1)', '\t=1', '\r=1']) assert.ok(csvCell(formula).startsWith(`"'`), formula);
  assert.equal(csvCell('Zoé "Z"'), '"Zoé ""Z"""');
  assert.equal(csvCell(12), '"12"');
  assert.equal(csvOf(['a', 'b'], [['x', 1]]), '"a","b"\r\n"x","1"\r\n');
});

test('courses from a built site: pages in sidebar order, step texts in both languages, titles without the site name', () => {
  const site = mkdtempSync(join(tmpdir(), 'atelier-courses-'));
  try {
    const sidebar = (lang: string) => `<nav><a href="/${lang}/c/">c</a><a href="/${lang}/c/second/">2</a><a href="/${lang}/c/first/">1</a></nav>`;
    const page = (lang: string, path: string, title: string, steps: string) => {
      mkdirSync(join(site, lang, path), { recursive: true });
      writeFileSync(join(site, lang, path, 'index.html'), `<html><title>${title} | Atelier</title>${sidebar(lang)}<atelier-launch data-lab="lab"></atelier-launch><ul>${steps}</ul></html>`);
    };
    const step = (id: string, text: string, check = '') => `<li class="task-list-item" data-step="${id}"${check ? ` data-check="${check}"` : ''}><input type="checkbox"> <span id="step-label-${id}" class="atelier-step__text">${text}</span></li>`;
    for (const lang of ['fr', 'en']) {
      page(lang, 'c', lang === 'fr' ? 'Le cours' : 'The course', '');
      page(lang, 'c/first', 'First', step('a', lang === 'fr' ? 'Tapez <code>ls</code> &amp; voyez' : 'Type <code>ls</code> &amp; see'));
      page(lang, 'c/second', 'Second', step('b', 'B', 'check-b'));
    }
    const courses = readCourses(site);
    const c = courses.get('/c/')!;
    assert.deepEqual(c.title, { fr: 'Le cours', en: 'The course' });
    assert.deepEqual(c.labs, ['lab']);
    assert.deepEqual(
      c.steps.map((s) => [s.page, s.step, s.label.fr, s.label.en, s.check]),
      [
        ['/c/second/', 'b', 'B', 'B', 'check-b'],
        ['/c/first/', 'a', 'Tapez ls & voyez', 'Type ls & see', undefined],
      ],
    );
    assert.equal(readCourses(join(site, 'missing')).size, 0);
  } finally {
    rmSync(site, { recursive: true, force: true });
  }
});

test('textOf: tags dropped, entities decoded, spaces collapsed', () => {
  assert.equal(textOf('  a <b>b</b>\n&lt;c&gt; &#233;&#x41; &nbsp;d &bogus; '), 'a b <c> éA d &bogus;');
});
