/** The NDJSON reader of the rebuild's answer (site/client/ndjson.ts) on a real stream of bytes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ndjsonLines } from '../../site/client/ndjson.ts';

const bodyOf = (chunks: string[]): ReadableStream<Uint8Array<ArrayBuffer>> => {
  const encoder = new TextEncoder();
  return new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(encoder.encode(next));
    },
  });
};

const all = async <T>(lines: AsyncIterable<T>): Promise<T[]> => {
  const got: T[] = [];
  for await (const line of lines) got.push(line);
  return got;
};

test('lines split over chunks, several in one chunk, multi-byte characters cut in two, blank lines skipped', async () => {
  const text = '{"a":1}\n{"b":"été"}\n\n{"c":[1,2]}\n';
  const bytes = new TextEncoder().encode(text);
  const cut = bytes.indexOf(0xc3) + 1;
  const decoder = new TextDecoder();
  const body = new ReadableStream<Uint8Array<ArrayBuffer>>({
    start(controller) {
      for (const part of [bytes.slice(0, 3), bytes.slice(3, cut), bytes.slice(cut)]) controller.enqueue(part);
      controller.close();
    },
  });
  assert.equal(decoder.decode(bytes.slice(0, cut)).endsWith('\ufffd'), true, 'the cut falls inside a character');
  assert.deepEqual(await all(ndjsonLines(body)), [{ a: 1 }, { b: 'été' }, { c: [1, 2] }]);
  assert.deepEqual(await all(ndjsonLines(bodyOf(['{"x":1}\n{"y"', ':2}\n{"z":3}\n']))), [{ x: 1 }, { y: 2 }, { z: 3 }]);
});

test('a last line without its newline is not a line (the stream was cut); stopping early cancels the body', async () => {
  assert.deepEqual(await all(ndjsonLines(bodyOf(['{"x":1}\n{"half":']))), [{ x: 1 }]);
  let cancelled = false;
  // A body still open, as a rebuild's is until its end line.
  const open = new ReadableStream<Uint8Array<ArrayBuffer>>({
    start: (controller) => controller.enqueue(new TextEncoder().encode('{"x":1}\n')),
    cancel: () => void (cancelled = true),
  });
  for await (const line of ndjsonLines(open)) {
    assert.deepEqual(line, { x: 1 });
    break;
  }
  // The cancel reaches the body through the decoder's pipe, a turn later.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(cancelled, true);
});
