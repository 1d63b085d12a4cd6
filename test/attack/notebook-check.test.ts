/**
 * Attack suite: a learner's notebooks built to make the notebook check expensive (hundreds of
 * megabytes to parse, JSON nested to the bottom, a FIFO that never ends, tens of thousands of
 * files, a folder chain hundreds deep, hundreds of notebooks). The check must answer with a
 * sentence within its bound, and the server's own event loop must not stall meanwhile: the
 * notebooks are read inside the lab, never by the server. Real server, real local driver.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Browser, assertHealthy, startAttackServer, type AttackServer } from '../helpers/attack.ts';
import { inLabOk } from '../helpers/learner.ts';
import { defaultCheckTimeout } from '../../server/checks/index.ts';

const labYaml = `
id: notebooks
title: { fr: Notebooks, en: Notebooks }
workspace: /home/onyxia/work
resources: { cpu: 1, memory: 768Mi, disk: 512Mi, pids: 128 }
ttl: 10m
idle: 10m
checks:
  reads-csv:
    kind: notebook
    source: 'read_csv\\(\\s*["'']s3://'
`;

/** Longest a check may take: the check's own bound, plus the margin execWithin allows. */
const checkBound = defaultCheckTimeout + 2_000;
/** Longest the server's event loop may stall during a check (it only waits for one small line). */
const maxLoopStallMs = 100;

let server: AttackServer;

before(async () => {
  server = await startAttackServer({ labs: { notebooks: labYaml }, uidBase: 760_000, cgroupName: 'atelier-attack-notebooks' });
});
after(async () => {
  await server?.cleanup();
});

/** Runs the check as the page does, measuring its time and the server's event-loop delay meanwhile. */
async function timedCheck(browser: Browser, lab: { id: string; token: string }) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const started = performance.now();
  const response = await browser.api(`/api/labs/${lab.id}/checks/reads-csv`, { method: 'POST', token: lab.token, headers: { 'accept-language': 'en' } });
  const elapsed = performance.now() - started;
  delay.disable();
  assert.equal(response.status, 200);
  return { body: response.body as { ok: boolean; found: string }, elapsed, maxStallMs: delay.max / 1e6 };
}

describe('notebook check under attack', () => {
  it('heavy, deeply nested, oversized and never-ending notebooks: a sentence within the bound, the server never stalls', async (t) => {
    const browser = new Browser(server);
    const lab = await browser.launch('notebooks');
    // Ten notebooks of 8 MiB that parse into millions of objects each, one of JSON nested 8 MiB
    // deep, 20 MB of junk, and a FIFO named like a notebook (opening it for reading would wait forever).
    await inLabOk(
      server,
      lab.id,
      `python3 - <<'EOF'
cells = b'{"cells": [' + b'{},' * (8 * 1024 * 1024 // 3 - 8) + b'{}]}'
for i in range(10):
    open(f"heavy-{i}.ipynb", "wb").write(cells)
open("nested.ipynb", "wb").write(b"[" * (8 * 1024 * 1024 - 1))
EOF
head -c 20000000 /dev/urandom > junk.ipynb && mkfifo fifo.ipynb`,
    );
    const { body, elapsed, maxStallMs } = await timedCheck(browser, lab);
    t.diagnostic(`check ${Math.round(elapsed)} ms, event loop max delay ${maxStallMs.toFixed(1)} ms: ${body.found}`);
    assert.equal(body.ok, false);
    assert.ok(elapsed < checkBound, `the check took ${Math.round(elapsed)} ms`);
    assert.ok(maxStallMs < maxLoopStallMs, `the server's event loop stalled ${maxStallMs.toFixed(1)} ms`);
    // Whatever the scan got to before its budget, it says what it found, not that it timed out.
    assert.match(body.found, /has no executed cell|notebooks has an executed cell|not read|cannot be read/, body.found);
    await browser.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
  });

  it('tens of thousands of files, a folder chain 300 deep, 300 notebooks: the walk and the reads stop at their bounds', async (t) => {
    const browser = new Browser(server);
    const lab = await browser.launch('notebooks');
    await inLabOk(
      server,
      lab.id,
      `python3 - <<'EOF'
import json, os
def notebook(count):
    cell = {"cell_type": "code", "execution_count": count, "metadata": {}, "outputs": [], "source": 'read_csv("s3://x")'}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
for d in range(300):
    os.makedirs(f"many/{d}")
    for f in range(100):
        open(f"many/{d}/{f}.txt", "w").close()
for n in range(300):
    open(f"nb-{n}.ipynb", "w").write(notebook(None))
deep = "/".join(["d"] * 300)
os.makedirs(deep)
open(deep + "/S3.ipynb", "w").write(notebook(1))
EOF`,
    );
    const { body, elapsed, maxStallMs } = await timedCheck(browser, lab);
    t.diagnostic(`check ${Math.round(elapsed)} ms, event loop max delay ${maxStallMs.toFixed(1)} ms: ${body.found}`);
    assert.ok(elapsed < checkBound, `the check took ${Math.round(elapsed)} ms`);
    assert.ok(maxStallMs < maxLoopStallMs, `the server's event loop stalled ${maxStallMs.toFixed(1)} ms`);
    // 50 notebooks read of 300, and the executed one 300 folders down never reached.
    assert.equal(body.ok, false);
    assert.equal(body.found, 'None of your 50 notebooks has an executed cell yet: run the cells, then save (Ctrl+S).');
    await browser.api(`/api/labs/${lab.id}`, { method: 'DELETE', token: lab.token });
    await assertHealthy(server);
  });
});
