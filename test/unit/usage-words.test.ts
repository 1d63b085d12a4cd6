/** The Monitoring tab's words for a lab's usage, in both languages, with the real dictionaries. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { translator, type Language } from '../../i18n/index.ts';
import { cpuWords, memoryWords, share } from '../../site/client/usage-words.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const words = (language: Language) => {
  const t = translator(language);
  return (key: string, values: Record<string, string | number> = {}) => t(key, values);
};
const en = words('en');
const fr = words('fr');

describe('usage words', () => {
  it('CPU: cores used of the limit, the limit in words', () => {
    assert.equal(cpuWords(0.4, 1, 'en', en), '0.4 of 1 core');
    assert.equal(cpuWords(0.4, 1, 'fr', fr), '0,4 sur 1 cœur');
    assert.equal(cpuWords(1.25, 2, 'en', en), '1.3 of 2 cores');
    assert.equal(cpuWords(0.123, 0.25, 'fr', fr), '0,12 sur 0,25 cœur', 'hundredths under one core');
    assert.equal(cpuWords(0, 1, 'en', en), '0 of 1 core');
  });

  it('memory: binary units in the language\'s own symbols', () => {
    assert.equal(memoryWords(210 * MiB, GiB, 'en', en), '210 MiB of 1 GiB');
    assert.equal(memoryWords(210 * MiB, GiB, 'fr', fr), '210 Mio sur 1 Gio');
  });

  it('past 90 % the words say it is near the limit, not only the colour', () => {
    assert.equal(cpuWords(0.9, 1, 'en', en), '0.9 of 1 core', '90 % is not past it');
    assert.equal(cpuWords(0.95, 1, 'en', en), '1 of 1 core, near the limit');
    assert.equal(memoryWords(950 * MiB, GiB, 'fr', fr), '950 Mio sur 1 Gio, proche de la limite');
  });

  it('share: within 0..1 whatever the readings', () => {
    assert.equal(share(0.5, 2), 0.25);
    assert.equal(share(3, 2), 1, 'a little over the quota at the accounting\'s edges');
    assert.equal(share(1, 0), 0);
    assert.equal(share(-1, 1), 0);
  });
});
