import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadmeRenderer } from '../../server/forge/readme.ts';

test('a README blob already rendered is served from memory, not rendered again', async () => {
  const renderer = new ReadmeRenderer();
  try {
    const first = await renderer.render('# Projet', 'a'.repeat(40));
    assert.match(first ?? '', /<h1>Projet<\/h1>/);
    // Same blob id: the cached HTML, whatever is passed (the worker is not asked).
    assert.equal(await renderer.render('# Autre chose', 'a'.repeat(40)), first);
    // Another blob, or none: rendered.
    assert.match((await renderer.render('# Autre chose', 'b'.repeat(40))) ?? '', /<h1>Autre chose<\/h1>/);
    assert.match((await renderer.render('## Sans identifiant')) ?? '', /<h2>Sans identifiant<\/h2>/);
  } finally {
    await renderer.close();
  }
});
