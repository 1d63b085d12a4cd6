/** What the lab loader says is wrong with a lab.yaml, for tests of the lab schema. */
import assert from 'node:assert/strict';
import { LabDefinitionError, parseLab } from '../../server/labs/registry.ts';

/** The problems parseLab reports for `source`; fails the test if the lab is accepted. */
export function problemsOf(source: string): string[] {
  try {
    parseLab(source, 'labs/demo/lab.yaml');
  } catch (error) {
    assert.ok(error instanceof LabDefinitionError);
    return error.problems;
  }
  assert.fail('expected the lab to be rejected');
}
