/**
 * A Server-Sent Events stream read as an EventSource does, parsed as it arrives: every event kept
 * with its name, or only what `pick` keeps of them.
 */
import { request, type IncomingMessage } from 'node:http';

export interface SseEvent {
  event: string;
  data: any;
}

export interface SseStream<T = SseEvent> {
  status: number;
  events: T[];
  /** Resolves with the first event (already received or to come) matching, or rejects after `ms`. */
  next(match: (event: T) => boolean, ms: number): Promise<T>;
  close(): void;
}

export function openSse<T = SseEvent>(url: string, path: string, cookie: string | undefined, pick = (event: SseEvent) => event as T | undefined): Promise<SseStream<T>> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers: { accept: 'text/event-stream', ...(cookie ? { cookie } : {}) } });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      const events: T[] = [];
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
          const kept = event && data ? pick({ event, data: JSON.parse(data) }) : undefined;
          if (kept !== undefined) events.push(kept);
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
