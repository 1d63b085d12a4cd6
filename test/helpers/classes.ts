/**
 * What the class tests share: a server on the progress site (memory driver labs) that knows the
 * trainer token, and a trainer signed in with that token (its cookie).
 */
import { LearnerClient } from './learner.ts';
import { MemoryDriver } from './memory-driver.ts';
import { progressServer } from './progress.ts';

export const trainerToken = 'trainer-token-for-the-tests-0123456789';

/** progressServer's fixture, for classes on its course /tp/. */
export const classServer = () => progressServer(0, { driver: new MemoryDriver(), config: { trainerToken: { value: trainerToken } } });

/** A trainer: a client whose cookie is the trainer cookie (POST /api/trainer/session). */
export async function signInTrainer(url: string, token = trainerToken): Promise<LearnerClient> {
  const trainer = new LearnerClient(url);
  const response = await fetch(`${url}/api/trainer/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  if (response.status !== 200) throw new Error(`trainer sign-in: ${response.status} ${await response.text()}`);
  trainer.cookie = response.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
  return trainer;
}
