/**
 * Step help: the lab schema's `solution` and `solve` fields, and the page's hints, solution
 * disclosures and skip/rebuild controls as the markdown plugin writes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLab } from '../../server/labs/registry.ts';
import { problemsOf } from '../helpers/lab-problems.ts';
import { unified } from 'unified';
import remarkParse from 'remark-parse';
import remarkGfm from 'remark-gfm';
import remarkDirective from 'remark-directive';
import remarkRehype from 'remark-rehype';
import rehypeStringify from 'rehype-stringify';
import { VFile } from 'vfile';
import { atelierRemark } from '../../site/markdown/index.ts';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDriver } from '../helpers/memory-driver.ts';
import { runSolve, unsolvable } from '../../server/checks/solve.ts';
import { translator } from '../../i18n/index.ts';
import type { CheckContext } from '../../server/checks/index.ts';

const lab = (checks: string) => `id: demo
title: { fr: Démo, en: Demo }
checks:
${checks}`;

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

// The page side: what the markdown plugin writes for a page of a lab with solutions and scripts.

const pageLab = parseLab(
  lab(`  made-dir:
    kind: file
    path: { fr: ~/work/mon-dossier, en: ~/work/my-folder }
    solution: { fr: mkdir ~/work/mon-dossier, en: mkdir ~/work/my-folder }
    solve: { fr: mkdir -p mon-dossier, en: mkdir -p my-folder }
  listed: { kind: shell, run: "true", solution: ls ~/work }
`),
  'labs/demo/lab.yaml',
);

async function render(markdown: string, language: 'fr' | 'en' = 'fr'): Promise<string> {
  const file = new VFile({ value: markdown, path: `/project/content/${language}/tp/demo.mdx` });
  const result = await unified().use(remarkParse).use(remarkGfm).use(remarkDirective).use(atelierRemark, { labs: new Map([['demo', pageLab]]) }).use(remarkRehype).use(rehypeStringify).process(file);
  return String(result);
}

const page = `:::launch{lab="demo"}
Go.
:::

- [ ] Lisez la consigne :step{#read}
- [ ] Créez le dossier :check[made-dir]

  :::hint
  Pensez à \`mkdir\`.
  :::

  :::hint
  Le dossier s'appelle mon-dossier.
  :::
- [ ] Listez-le :check[listed]
- [ ] Relisez :step{#again}
`;

test('hints: hidden, in order, behind one button that names the next one and controls the list', async () => {
  const html = await render(page);
  const hints = /<atelier-hints class="atelier-hints" data-total="2"><button type="button" class="atelier-hints__button" aria-expanded="false" aria-controls="step-hints-made-dir">Afficher un indice \(1\/2\)<\/button><div id="step-hints-made-dir" class="atelier-hints__list" aria-live="polite">(.*?)<\/div><\/atelier-hints>/s.exec(html);
  assert.ok(hints, html);
  assert.deepEqual(
    [...hints[1]!.matchAll(/<div class="atelier-hint" hidden><p class="atelier-hint__label">(.*?)<\/p>\s*<p>(.*?)<\/p><\/div>/g)].map((match) => [match[1], match[2]]),
    [
      ['Indice 1 :', 'Pensez à <code>mkdir</code>.'],
      ["Indice 2 :", "Le dossier s'appelle mon-dossier."],
    ],
  );
  // The step's checkbox is still named by its own words only.
  assert.match(html, /<span id="step-label-made-dir" class="atelier-step__text">Créez le dossier<\/span>/);
});

test("the check's solution is a closed disclosure with a code block in the page's language", async () => {
  assert.match(await render(page), /<details class="atelier-solution"><summary>Afficher la solution<\/summary><pre><code class="language-bash">mkdir ~\/work\/mon-dossier\n?<\/code><\/pre><\/details>/);
  assert.match(await render(page.replace('Créez', 'Make'), 'en'), /<summary>Show the solution<\/summary><pre><code class="language-bash">mkdir ~\/work\/my-folder/);
});

test('Skip only where the check has a script; Rebuild on steps after a check step with a script, carrying the earlier check ids in page order', async () => {
  const html = await render(page);
  const actions = [...html.matchAll(/<li[^>]* data-step="([^"]+)"[^>]*>.*?(?=<li|<\/ul>)/gs)].map(([item, step]) => [step, /<atelier-step-actions[^>]*>/.exec(item)?.[0] ?? null, /data-action="skip"/.test(item), /data-action="rebuild">Reconstruire mon service jusqu'à cette étape</.test(item)]);
  assert.deepEqual(actions, [
    ['read', null, false, false],
    ['made-dir', '<atelier-step-actions class="atelier-step-actions" data-skip="made-dir">', true, false],
    ['listed', '<atelier-step-actions class="atelier-step-actions" data-rebuild="made-dir">', false, true],
    ['again', '<atelier-step-actions class="atelier-step-actions" data-rebuild="made-dir listed">', false, true],
  ]);
  // Without a script before it, a step has nothing to rebuild.
  const unsolvable = await render(page.replace('- [ ] Créez le dossier :check[made-dir]', '- [ ] Relisez encore :step{#read-again}'));
  assert.doesNotMatch(unsolvable, /data-rebuild/);
});

test('a hint outside a task item fails the build with its line', async () => {
  await assert.rejects(render(`Texte.\n\n:::hint\nPerdu.\n:::\n`), (error: Error & { line?: number }) => {
    assert.match(error.message, /a :::hint belongs inside a task item/);
    assert.equal(error.line, 3);
    return true;
  });
  await assert.rejects(render(`- un élément simple\n\n  :::hint\n  Perdu.\n  :::\n`), /a :::hint belongs inside a task item/);
});

// The solve script's runner, on the memory driver (real bash processes on this machine).
async function solveIn(script: string, options: { timeoutMs?: number; env?: Record<string, string> } = {}) {
  const driver = new MemoryDriver();
  const handle = await driver.provision({ labId: 'demo', workspace: '/home/onyxia/work', resources: { cpu: 1, memory: 64 << 20, disk: 16 << 20, pids: 64 }, env: options.env ?? {} });
  const workspace = (await driver.exec(handle, ['pwd'])).stdout.trim();
  const context: CheckContext = { driver, handle, lab: { id: 'demo', instance: 'i1', workspace }, language: 'en', t: translator('en'), timeoutMs: options.timeoutMs ?? 10_000 };
  const check = parseLab(lab(`  ran: { kind: shell, run: "true", solve: ${JSON.stringify(script)} }\n`), 'labs/demo/lab.yaml').checks.ran!;
  return { outcome: await runSolve(check, context), workspace };
}

test('a solve script runs in the workspace with bash -e -o pipefail: a failing command stops it, with the end of its error', async () => {
  const { outcome, workspace } = await solveIn('echo one > a; false; echo two > b');
  assert.deepEqual(outcome, { ok: false, message: "The step's script failed (status 1): ∅" });
  assert.ok(existsSync(join(workspace, 'a')) && !existsSync(join(workspace, 'b')), 'stopped at the failing command, not before');
  const piped = await solveIn('false | true; touch c');
  assert.equal(piped.outcome.ok, false, 'pipefail: a failing command in a pipe stops it too');
  const said = await solveIn(`echo "${'y'.repeat(400)}" >&2; echo "fatal: the end" >&2; exit 4`);
  assert.ok(!said.outcome.ok && said.outcome.message.startsWith("The step's script failed (status 4): …y") && said.outcome.message.endsWith('fatal: the end'));
  assert.ok(!said.outcome.ok && said.outcome.message.length < 360, 'bounded');
});

test('a solve script reads no rc file (BASH_ENV from the lab is dropped) and is stopped at its deadline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-solve-'));
  writeFileSync(join(dir, 'rc'), `touch ${join(dir, 'sourced')}\n`);
  assert.deepEqual((await solveIn('true', { env: { BASH_ENV: join(dir, 'rc'), ENV: join(dir, 'rc') } })).outcome, { ok: true });
  assert.equal(existsSync(join(dir, 'sourced')), false);
  const started = Date.now();
  assert.deepEqual((await solveIn('sleep 20', { timeoutMs: 500 })).outcome, { ok: false, message: "The step's script did not finish within 1 s." });
  assert.ok(Date.now() - started < 10_000);
});

test('unsolvable: the reason a check cannot be skipped', () => {
  const checks = parseLab(lab(`  a: { kind: file, path: ~/a, solve: touch ~/a }
  b: { kind: file, path: ~/a }
  c: { kind: file, path: ~/a, absent: true, requires: { check: a, instance: new } }
`), 'labs/demo/lab.yaml').checks;
  assert.deepEqual([unsolvable(checks.a!), unsolvable(checks.b!), unsolvable(checks.c!)], [undefined, 'no_solve', 'needs_new_instance']);
});
