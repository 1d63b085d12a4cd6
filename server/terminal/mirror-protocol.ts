/** Messages between the main thread (mirror-pool.ts) and a mirror worker (mirror-worker.ts). */
import type { TurnReport } from './mirror-scheduler.ts';

export type ToWorker =
  | { op: 'open'; id: number; cols: number; rows: number; group: string }
  | { op: 'write'; id: number; data: string }
  | { op: 'resize'; id: number; cols: number; rows: number }
  | { op: 'snapshot'; id: number; request: number }
  | { op: 'close'; id: number };

export type FromWorker = TurnReport;
