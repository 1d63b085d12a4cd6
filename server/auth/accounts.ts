/**
 * Who a sign-in makes the browser: the account's learner. The first sign-in of a person makes
 * the device's anonymous learner theirs, as it is (progress, repositories, bucket, secrets:
 * nothing moves). When the account already has a learner and the device holds another
 * anonymous one, the device's is merged in and then deleted, by this rule:
 *   - steps: united; secret groups: those the account lacks come over, a group of a name the
 *     account has stays the account's (the device's is dropped, named in the report);
 *     git settings and token: the device's when the account has none; classes the device
 *     joined: the account is a member too, with each check's latest outcome (learner store);
 *   - repositories: moved when the account has none of that name, else the account's keeps
 *     its name and the device's comes over as `<name>-device` (`-device-2`…);
 *   - objects: moved when the account's bucket has no object of that key, else the device's
 *     comes over under `from-device/` (`from-device-2/`…);
 *   - the device's labs are stopped first (they run with its credentials).
 * Whatever could not be moved (a bucket quota) stays with the device's learner, which is then
 * kept; the report (on "My account") says all of it. Nothing is dropped silently.
 */
import { mkdir, rename } from 'node:fs/promises';
import type { LearnerStore, StoreMerge } from '../learners/store.ts';
import type { RepositoryStore } from '../forge/index.ts';
import type { LearnerObjects } from '../storage/external.ts';
import type { SignedInPerson } from './oidc.ts';

export interface MergeReport extends StoreMerge {
  repositories: { moved: string[]; renamed: { from: string; to: string }[] };
  objects: { moved: number; renamed: { from: string; to: string }[]; left: string[] };
  /** The device's learner is gone (false: it keeps what was left). */
  deviceDeleted: boolean;
}

export interface AccountServices {
  store: LearnerStore;
  repos: RepositoryStore;
  objects: LearnerObjects;
  /** Stops the labs (queued, starting, running) of a learner. */
  stopLabs(learnerId: string): Promise<void>;
  /** The classes a learner is a member of, and telling their live views a member changed. */
  classes?: { of(learnerId: string): Promise<string[]>; changed(classId: string, learnerId: string): void };
}

/** The first of name(1), name(2)… not taken. */
async function freeName(taken: (name: string) => boolean | Promise<boolean>, name: (n: number) => string): Promise<string> {
  for (let n = 1; ; n += 1) if (!(await taken(name(n)))) return name(n);
}

/** Repository names are 64 characters at most (forge/names.ts): the suffix always fits. */
function withSuffix(name: string, suffix: string): string {
  return `${name.slice(0, 64 - suffix.length)}${suffix}`;
}

async function moveRepositories(repos: RepositoryStore, from: string, into: string): Promise<MergeReport['repositories']> {
  const report: MergeReport['repositories'] = { moved: [], renamed: [] };
  const names = repos.names(from);
  if (names.length === 0) return report;
  await mkdir(repos.learnerDir(into), { recursive: true, mode: 0o700 });
  for (const name of names) {
    const target = repos.exists(into, name) ? await freeName((candidate) => repos.exists(into, candidate), (n) => withSuffix(name, n === 1 ? '-device' : `-device-${n}`)) : name;
    await rename(repos.gitDir(from, name), repos.gitDir(into, target));
    if (target === name) report.moved.push(name);
    else report.renamed.push({ from: name, to: target });
  }
  repos.usage.forget(from);
  repos.usage.forget(into);
  return report;
}

async function moveObjects(objects: LearnerObjects, from: string, into: string): Promise<MergeReport['objects']> {
  const report: MergeReport['objects'] = { moved: 0, renamed: [], left: [] };
  for (const object of await objects.list(from)) {
    try {
      const key = (await objects.head(into, object.key))
        ? await freeName(async (candidate) => (await objects.head(into, candidate)) !== undefined, (n) => `from-device${n === 1 ? '' : `-${n}`}/${object.key}`)
        : object.key;
      const source = await objects.read(from, object.key);
      if (!source) continue;
      await objects.put(into, key, source.stream, source.meta.headers['content-type'] ?? 'application/octet-stream', source.meta.size);
      await objects.delete(from, object.key);
      if (key === object.key) report.moved += 1;
      else report.renamed.push({ from: object.key, to: key });
    } catch {
      // A quota of the account's bucket: the object stays with the device's learner, reported.
      report.left.push(object.key);
    }
  }
  return report;
}

/** Merges the device's anonymous learner `from` into the account's `into` (the rule above). */
export async function mergeDevice(services: AccountServices, from: string, into: string): Promise<MergeReport> {
  await services.stopLabs(from);
  const classIds = (await services.classes?.of(from)) ?? [];
  const stored = await services.store.mergeLearner(from, into);
  const repositories = await moveRepositories(services.repos, from, into);
  const objects = await moveObjects(services.objects, from, into);
  const deviceDeleted = objects.left.length === 0 && (await services.store.deleteAnonymous(from));
  for (const classId of classIds) for (const learnerId of [from, into]) services.classes?.changed(classId, learnerId);
  return { ...stored, repositories, objects, deviceDeleted };
}

/**
 * The learner a sign-in of `person` makes this browser, given the device's anonymous learner
 * (undefined: none, or a signed-in one, which is never merged into another account).
 */
export async function signIn(services: AccountServices, person: SignedInPerson, trainer: boolean, device: string | undefined, now = Date.now()): Promise<string> {
  const { store } = services;
  const profile = { name: person.name, email: person.email, trainer, signedInAt: now };
  const existing = await store.accountLearner(person.issuer, person.subject);
  if (existing === undefined) {
    const candidate = device ?? (await store.create()).id;
    const linked = await store.linkAccount(candidate, person.issuer, person.subject, profile);
    // Another first sign-in of the same person won the race: theirs is the account's learner.
    if (linked === candidate) return candidate;
    if (linked === undefined) throw new Error('the device learner is linked to another account');
    return signIn(services, person, trainer, device, now);
  }
  const report = device !== undefined && device !== existing ? await mergeDevice(services, device, existing) : undefined;
  await store.updateAccount(existing, { ...profile, ...(report ? { mergeReport: JSON.stringify(report) } : {}) });
  return existing;
}
