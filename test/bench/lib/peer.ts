/**
 * A child process driven over IPC: `call(command)` sends `{ id, command }` and resolves with the
 * child's `{ id, ok, result }` answer (or rejects with its error, a timeout, or its exit).
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface Peer {
  child: ChildProcess;
  call<T>(command: unknown, timeoutMs?: number): Promise<T>;
}

export function peer(child: ChildProcess): Peer {
  let next = 0;
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  child.on('message', (message: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
    if (typeof message.id !== 'number') return;
    const w = waiting.get(message.id);
    if (!w) return;
    waiting.delete(message.id);
    clearTimeout(w.timer);
    if (message.ok) w.resolve(message.result);
    else w.reject(new Error(message.error));
  });
  child.on('exit', (code, signal) => {
    for (const w of waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new Error(`child exited (${signal ?? code})`));
    }
    waiting.clear();
  });
  return {
    child,
    call: <T>(command: unknown, timeoutMs = 180_000) =>
      new Promise<T>((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${JSON.stringify(command).slice(0, 80)}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        child.send({ id, command });
      }),
  };
}

/** Every child forked through `forkPeer`, so a benchmark can end them all on its way out. */
export const children = new Set<ChildProcess>();

export function forkPeer(path: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env): Peer {
  const child = fork(path, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return peer(child);
}

/** Answers a parent's `call`s with `handle` (the child side of `peer`). */
export function serveParent(handle: (command: any) => Promise<unknown>): void {
  process.on('message', (message: { id: number; command: unknown }) => {
    handle(message.command).then(
      (result) => process.send?.({ id: message.id, ok: true, result }),
      (error: unknown) => process.send?.({ id: message.id, ok: false, error: String((error as Error)?.stack ?? error) }),
    );
  });
}
