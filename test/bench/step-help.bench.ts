/**
 * What Skip and Rebuild cost a learner, on the real local driver with datalab-discovery: Skip →
 * verdict for a one-line script (made-file: solve then check), and a whole rebuild of the
 * practical in a fresh lab (every page's checks in course order), each step's time from its first
 * NDJSON line to its verdict, over a few fresh labs. Prints figures; cleans up.
 */
import { rmSync } from 'node:fs';
import { startTestServer } from '../helpers/server.ts';
import { LearnerClient, repoLabsDir } from '../helpers/learner.ts';
import type { RebuildLine } from '../../server/http/solve.ts';
import { ndjsonLines } from '../../site/client/ndjson.ts';
import { ms, summarize } from './lib/stats.ts';

const labId = 'datalab-discovery';
const courseOrder = ['notebook-function', 'made-file', 'file-gone', 'token-injected', 'cloned', 'pushed', 's3-downloaded', 's3-uploaded', 'notebook-read-shared', 'notebook-s3fs', 'notebook-wrote-result', 's3-shared'];
const skips = 20;
const rebuilds = Number(process.env.STEP_HELP_BENCH_REBUILDS ?? 3);

function print(label: string, values: number[]): void {
  const s = summarize(values);
  console.log(`${label.padEnd(44)} median ${ms(s.median).padStart(9)}  p95 ${ms(s.p95).padStart(9)}  max ${ms(s.max).padStart(9)}  (n=${s.n})`);
}

const server = await startTestServer({ config: { labsDir: repoLabsDir } });
try {
  const learner = new LearnerClient(server.url);
  await learner.me();
  await learner.api('/api/me/git', { method: 'PUT', body: { name: 'Bench', email: 'bench@example.org' } });
  await learner.api('/api/me/git/token', { method: 'POST' });

  let lab = await learner.launch(labId);
  const skipTimes: number[] = [];
  for (let i = 0; i < skips + 2; i += 1) {
    const started = performance.now();
    const response = await learner.api(`/api/labs/${lab.id}/checks/made-file/solve`, { method: 'POST', token: lab.token });
    if (response.body.ok !== true) throw new Error(`skip: ${response.status} ${response.text}`);
    if (i >= 2) skipTimes.push(performance.now() - started);
  }
  print('Skip → verdict (made-file: echo > file)', skipTimes);

  const perStep = new Map<string, number[]>(courseOrder.map((id) => [id, []]));
  const totals: number[] = [];
  for (let round = 0; round < rebuilds; round += 1) {
    await learner.deleteLab(lab.id);
    lab = await learner.launch(labId);
    const started = performance.now();
    const response = await fetch(`${server.url}/api/labs/${lab.id}/rebuild`, {
      method: 'POST',
      headers: { cookie: learner.cookie!, authorization: `Bearer ${lab.token}`, 'content-type': 'application/json', 'accept-language': 'en' },
      body: JSON.stringify({ checks: courseOrder }),
    });
    const began = new Map<string, number>();
    for await (const line of ndjsonLines<RebuildLine>(response.body!)) {
      if (line.type === 'end') {
        if (!line.ok) throw new Error(`rebuild stopped at ${line.check}: ${line.message}`);
        continue;
      }
      if (!began.has(line.check)) began.set(line.check, performance.now());
      if (line.state === 'passed' || line.state === 'passed-over') perStep.get(line.check)!.push(performance.now() - began.get(line.check)!);
    }
    totals.push(performance.now() - started);
  }
  console.log(`\nRebuild of the whole practical (${courseOrder.length} steps) in a fresh lab, ${rebuilds} labs:`);
  for (const [id, values] of perStep) print(`  ${id}`, values);
  print('  total', totals);
  await learner.deleteLab(lab.id);
} finally {
  await server.cleanup();
  rmSync(server.config.dataDir, { recursive: true, force: true });
}
