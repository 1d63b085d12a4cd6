/**
 * Step help: the lab schema's `solution` and `solve` fields, and the page's hints, solution
 * disclosures and skip/rebuild controls as the markdown plugin writes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLab, LabDefinitionError } from '../../server/labs/registry.ts';

const lab = (checks: string) => `id: demo
title: { fr: Démo, en: Demo }
checks:
${checks}`;

function problemsOf(source: string): string[] {
  try {
    parseLab(source, 'labs/demo/lab.yaml');
  } catch (error) {
    assert.ok(error instanceof LabDefinitionError);
    return error.problems;
  }
  assert.fail('expected the lab to be rejected');
}

test('solution and solve: one text for both languages, or one per language', () => {
  const parsed = parseLab(
    lab(`  made-dir:
    kind: file
    path: { fr: ~/work/mon-dossier, en: ~/work/my-folder }
    solution: { fr: mkdir ~/work/mon-dossier, en: mkdir ~/work/my-folder }
    solve: { fr: mkdir -p ~/work/mon-dossier, en: mkdir -p ~/work/my-folder }
  ran: { kind: shell, run: "test -f ~/x", solution: touch ~/x, solve: touch ~/x }
`),
    'labs/demo/lab.yaml',
  );
  assert.deepEqual(parsed.checks['made-dir']?.solve, { fr: 'mkdir -p ~/work/mon-dossier', en: 'mkdir -p ~/work/my-folder' });
  assert.equal(parsed.checks.ran?.solution, 'touch ~/x');
});

test('a check that needs a new lab instance refuses solve (no script in the same lab can pass it), keeps solution', () => {
  const checks = `  made: { kind: file, path: ~/x }
  gone:
    kind: file
    path: ~/x
    absent: true
    requires: { check: made, instance: new }
    solution: Delete the service, then launch it again.
`;
  assert.ok(parseLab(lab(checks), 'labs/demo/lab.yaml').checks.gone?.solution);
  const problems = problemsOf(lab(`${checks}    solve: rm -f ~/x\n`));
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^labs\/demo\/lab\.yaml:\d+: checks\.gone\.solve: a check that requires a new instance cannot be solved/);
});

test('solve and solution are bounded and never empty', () => {
  assert.match(problemsOf(lab(`  ran: { kind: shell, run: "true", solve: "" }\n`))[0]!, /checks\.ran\.solve/);
  assert.match(problemsOf(lab(`  ran: { kind: shell, run: "true", solve: { fr: "true" } }\n`))[0]!, /checks\.ran\.solve/);
  assert.match(problemsOf(lab(`  ran: { kind: shell, run: "true", solution: "${'x'.repeat(4001)}" }\n`))[0]!, /checks\.ran\.solution/);
});
