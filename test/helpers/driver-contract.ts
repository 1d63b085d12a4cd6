/**
 * The driver contract (server/drivers/driver.ts) as tests: one suite, run against every driver
 * (the local sandboxes, Kubernetes pods on a real API server, the memory driver). What a driver
 * cannot do in a given test setting (a KWOK pod runs no container) is declared by the runner in
 * `unsupported`, with the reason, and reported as a skip naming it: never silently passed.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Driver, LabHandle, LabTemplate, LabTerminal, ProgressEvent } from '../../server/drivers/driver.ts';

export interface ContractSetup {
  /** A driver of the deployment under test. */
  driver: Driver;
  /** Another driver of the same deployment, as another process or replica would make it. */
  another: () => Driver | Promise<Driver>;
  /** A small lab's template for this driver. */
  template: LabTemplate;
  cleanup?: () => Promise<void>;
}

export type ContractFeature = 'terminal' | 'exec' | 'home-files';

export interface ContractOptions {
  /** Feature → why this setting cannot show it (printed as the skip's reason). */
  unsupported?: Partial<Record<ContractFeature, string>>;
  /** Per-operation timeout for the suite's waits (ms, default 10 s). */
  timeoutMs?: number;
}

/** Output of a terminal until `pattern` appears in it. */
function until(terminal: LabTerminal, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`no ${pattern} in ${JSON.stringify(text.slice(-500))}`));
    }, timeoutMs);
    const subscription = terminal.onData((data) => {
      text += data;
      if (pattern.test(text)) {
        clearTimeout(timer);
        subscription.dispose();
        resolve(text);
      }
    });
  });
}

export function driverContract(name: string, setup: () => Promise<ContractSetup>, options: ContractOptions = {}): void {
  const unsupported = options.unsupported ?? {};
  const timeoutMs = options.timeoutMs ?? 10_000;
  const needs = (feature: ContractFeature) => (unsupported[feature] ? { skip: `${name}: ${unsupported[feature]}` } : {});

  describe(`driver contract: ${name}`, () => {
    let context: ContractSetup;
    let lab: LabHandle;
    const progress: ProgressEvent[] = [];
    const stopped: LabHandle[] = [];

    after(async () => {
      for (const handle of [lab, ...stopped]) if (handle) await context.driver.stop(handle).catch(() => {});
      await context?.cleanup?.();
    });

    it('provision: a lab from its template, with no learner, and progress on the way', async () => {
      context = await setup();
      const provisioned = await context.driver.provision({ ...context.template, env: { ...context.template.env, LAB_OWN: 'from-the-template' } }, (event) => progress.push(event));
      assert.equal(provisioned.labId, context.template.labId);
      assert.equal(provisioned.sessionId, undefined, 'no session before a claim');
      assert.match(provisioned.id, /^[A-Za-z0-9._-]{1,253}$/, 'the id is url-safe');
      assert.ok(progress.length > 0, 'progress was reported');
      for (const event of progress) {
        assert.match(event.step, /^[a-z][a-z-]*$/, 'a stable step key');
        assert.ok(event.percent >= 0 && event.percent <= 100);
      }
      const percents = progress.map((event) => event.percent);
      assert.deepEqual(percents, [...percents].sort((a, b) => a - b), 'progress never goes back');
      assert.ok((await context.driver.list()).some((handle) => handle.id === provisioned.id), 'list() has it');
      assert.equal(await context.driver.poll(provisioned), true, 'poll() says it runs');
      lab = provisioned;
    });

    it('claim: the learner\'s environment and home files, the session on the handle', async () => {
      lab = await context.driver.claim(lab, {
        sessionId: 'contract-session',
        learnerId: 'contract-learner',
        env: { LEARNER_SECRET: 'it is a secret' },
        homeFiles: { '.contract-rc': 'hello from the claim\n' },
        expiresAt: Date.now() + 600_000,
      });
      assert.equal(lab.sessionId, 'contract-session');
      await assert.rejects(
        context.driver.claim(lab, { sessionId: 'another-session', env: { LEARNER_SECRET: 'someone else' }, expiresAt: Date.now() + 600_000 }),
        'a lab is never handed to two learners',
      );
      assert.ok((await context.driver.list()).some((handle) => handle.id === lab.id && handle.sessionId === 'contract-session'), 'list() tells whose it is');
    });

    it('exec: the claim\'s environment and the template\'s, exit codes, stdin', needs('exec'), async () => {
      const env = await context.driver.exec(lab, ['sh', '-c', 'printf "%s|%s" "$LEARNER_SECRET" "$LAB_OWN"']);
      assert.deepEqual(env, { code: 0, stdout: 'it is a secret|from-the-template', stderr: '', timedOut: false });
      const failing = await context.driver.exec(lab, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
      assert.deepEqual(failing, { code: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
      assert.equal((await context.driver.exec(lab, ['cat'], { stdin: 'through stdin' })).stdout, 'through stdin');
    });

    it('exec: a command past its timeout is killed and says so', needs('exec'), async () => {
      const started = Date.now();
      const result = await context.driver.exec(lab, ['sh', '-c', 'echo begun; sleep 30'], { timeoutMs: 500 });
      assert.ok(Date.now() - started < 5_000, 'returned soon after the timeout');
      assert.equal(result.timedOut, true);
      assert.equal(result.code, 124);
      assert.match(result.stdout, /begun/);
    });

    it('claim: home files are the lab user\'s, private', needs('home-files'), async () => {
      const file = await context.driver.exec(lab, ['sh', '-c', 'cat "$HOME/.contract-rc"; stat -c %a "$HOME/.contract-rc"']);
      assert.equal(file.stdout, 'hello from the claim\n600\n');
    });

    it('attach: a shell that runs what is typed, resizes, pauses and resumes, and ends on close', needs('terminal'), async () => {
      const terminal = await context.driver.attach(lab, { cols: 100, rows: 30 });
      await until(terminal, /\$ $/m, timeoutMs);
      terminal.resize({ cols: 120, rows: 40 });
      const answer = until(terminal, /answer-42/, timeoutMs);
      terminal.write('echo answer-$((6*7)) "$LEARNER_SECRET"\r');
      assert.match(await answer, /answer-42 it is a secret/);
      // Paused, the shell's output waits (the flow control a slow viewer relies on), then comes.
      terminal.pause();
      let seen = '';
      const listening = terminal.onData((data) => (seen += data));
      terminal.write('echo after-$((40+2))\r');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.doesNotMatch(seen, /after-42/, 'nothing flows while paused');
      const resumed = until(terminal, /after-42/, timeoutMs);
      terminal.resume();
      await resumed;
      listening.dispose();
      const exited = new Promise<{ code: number | null }>((resolve) => terminal.onExit(resolve));
      terminal.close();
      await exited;
    });

    it('a handle is plain JSON: another driver of the deployment uses it, and lists the lab', async () => {
      const copy = JSON.parse(JSON.stringify(lab)) as LabHandle;
      const other = await context.another();
      assert.ok((await other.list()).some((handle) => handle.id === lab.id && handle.sessionId === 'contract-session'));
      if (!unsupported.exec) {
        const result = await other.exec(copy, ['sh', '-c', 'printf %s "$LEARNER_SECRET"']);
        assert.equal(result.stdout, 'it is a secret', 'the learner\'s environment is found again');
      }
      await other.update(copy, { expiresAt: Date.now() + 1_200_000 });
      assert.equal(await other.poll(copy), true);
    });

    it('stop: the lab is gone from list(), a stopped lab refuses exec, and stop is idempotent', async () => {
      const second = await context.driver.provision(context.template);
      stopped.push(second);
      await context.driver.stop(second);
      assert.ok(!(await context.driver.list()).some((handle) => handle.id === second.id));
      assert.equal(await context.driver.poll(second), false, 'poll() says it is gone');
      await context.driver.stop(second);
      if (!unsupported.exec) await assert.rejects(context.driver.exec(second, ['true']));
    });
  });
}
