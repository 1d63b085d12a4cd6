/**
 * A task run on a timer, one run at a time: a run asked for while one is going joins it, so a
 * slow run (a sweep, a poll) never stacks up behind itself. The timer does not keep the process alive.
 */
export interface Periodic<T> {
  /** Runs now, or joins the run in progress. */
  run(): Promise<T>;
  /** Stops the timer; resolves once the run in progress (if any) is over. */
  stop(): Promise<void>;
}

/** `onError` hears of a failed run the timer started (a caller of `run` gets its own rejection). */
export function periodic<T>(intervalMs: number, task: () => Promise<T>, onError: (error: unknown) => void): Periodic<T> {
  let running: Promise<T> | undefined;
  const run = (): Promise<T> => {
    running ??= task().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => void run().catch(onError), intervalMs);
  timer.unref();
  const stop = async (): Promise<void> => {
    clearInterval(timer);
    await running?.catch(() => undefined);
  };
  return { run, stop };
}
