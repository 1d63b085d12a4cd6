/**
 * A task run on a timer, one run at a time: a run asked for while one is going joins it, so a
 * slow run (a sweep, a poll) never stacks up behind itself. The timer does not keep the process alive.
 * A task that must run once per deployment (whatever the replicas) is given a `leader`: its timer
 * then ticks only while this replica leads that job (server/cluster), and stops when it no longer does.
 */
import type { Lead, Leadership } from './cluster/coordinator.ts';

export interface Periodic<T> {
  /** Runs now, or joins the run in progress (whether this replica leads or not). */
  run(): Promise<T>;
  /** Stops the timer (and gives up leading); resolves once the run in progress (if any) is over. */
  stop(): Promise<void>;
}

/** `onError` hears of a failed run the timer started (a caller of `run` gets its own rejection). */
export function periodic<T>(
  intervalMs: number,
  task: () => Promise<T>,
  onError: (error: unknown) => void,
  leader?: { lead: Lead; name: string },
): Periodic<T> {
  let running: Promise<T> | undefined;
  const run = (): Promise<T> => {
    running ??= task().finally(() => {
      running = undefined;
    });
    return running;
  };
  const tick = () => {
    const timer = setInterval(() => void run().catch(onError), intervalMs);
    timer.unref();
    return timer;
  };
  let timer: NodeJS.Timeout | undefined;
  let leadership: Leadership | undefined;
  if (leader) {
    leadership = leader.lead(leader.name, async (signal) => {
      const led = tick();
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      clearInterval(led);
      // Given back only once our run is over, so the next leader's does not overlap it.
      await running?.catch(() => undefined);
    });
  } else timer = tick();
  const stop = async (): Promise<void> => {
    clearInterval(timer);
    await leadership?.stop();
    await running?.catch(() => undefined);
  };
  return { run, stop };
}
