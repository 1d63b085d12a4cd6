/**
 * Shells by (lab, terminal name). A shell is created by the driver on the first connection,
 * kept when its sockets disconnect (a reload reattaches to it) and killed when its lab stops.
 */
import type { Driver, LabHandle, TerminalSize } from '../drivers/driver.ts';
import type { MirrorPool } from './mirror-pool.ts';
import { Shell } from './shell.ts';

/** Shells one lab may have open at once. */
export const maxShellsPerLab = 8;

export class TooManyShells extends Error {
  constructor() {
    super('too many terminals for this lab');
    this.name = 'TooManyShells';
  }
}

export class Shells {
  readonly #driver: Driver;
  readonly #mirrors: MirrorPool;
  /** lab session id → terminal name → shell (or its creation). */
  readonly #byLab = new Map<string, Map<string, Promise<Shell>>>();

  constructor(driver: Driver, mirrors: MirrorPool) {
    this.#driver = driver;
    this.#mirrors = mirrors;
  }

  /**
   * The shell named `name` of the lab, created at `size` if it does not exist yet; its mirror's
   * CPU budget is shared with the other shells of `budgetGroup` (the learner's).
   */
  open(labSessionId: string, handle: LabHandle, name: string, size: TerminalSize, budgetGroup: string): Promise<Shell> {
    let shells = this.#byLab.get(labSessionId);
    const existing = shells?.get(name);
    if (existing) return existing;
    if (!shells) {
      shells = new Map();
      this.#byLab.set(labSessionId, shells);
    }
    if (shells.size >= maxShellsPerLab) return Promise.reject(new TooManyShells());
    const forLab = shells;
    const created = this.#driver.attach(handle, size).then(
      (pty) => {
        const shell = new Shell(pty, size, (at, events) => this.#mirrors.open(at, events, budgetGroup), () => this.#forget(labSessionId, name, created));
        // The lab stopped while the pty was being made.
        if (this.#byLab.get(labSessionId)?.get(name) !== created) shell.kill();
        return shell;
      },
      (error: unknown) => {
        this.#forget(labSessionId, name, created);
        throw error;
      },
    );
    forLab.set(name, created);
    return created;
  }

  /** Kills every shell of a lab (it stopped). */
  closeLab(labSessionId: string): void {
    const shells = this.#byLab.get(labSessionId);
    if (!shells) return;
    this.#byLab.delete(labSessionId);
    for (const shell of shells.values()) shell.then((s) => s.kill(), () => {});
  }

  /** Open shells (created or being created). */
  count(): number {
    let count = 0;
    for (const shells of this.#byLab.values()) count += shells.size;
    return count;
  }

  #forget(labSessionId: string, name: string, which: Promise<Shell>): void {
    const shells = this.#byLab.get(labSessionId);
    if (shells?.get(name) !== which) return;
    shells.delete(name);
    if (shells.size === 0) this.#byLab.delete(labSessionId);
  }
}
