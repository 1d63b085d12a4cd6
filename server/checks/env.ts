/**
 * `kind: env`: the lab's environment holds what the server injected at launch. Account variables
 * must equal the learner's current settings (a token generated after the launch is not in the
 * lab yet), and a secret must equal its value in the group chosen at launch. The value is read
 * inside the lab with `printenv`, in the environment every lab process starts with: no shell,
 * so nothing the learner writes in ~/.bashrc or ~/.profile takes part.
 */
import { inLanguage, type EnvCheck } from '../labs/schema.ts';
import { execWithin, type CheckContext, type Observation } from './types.ts';

export function envExpected(check: EnvCheck, { t, language }: Pick<CheckContext, 't' | 'language'>): string {
  const names = [...check.account, ...(check.secret ? [inLanguage(check.secret, language)] : [])].join(', ');
  return check.expect?.[language] ?? t('checks.expected.env', { names });
}

/** The variable's value in the lab's environment, undefined when unset. */
async function labVariable(context: CheckContext, name: string): Promise<string | undefined> {
  const result = await execWithin(context, ['printenv', name]);
  return result.code === 0 ? result.stdout.replace(/\n$/, '') : undefined;
}

export async function runEnvCheck(check: EnvCheck, context: CheckContext): Promise<Observation> {
  const { t, learner } = context;
  const expected = envExpected(check, context);
  const fail = (found: string): Observation => ({ ok: false, expected, found });
  if (!learner) return fail(t('checks.env.noAccount'));

  const account = await learner.account();
  // What the account lacks first: relaunching would not help until it is filled in.
  const unset = check.account.find((name) => !account[name]);
  if (unset) return fail(t(`checks.env.accountUnset.${unset}`));
  for (const name of check.account) {
    if ((await labVariable(context, name)) !== account[name]) return fail(t('checks.env.stale', { name }));
  }
  if (check.secret !== undefined) {
    const name = inLanguage(check.secret, context.language);
    const group = context.lab.secrets;
    if (!group) return fail(t('checks.env.noGroup', { name }));
    const vars = await learner.secretGroup(group);
    if (!vars) return fail(t('checks.env.groupGone', { group }));
    if (!Object.hasOwn(vars, name)) return fail(t('checks.env.notInGroup', { group, name }));
    if ((await labVariable(context, name)) !== vars[name]) return fail(t('checks.env.secretStale', { group, name }));
  }
  return { ok: true, expected, found: t('checks.env.ok') };
}
