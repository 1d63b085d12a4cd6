/**
 * The Python environment of labs: a virtual environment built from the pinned
 * labs/tools/python/requirements.txt at LAB_PYTHON_DIR, shared read-only into every lab (see
 * sandbox-args.ts) and first on its PATH. It lives at the same path on the host as in labs,
 * since a venv's scripts name its interpreter by absolute path, and outside the project so that
 * no lab ever reads the project's own path. Rebuilt only when the requirements (or the host's
 * Python) change: a stamp holds their hash. The previous one is moved aside while a new one
 * is built, and put back if the build fails.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LAB_PYTHON_DIR } from '../drivers/local/sandbox-args.ts';

const stampName = '.atelier-requirements.sha256';

/**
 * JupyterLab's defaults for labs, beside the requirements: labs have no Internet, so no news or
 * update prompt (JupyterLab reads overrides.json from its application's settings folder).
 */
const overridesName = 'jupyterlab-overrides.json';

export function labPythonStamp(requirements: string, python = '/usr/bin/python3'): string {
  const version = execFileSync(python, ['-c', 'import sys; print(sys.version)'], { encoding: 'utf8' });
  const overrides = join(dirname(requirements), overridesName);
  return createHash('sha256')
    .update(version)
    .update('\0')
    .update(readFileSync(requirements))
    .update('\0')
    .update(existsSync(overrides) ? readFileSync(overrides) : '')
    .digest('hex');
}

/** Builds the environment unless it is up to date; true when it built one. */
export function ensureLabPython(requirements: string, target = LAB_PYTHON_DIR, log: (line: string) => void = console.log): boolean {
  const stamp = labPythonStamp(requirements);
  const stampFile = join(target, stampName);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) return false;
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  log(`Building the labs' Python environment (${requirements}) in ${target}…`);
  // Built where it will live: its scripts' shebangs name that path.
  const previous = `${target}.previous`;
  rmSync(previous, { recursive: true, force: true });
  if (existsSync(target)) renameSync(target, previous);
  try {
    execFileSync('/usr/bin/python3', ['-m', 'venv', target], { stdio: 'inherit' });
    execFileSync(join(target, 'bin', 'pip'), ['install', '--no-input', '--disable-pip-version-check', '--progress-bar', 'off', '-r', requirements], {
      stdio: 'inherit',
    });
    const overrides = join(dirname(requirements), overridesName);
    if (existsSync(overrides)) {
      const settings = join(target, 'share', 'jupyter', 'lab', 'settings');
      mkdirSync(settings, { recursive: true, mode: 0o755 });
      writeFileSync(join(settings, 'overrides.json'), readFileSync(overrides), { mode: 0o644 });
    }
    writeFileSync(stampFile, `${stamp}\n`, { mode: 0o644 });
  } catch (error) {
    rmSync(target, { recursive: true, force: true });
    if (existsSync(previous)) renameSync(previous, target);
    throw error;
  }
  rmSync(previous, { recursive: true, force: true });
  log(`Labs' Python environment ready in ${target}.`);
  return true;
}
