import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dictionaries, translator } from '../../i18n/index.ts';

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  return new Map(
    Object.entries(tree).flatMap(([key, value]) =>
      typeof value === 'string' ? [[prefix + key, value] as const] : [...flatten(value, `${prefix}${key}.`)],
    ),
  );
}

const variables = (text: string) => [...text.matchAll(/\{\{(\w+)\}\}/g)].map((match) => match[1]).sort();

test('French and English have the same keys, each with the same {{variables}}', () => {
  const fr = flatten(dictionaries.fr as unknown as Tree);
  const en = flatten(dictionaries.en as unknown as Tree);
  assert.deepEqual([...fr.keys()].sort(), [...en.keys()].sort());
  for (const [key, text] of fr) {
    assert.ok(text.trim().length > 0, `${key} is empty in French`);
    assert.deepEqual(variables(text), variables(en.get(key)!), `variables of ${key}`);
  }
});

test('the translator interpolates without escaping (strings reach the DOM as text)', () => {
  assert.equal(translator('en')('errors.unknown_lab', { lab: '<x>' }), 'There is no service named "<x>".');
  assert.equal(translator('fr')('errors.unknown_lab', { lab: 'x' }), 'Aucun service nommé « x ».');
});
