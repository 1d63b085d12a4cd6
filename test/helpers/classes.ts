/** What the class tests share: a trainer signed in with the server's token (its cookie). */
import { LearnerClient } from './learner.ts';

export const trainerToken = 'trainer-token-for-the-tests-0123456789';

/** A trainer: a client whose cookie is the trainer cookie (POST /api/trainer/session). */
export async function signInTrainer(url: string, token = trainerToken): Promise<LearnerClient> {
  const trainer = new LearnerClient(url);
  const response = await fetch(`${url}/api/trainer/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  if (response.status !== 200) throw new Error(`trainer sign-in: ${response.status} ${await response.text()}`);
  trainer.cookie = response.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
  return trainer;
}
