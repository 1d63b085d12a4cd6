/**
 * Steps the server sees happen (a push reaching the forge, an object landing in the bucket)
 * tick by themselves: the lab server tells every open page of the learner which checks passed.
 */
import { io, type Socket } from 'socket.io-client';
import type { AtelierCheck } from './steps.ts';
import { pageLab } from './lab-session.ts';

let socket: Socket | undefined;

/** One socket per visit: it outlives client-side navigation, and each event is matched to the page shown then. */
export function listenForEvidence(): void {
  if (socket) return;
  socket = io('/learner', { transports: ['websocket', 'polling'], withCredentials: true });
  socket.on('passed', (event: { lab: string; check: string }) => {
    if (event.lab !== pageLab()) return;
    for (const check of document.querySelectorAll<AtelierCheck>(`atelier-check[data-check="${CSS.escape(event.check)}"]`)) check.markPassed();
  });
}
