/**
 * The labs' seccomp filter as classic BPF, compiled once per process by seccomp-bpf.py (libseccomp)
 * from Atelier's own policy (written there: what a runtime's default profile denies, and more). bwrap loads it for the sandbox (`--seccomp FD`), lab-helper.pl for
 * every process it starts in a lab (terminals, checks), so nothing in a lab runs without it.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const GENERATOR = path.join(import.meta.dirname, 'seccomp-bpf.py');
/** Debian's python3 (where python3-seccomp installs its module), not whatever python3 is first on the PATH. */
const PYTHON = '/usr/bin/python3';
/** One sock_filter instruction; the kernel takes at most 4096 of them. */
const INSN = 8;
const MAX_INSNS = 4096;

const cache = new Map<string, Buffer>();

export class SeccompError extends Error {
  override readonly name = 'SeccompError';
}

/** The filter for `arch` (node's process.arch: x64 or arm64). Throws a message meant for the operator. */
export function labSeccompFilter(arch: string): Buffer {
  const cached = cache.get(arch);
  if (cached) return cached;
  const r = spawnSync(PYTHON, [GENERATOR, arch], { env: {}, maxBuffer: MAX_INSNS * INSN + 1, timeout: 30_000 });
  const stderr = r.stderr?.toString('utf8').trim() ?? '';
  if (r.error || r.status !== 0) {
    const why = /No module named .seccomp./.test(stderr)
      ? 'python3-seccomp is not installed: run `npm start`, which installs it (or `apt-get install python3-seccomp`)'
      : `cannot compile the labs' seccomp filter: ${r.error?.message ?? stderr.slice(0, 500)}`;
    throw new SeccompError(why);
  }
  const bpf = r.stdout;
  if (bpf.length === 0 || bpf.length % INSN !== 0 || bpf.length / INSN > MAX_INSNS) {
    throw new SeccompError(`the labs' seccomp filter is malformed (${bpf.length} bytes)`);
  }
  cache.set(arch, bpf);
  return bpf;
}
