/**
 * The lines of a newline-delimited JSON body, each parsed as soon as it is whole: a line may
 * arrive split over chunks, or several in one. Stopping early (a `return` in the `for await`)
 * cancels the body, which frees its connection.
 */
export async function* ndjsonLines<T>(body: ReadableStream<Uint8Array<ArrayBuffer>>): AsyncGenerator<T> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += value;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line) yield JSON.parse(line) as T;
    }
  } finally {
    await reader.cancel();
  }
}
