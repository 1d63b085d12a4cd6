import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLabs, parseLab, LabDefinitionError } from '../../server/labs/registry.ts';
import { problemsOf } from '../helpers/lab-problems.ts';

const valid = `id: demo
title: { fr: Démo, en: Demo }
resources: { cpu: 0.5, memory: 256Mi, disk: 1Gi, pids: 64 }
ttl: 90m
checks:
  made-dir: { kind: file, path: ~/work/x, type: dir }
  ran: { kind: shell, run: "test -f ~/x", stdout: ok }
`;

test('a valid lab is parsed with units converted and defaults filled', () => {
  const lab = parseLab(valid, 'labs/demo/lab.yaml');
  assert.equal(lab.resources.memory, 256 * 1024 ** 2);
  assert.equal(lab.resources.disk, 1024 ** 3);
  assert.equal(lab.ttl, 90 * 60e3);
  assert.equal(lab.idle, 30 * 60e3);
  assert.equal(lab.workspace, '/home/onyxia/work');
  assert.deepEqual(Object.keys(lab.checks), ['made-dir', 'ran']);
  assert.equal(lab.checks['made-dir']?.kind, 'file');
});

test('errors name the file, the line and the field', () => {
  assert.deepEqual(problemsOf(valid.replace('256Mi', 'lots')), ['labs/demo/lab.yaml:3: resources.memory: expected a size such as 512Mi or 1Gi']);
  assert.deepEqual(problemsOf(valid.replace('ttl: 90m', 'ttl: forever')), ['labs/demo/lab.yaml:4: ttl: expected a duration such as 30m or 2h']);
  const [kind] = problemsOf(valid.replace('kind: shell', 'kind: magic'));
  assert.match(kind!, /^labs\/demo\/lab\.yaml:7: checks\.ran\.kind: /);
  const [title] = problemsOf(valid.replace('title: { fr: Démo, en: Demo }', 'title: { fr: Démo }'));
  assert.match(title!, /^labs\/demo\/lab\.yaml:2: title\.en: /);
  const [unknown] = problemsOf(valid + 'colour: blue\n');
  assert.match(unknown!, /colour/);
  const [path] = problemsOf(valid.replace('~/work/x', 'work/x'));
  assert.match(path!, /:6: checks\.made-dir\.path: expected an absolute path/);
});

test('broken YAML is reported with its line', () => {
  const [problem] = problemsOf('id: demo\ntitle: { fr: a, en: b\n');
  assert.match(problem!, /^labs\/demo\/lab\.yaml:\d+: /);
});

test('the registry loads every lab folder and insists the id matches the folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'atelier-labs-'));
  mkdirSync(join(root, 'labs', 'demo'), { recursive: true });
  writeFileSync(join(root, 'labs', 'demo', 'lab.yaml'), valid);
  assert.deepEqual([...loadLabs(join(root, 'labs'), root).keys()], ['demo']);
  mkdirSync(join(root, 'labs', 'other'));
  writeFileSync(join(root, 'labs', 'other', 'lab.yaml'), valid);
  mkdirSync(join(root, 'labs', 'empty'));
  assert.throws(() => loadLabs(join(root, 'labs'), root), (error: LabDefinitionError) => {
    assert.ok(error.problems.some((p) => p === 'labs/other/lab.yaml:1: id: "demo" must match its folder name "other"'));
    assert.ok(error.problems.some((p) => p.startsWith('labs/empty/lab.yaml: missing')));
    return true;
  });
});

test('the project\'s own labs are valid', () => {
  const labs = loadLabs(join(import.meta.dirname, '..', '..', 'labs'));
  assert.ok(labs.size >= 1);
});
