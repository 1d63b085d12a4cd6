/** How the configuration tests read a refusal of the environment. */
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../server/config.ts';

/** loadConfig's refusal of `env`: a ConfigError of one line; fails the test if `env` is accepted. */
export function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (caught) {
    assert.ok(caught instanceof ConfigError, String(caught));
    assert.ok(!caught.message.includes('\n'), 'one line');
    return caught.message;
  }
  assert.fail('a ConfigError was expected');
}
