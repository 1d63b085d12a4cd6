/**
 * What the class tests share: a trainer signed in with the server's token (its cookie), and a
 * Server-Sent Events stream read as an EventSource does, every event kept with its name.
 */
import { request, type IncomingMessage } from 'node:http';
import { LearnerClient } from './learner.ts';

export const trainerToken = 'trainer-token-for-the-tests-0123456789';

export interface SseEvent {
  event: string;
  data: any;
}

export interface SseStream {
  status: number;
  events: SseEvent[];
  next(match: (event: SseEvent) => boolean, ms: number): Promise<SseEvent>;
  close(): void;
}

export function openSse(url: string, path: string, cookie: string | undefined): Promise<SseStream> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers: { accept: 'text/event-stream', ...(cookie ? { cookie } : {}) } });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      const events: SseEvent[] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
        for (const wake of [...waiters]) wake();
      });
      res.on('error', () => {});
      resolve({
        status: res.statusCode ?? 0,
        events,
        next: (match, ms) =>
          new Promise((found, fail) => {
            const look = (): boolean => {
              const event = events.find(match);
              if (!event) return false;
              waiters.delete(look);
              clearTimeout(timer);
              found(event);
              return true;
            };
            const timer = setTimeout(() => {
              waiters.delete(look);
              fail(new Error(`no matching event within ${ms} ms; got ${JSON.stringify(events)}`));
            }, ms);
            if (!look()) waiters.add(look);
          }),
        close: () => req.destroy(),
      });
    });
    req.end();
  });
}

/** A trainer: a client whose cookie is the trainer cookie (POST /api/trainer/session). */
export async function signInTrainer(url: string, token = trainerToken): Promise<LearnerClient> {
  const trainer = new LearnerClient(url);
  const response = await fetch(`${url}/api/trainer/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  if (response.status !== 200) throw new Error(`trainer sign-in: ${response.status} ${await response.text()}`);
  trainer.cookie = response.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
  return trainer;
}
