/** The lab server's view of a lab (server/http/labs.ts), as the launch card and the dock read it. */
import type { LabSession } from './lab-session.ts';
import type { LabView } from './lab-note.ts';

export interface LabStatus extends LabSession, LabView {
  title: Record<string, string>;
  status: 'queued' | 'starting' | 'running' | 'stopped' | 'failed';
  /** message: the backend's own words for the step (a pod event's), untranslated. */
  progress: { step: string; percent: number; message?: string }[];
  position?: number;
  estimatedWaitSeconds?: number;
  slow?: boolean;
  maxExpiresAt?: string;
  idleExpiresAt?: string;
}

export function formatDuration(milliseconds: number): string {
  const totalSeconds = Math.ceil(milliseconds / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, '0')} min`;
  if (minutes > 0) return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
  return `${seconds} s`;
}
