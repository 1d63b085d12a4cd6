/**
 * At most one usage reading per lab and interval (the dock's Monitoring tab polls every 2 s):
 * a page polling faster, many tabs, or a script hammering the route share the last reading
 * instead of each reading the lab's cgroups again. Readings in progress are shared too.
 */
import type { Driver, LabHandle, LabUsage } from '../drivers/driver.ts';

export const usageIntervalMs = 1_000;

export class UsageReadings {
  readonly #driver: Driver;
  readonly #intervalMs: number;
  /** Only readings younger than the interval: each leaves on a timer. */
  readonly #recent = new Map<string, Promise<LabUsage | undefined>>();

  constructor(driver: Driver, intervalMs = usageIntervalMs) {
    this.#driver = driver;
    this.#intervalMs = intervalMs;
  }

  /** The lab's usage, read afresh unless it was read less than an interval ago. */
  read(sessionId: string, handle: LabHandle): Promise<LabUsage | undefined> {
    let reading = this.#recent.get(sessionId);
    if (!reading) {
      const fresh = this.#driver.usage(handle);
      const forget = () => {
        if (this.#recent.get(sessionId) === fresh) this.#recent.delete(sessionId);
      };
      this.#recent.set(sessionId, fresh);
      setTimeout(forget, this.#intervalMs).unref();
      // A failed reading is not kept: the next request tries again.
      fresh.catch(forget);
      reading = fresh;
    }
    return reading;
  }
}
