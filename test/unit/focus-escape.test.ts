import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FocusEscape } from '../../site/client/focus-escape.ts';

const key = (k: string, extra: Partial<KeyboardEvent> = {}) => ({ type: 'keydown', key: k, ctrlKey: false, altKey: false, metaKey: false, shiftKey: false, ...extra });

test('Escape then Tab leaves the terminal and the Escape never reaches the shell', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sent: string[] = [];
  const chord = new FocusEscape(() => sent.push('ESC'), 600);
  assert.equal(chord.decide(key('Escape')), 'swallow');
  t.mock.timers.tick(300);
  assert.equal(chord.decide(key('Tab')), 'leave');
  t.mock.timers.tick(1000);
  assert.deepEqual(sent, []);
});

test('Shift+Tab after Escape leaves backwards: the Shift alone keeps the chord', () => {
  const chord = new FocusEscape(() => assert.fail('no Escape expected'), 600);
  chord.decide(key('Escape'));
  assert.equal(chord.decide(key('Shift', { shiftKey: true })), 'pass');
  assert.equal(chord.decide(key('Tab', { shiftKey: true })), 'leave');
  chord.dispose();
});

test('a lone Escape reaches the shell when the moment is over (vim still works)', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sent: string[] = [];
  const chord = new FocusEscape(() => sent.push('ESC'), 600);
  chord.decide(key('Escape'));
  t.mock.timers.tick(599);
  assert.deepEqual(sent, []);
  t.mock.timers.tick(1);
  assert.deepEqual(sent, ['ESC']);
  // Tab later is completion again, not a way out.
  assert.equal(chord.decide(key('Tab')), 'pass');
});

test('Escape followed by another key is sent first, then the key passes: order kept', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sent: string[] = [];
  const chord = new FocusEscape(() => sent.push('ESC'), 600);
  chord.decide(key('Escape'));
  assert.equal(chord.decide(key(':')), 'pass');
  assert.deepEqual(sent, ['ESC']);
  // Two Escapes: the first goes out when the second arrives.
  chord.decide(key('Escape'));
  chord.decide(key('Escape'));
  assert.deepEqual(sent, ['ESC', 'ESC']);
  t.mock.timers.tick(600);
  assert.deepEqual(sent, ['ESC', 'ESC', 'ESC']);
});

test('Tab without Escape, and key-up events, always reach the terminal', () => {
  const chord = new FocusEscape(() => assert.fail('no Escape expected'));
  assert.equal(chord.decide(key('Tab')), 'pass');
  assert.equal(chord.decide({ ...key('Escape'), type: 'keyup' }), 'pass');
  assert.equal(chord.decide(key('Tab', { ctrlKey: true })), 'pass');
});
