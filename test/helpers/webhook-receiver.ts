/**
 * A school's webhook receiver for the tests: a real HTTP server on loopback that records what
 * it is sent and answers as the test says (a status, a redirect, never). Signatures are checked
 * with the Standard Webhooks reference package, not with the server's own signer.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  /** The body parsed, once its signature held (undefined when it did not). */
  verified: unknown;
}

/** How the receiver answers one request: a status, or nothing at all (`hang`: the request stays open). */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

export interface Receiver {
  url: string;
  /** `whsec_…`, as ATELIER_WEBHOOK_SECRET is given. */
  secret: string;
  received: Received[];
  /** Requests whose response has not been sent (hanging, or still being read). */
  readonly open: number;
  /** The most open at once. */
  readonly maxOpen: number;
  /** How the next requests are answered (default 204). */
  answer: (request: IncomingMessage, body: string) => Answer;
  /** Resolves once `count` requests were received. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export function verify(secret: string, received: Pick<Received, 'headers' | 'body'>): unknown {
  const headers = Object.fromEntries(Object.entries(received.headers).map(([name, value]) => [name, String(value)]));
  return new Webhook(secret).verify(received.body, headers);
}

export async function startReceiver(): Promise<Receiver> {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const hanging = new Set<ServerResponse>();
  const waiters = new Set<() => void>();
  let open = 0;
  let maxOpen = 0;
  const receiver: Receiver = {
    url: '',
    secret,
    received: [],
    get open() {
      return open;
    },
    get maxOpen() {
      return maxOpen;
    },
    answer: () => ({ status: 204 }),
    waitFor(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (receiver.received.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(receiver.received.slice(0, count));
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the receiver got ${receiver.received.length} requests, not ${count}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: async () => {
      for (const response of hanging) response.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((request, response) => {
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    response.on('close', () => {
      open -= 1;
      hanging.delete(response);
    });
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified: unknown;
      try {
        verified = verify(secret, { headers: request.headers, body });
      } catch {
        verified = undefined;
      }
      receiver.received.push({ headers: request.headers, body, verified });
      for (const wake of [...waiters]) wake();
      const answer = receiver.answer(request, body);
      if (answer === 'hang') {
        hanging.add(response);
        return;
      }
      response.writeHead(answer.status, answer.headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/atelier`;
  return receiver;
}
