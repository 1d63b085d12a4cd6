/**
 * A Server-Sent Events stream on a fastify reply, as the progress and class streams open it.
 * Bounded in time: a heartbeat (below the idle limit of connections, and proof the client is still
 * there) and an end after a maximum duration (EventSource reconnects by itself).
 */
import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';

export interface StreamTiming {
  heartbeatMs: number;
  maxDurationMs: number;
}

export const defaultStreamTiming: StreamTiming = { heartbeatMs: 25_000, maxDurationMs: 30 * 60_000 };

/** Opens the stream; `onClose` runs once when it ends, whichever side ends it. */
export function openEventStream(reply: FastifyReply, timing: StreamTiming, onClose: () => void): ServerResponse {
  // Written straight to the socket: no compression or buffering may hold an event back.
  reply.hijack();
  const response = reply.raw;
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    connection: 'keep-alive',
  });
  // Reconnect after 2 s when the stream ends (its time is up, or the server restarted).
  response.write('retry: 2000\n\n');
  const heartbeat = setInterval(() => response.write(': ping\n\n'), timing.heartbeatMs);
  const expiry = setTimeout(() => response.end(), timing.maxDurationMs);
  response.once('close', () => {
    clearInterval(heartbeat);
    clearTimeout(expiry);
    onClose();
  });
  return response;
}

export function sendEvent(response: ServerResponse, event: string, data: unknown): void {
  response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
