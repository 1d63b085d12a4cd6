/** A node-pty terminal as the driver contract's LabTerminal (the local driver's shells, the memory driver's). */
import type { IPty } from 'node-pty';
import type { LabTerminal } from './driver.ts';

export function ptyTerminal(term: IPty): LabTerminal {
  return {
    onData: (listener) => term.onData(listener),
    onExit: (listener) => term.onExit(({ exitCode }) => listener({ code: exitCode })),
    write: (data) => term.write(data),
    resize: ({ cols, rows }) => term.resize(cols, rows),
    pause: () => term.pause(),
    resume: () => term.resume(),
    close: () => {
      try {
        term.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    },
  };
}
