/**
 * Attack suite: escape-sequence floods aimed at the server's headless screen mirror (issue 7,
 * item 1). Learner A floods at the largest terminal the server accepts, with no viewer (only the
 * mirror reads it); meanwhile learner B's /healthz, check round trip, terminal echo and terminal
 * reload (its mirror shares the flooder's worker) keep their idle p99 within a generous bound, A's terminal still replays its screen, and the server refuses
 * terminal sizes no screen can show.
 * Run: node_modules/.bin/node --disable-warning=ExperimentalWarning --test test/attack/terminal-flood.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectTerminal } from '../helpers/terminal.ts';
import { isRoot, startAttackServer, type AttackServer } from '../helpers/attack.ts';
import { registry } from '../../server/metrics.ts';
import { Bystander, Flooder, formatFigures, maxSize, measureFloods, probes, type Probe } from '../helpers/terminal-flood.ts';

/**
 * Far above an idle p99 (a few ms for /healthz, tens for a check that runs a process in the lab,
 * more on a loaded machine: hence the multiple), far below a stalled server's (seconds). A replay
 * also waits for the mirror worker's thread, which a loaded machine preempts for tens of ms.
 */
const bound = (probe: Probe, idleP99: number) => Math.max(probe === 'replay' ? 1_000 : 300, 3 * idleP99);

let server: AttackServer;

before(async () => {
  if (!isRoot) return;
  server = await startAttackServer({ labs: {}, uidBase: 520_000, cgroupName: 'atelier-attack-terminal' });
});

after(async () => {
  await server?.cleanup();
});

describe('terminal floods (attack suite)', { skip: !isRoot && 'needs root (the local driver runs labs as their own uid)' }, () => {
  it('a flood of costly escape sequences at the largest size slows no other learner', async (t) => {
    const failures = async () => Number(/^atelier_terminal_mirror_failures_total (\S+)$/m.exec(await registry.metrics())?.[1]);
    const failuresBefore = await failures();
    const flooder = await Flooder.start(server.url, 'test-lab');
    const bystander = await Bystander.start(server.url, 'test-lab', 'always-ok');
    try {
      const { idle, floods: results } = await measureFloods(flooder, bystander, { seconds: 4 });
      t.diagnostic(`terminal ${maxSize.cols}×${maxSize.rows}`);
      t.diagnostic(formatFigures('idle', idle));
      const problems: string[] = [];
      for (const { flood, figures, reattach } of results) {
        t.diagnostic(formatFigures(flood, figures));
        // The flooder's own terminal still works: it replays a screen, then shows the shell's last words.
        t.diagnostic(`${flood}: the flooder's reattach: screen in ${Math.round(reattach.screenMs)} ms (${reattach.screenLength} characters), the shell's last line in ${Math.round(reattach.markerMs)} ms`);
        for (const probe of probes) {
          const { p99 } = figures[probe];
          if (!(p99 < bound(probe, idle[probe].p99))) problems.push(`${flood}: another learner's ${probe} p99 ${Math.round(p99)} ms (idle ${Math.round(idle[probe].p99)} ms)`);
        }
      }
      assert.deepEqual(problems, [], `a flood in one terminal stalls other learners:\n${problems.join('\n')}`);
      assert.equal(await failures(), failuresBefore, 'a mirror worker died during the floods');
    } finally {
      await bystander.close();
      await flooder.close();
    }
  });

  it('terminal sizes beyond what a screen shows are refused, in the handshake and in resize', async () => {
    const browser = await Flooder.start(server.url, 'test-lab');
    try {
      const { id, token } = browser.lab;
      const refusal = await connectTerminal(server.url, { lab: id, token, terminal: 'huge', cols: 500, rows: 200 }).then(
        (client) => {
          client.close();
          return undefined;
        },
        (error: Error & { data?: { code: string } }) => error.data?.code,
      );
      assert.equal(refusal, 'bad_request', 'a 500×200 terminal was accepted');

      const terminal = await connectTerminal(server.url, { lab: id, token, terminal: 'resized', ...maxSize });
      try {
        await terminal.screen;
        terminal.socket.emit('resize', { cols: maxSize.cols + 1, rows: maxSize.rows + 1 });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const from = terminal.output().length;
        terminal.type('stty size\r');
        await terminal.waitFor(new RegExp(`^${maxSize.rows} ${maxSize.cols}\\r?$`, 'm'), 5_000, from);
      } finally {
        terminal.close();
      }
    } finally {
      await browser.close();
    }
  });
});
