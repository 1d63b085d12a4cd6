/** What the driver tests share: lab specs and the host's view of a lab's processes. */
import fs from 'node:fs';
import type { Driver, LabHandle, LabSpec, ProgressEvent } from '../../server/drivers/driver.ts';

export const MiB = 1024 * 1024;

/** A lab spec with test-sized resources; `extra` overrides any field. */
export function labSpec(id: string, extra: Partial<LabSpec> = {}): LabSpec {
  return {
    sessionId: id,
    labId: 'datalab-discovery',
    workspace: '/home/onyxia/work',
    resources: { cpu: 1, memory: 256 * MiB, disk: 64 * MiB, pids: 128 },
    env: {},
    expiresAt: Date.now() + 600_000,
    ...extra,
  };
}

/** Live (non-zombie) host pids whose real uid is `uid`, read from /proc independently of the driver. */
export function hostPidsOfUid(uid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(/Uid:\s+(\d+)/.exec(status)?.[1]) === uid && !/State:\s+[ZX]/.test(status)) out.push(Number(entry));
    } catch {
      // The process ended while we read it.
    }
  }
  return out;
}

/** The local driver's bookkeeping of a lab, which these tests inspect. */
export const internal = (handle: LabHandle) => handle.state as { uid: number; pid1: number; cgroupDirs: string[] };

/** Provisions and claims at once, as a launch without a warm pool does. */
export async function startLab(driver: Driver, spec: LabSpec, onProgress?: (event: ProgressEvent) => void): Promise<LabHandle> {
  const { sessionId, learnerId, env, homeFiles, expiresAt, ...template } = spec;
  const provisioned = await driver.provision({ ...template, env: {} }, onProgress);
  try {
    return await driver.claim(provisioned, {
      sessionId,
      ...(learnerId === undefined ? {} : { learnerId }),
      env,
      ...(homeFiles ? { homeFiles } : {}),
      expiresAt,
    });
  } catch (error) {
    await driver.stop(provisioned).catch(() => {});
    throw error;
  }
}
