import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tabKeyTarget } from '../../site/client/tab-keys.ts';

test('tab keys move, wrap, jump to the ends, and ignore other keys', () => {
  const names = ['service', 'terminals', 'monitoring'];
  assert.equal(tabKeyTarget('ArrowRight', names, 'service'), 'terminals');
  assert.equal(tabKeyTarget('ArrowRight', names, 'monitoring'), 'service');
  assert.equal(tabKeyTarget('ArrowLeft', names, 'service'), 'monitoring');
  assert.equal(tabKeyTarget('Home', names, 'monitoring'), 'service');
  assert.equal(tabKeyTarget('End', names, 'service'), 'monitoring');
  assert.equal(tabKeyTarget('Enter', names, 'service'), undefined);
  assert.equal(tabKeyTarget('ArrowRight', [], ''), undefined);
});
