/**
 * `requires`: a check that only means something after another one passed. "The file is gone
 * after Delete and a relaunch" must not pass after `rm` in the same lab, nor in a first lab
 * where the file never was: the earlier check must have last passed in another lab instance
 * (`new`). "The file was removed" must not pass where it never existed: the earlier check must
 * have passed in this one (`same`). Where each check last passed is durable learner data.
 */
import type { CheckDefinition } from '../labs/schema.ts';
import type { CheckContext } from './types.ts';

/** The sentence saying why the precondition does not hold, or undefined when it does. */
export async function unmetRequirement(check: CheckDefinition, context: CheckContext, earlierExpected: () => string): Promise<string | undefined> {
  const { requires } = check;
  if (!requires) return undefined;
  const { t, learner, lab } = context;
  const passedIn = await learner?.passes.last(lab.id, requires.check);
  if (passedIn === undefined) return t('checks.requires.never', { expected: earlierExpected() });
  if (requires.instance === 'new' && passedIn === lab.instance) return t('checks.requires.sameInstance');
  if (requires.instance === 'same' && passedIn !== lab.instance) return t('checks.requires.otherInstance', { expected: earlierExpected() });
  return undefined;
}
