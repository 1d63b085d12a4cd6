/**
 * Warm pools: labs provisioned from their template before anyone asks, so that a launch claims a
 * ready one (its learner's environment and home files written in) instead of waiting for a
 * sandbox or a pod. Each lab keeps `pool` ready instances (lab.yaml), as Educates' reserved
 * sessions do; the server caps the total (`ATELIER_POOL_MAX`).
 *
 * Pooled labs use the machine like running ones, so they count in the server's cap on labs, and
 * refills yield to launches: none starts while launches wait, or while the starts' budget is
 * taken. A launch that finds the server full may evict another lab's pooled instance.
 */
import type { Driver, LabHandle, LabTemplate, ProgressEvent } from '../drivers/driver.ts';

export interface WarmPoolOptions {
  driver: Driver;
  /** Lab id → how many ready instances to keep. */
  sizes: ReadonlyMap<string, number>;
  /** The template a lab's instances are made from; undefined while they cannot be made yet (no gateway). */
  template: (labId: string) => LabTemplate | undefined;
  /** Total ready or provisioning instances, all labs together. */
  max: number;
  /** Whether one more provisioning may begin now (the server's room, which counts ours). */
  mayProvision: () => boolean;
  /** A provisioning began or ended (the server's count of starts in flight changed). */
  onChange?: () => void;
  onError?: (error: unknown, context: string) => void;
  now?: () => number;
}

/** After a failed provisioning, a lab's pool waits this long before trying again (no hot loop on a broken lab). */
export const poolRetryMs = 30_000;

export class WarmPools {
  readonly #options: WarmPoolOptions;
  /** Lab id → ready instances, oldest first. */
  readonly #ready = new Map<string, LabHandle[]>();
  /** Lab id → instances being provisioned. */
  readonly #provisioning = new Map<string, number>();
  readonly #pending = new Set<Promise<void>>();
  /** Lab id → when its pool may try again after a failure. */
  readonly #retryAt = new Map<string, number>();
  #closed = false;

  constructor(options: WarmPoolOptions) {
    this.#options = options;
  }

  /** Ready and provisioning instances of every lab (what the server's cap counts). */
  get size(): number {
    return this.readyCount() + this.provisioningCount();
  }

  readyCount(labId?: string): number {
    if (labId !== undefined) return this.#ready.get(labId)?.length ?? 0;
    let count = 0;
    for (const handles of this.#ready.values()) count += handles.length;
    return count;
  }

  provisioningCount(): number {
    let count = 0;
    for (const n of this.#provisioning.values()) count += n;
    return count;
  }

  /** A ready instance of the lab, now the caller's; undefined when none is ready. */
  take(labId: string): LabHandle | undefined {
    const handle = this.#ready.get(labId)?.shift();
    if (handle) this.fill();
    return handle;
  }

  /**
   * Stops one ready instance of a lab other than `labId` (the one with most ready), so that a
   * launch of `labId` finds room; false when there is none.
   */
  evict(labId: string): boolean {
    let victim: string | undefined;
    for (const [lab, handles] of this.#ready) {
      if (lab !== labId && handles.length > 0 && (victim === undefined || handles.length > this.readyCount(victim))) victim = lab;
    }
    const handle = victim === undefined ? undefined : this.#ready.get(victim)?.shift();
    if (!handle) return false;
    this.#track(this.#options.driver.stop(handle).catch((error: unknown) => this.#options.onError?.(error, `stop pooled ${handle.id}`)));
    return true;
  }

  /** Begins provisioning wherever a lab has fewer instances than its size, as room allows. */
  fill(): void {
    if (this.#closed) return;
    const now = (this.#options.now ?? Date.now)();
    for (const [labId, wanted] of this.#options.sizes) {
      if ((this.#retryAt.get(labId) ?? 0) > now) continue;
      while (wanted > this.readyCount(labId) + (this.#provisioning.get(labId) ?? 0)) {
        if (this.size >= this.#options.max || !this.#options.mayProvision()) return;
        const template = this.#options.template(labId);
        if (!template) break;
        this.#provision(labId, template);
      }
    }
  }

  #provision(labId: string, template: LabTemplate): void {
    this.#provisioning.set(labId, (this.#provisioning.get(labId) ?? 0) + 1);
    this.#options.onChange?.();
    const ignoreProgress = (_event: ProgressEvent): void => {};
    const done = this.#options.driver.provision(template, ignoreProgress).then(
      async (handle) => {
        if (this.#closed) {
          await this.#options.driver.stop(handle);
          return;
        }
        let ready = this.#ready.get(labId);
        if (!ready) this.#ready.set(labId, (ready = []));
        ready.push(handle);
      },
      (error: unknown) => {
        this.#retryAt.set(labId, (this.#options.now ?? Date.now)() + poolRetryMs);
        this.#options.onError?.(error, `provision pooled ${labId}`);
      },
    );
    this.#track(
      done.finally(() => {
        this.#provisioning.set(labId, (this.#provisioning.get(labId) ?? 1) - 1);
        this.#options.onChange?.();
      }),
    );
  }

  #track(promise: Promise<void>): void {
    const tracked = promise.catch(() => {}).finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Stops every ready instance and those still being made (shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    const ready = [...this.#ready.values()].flat();
    this.#ready.clear();
    await Promise.all(ready.map((handle) => this.#options.driver.stop(handle).catch((error: unknown) => this.#options.onError?.(error, `stop pooled ${handle.id}`))));
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}
