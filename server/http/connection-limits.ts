/**
 * Limits of the one HTTP server against slow and greedy clients, at the socket level (before
 * any parsing): a time limit on request headers (slowloris), an idle limit instead of a total
 * one (a push or an upload of a large file may take long, but never goes silent), a cap on open
 * connections per client address (per /64 for IPv6) and in all, below the process's file
 * descriptor limit so that labs, files and git keep the descriptors they need.
 */
import { readFileSync } from 'node:fs';
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { clientKey } from './client-address.ts';

export interface ConnectionLimits {
  /** Open connections of one client address; not applied behind a trusted proxy (one address for all). */
  perClient: number;
  /** Open connections in all. */
  total: number;
  /** Milliseconds to send a request's headers. */
  headersTimeout: number;
  /** Milliseconds a connection may stay silent (no byte either way). */
  idleTimeout: number;
  trustProxy: boolean;
}

/** Descriptors kept for everything but client connections: labs, object files, SQLite, git pipes. */
const reservedDescriptors = 1024;

/**
 * The soft limit on open files (Node raises it to the hard limit as it starts, so this is the
 * hard limit unless the hard limit itself is lower); undefined where /proc does not say.
 */
export function openFileLimit(limits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(limits, 'utf8').split('\n').find((row) => row.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/** The global cap: as configured, else three quarters of the descriptors, keeping at least `reservedDescriptors`. */
export function totalConnections(configured: number | undefined, fdLimit: number | undefined): number {
  if (configured !== undefined) return configured;
  if (fdLimit === undefined) return 10_000;
  return Math.max(256, Math.min(Math.floor(fdLimit * 0.75), fdLimit - reservedDescriptors));
}

/** Options of node:http's createServer for these limits (some can only be given there). */
export function serverOptions(limits: ConnectionLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeout,
    // No limit on a whole request: bodies of pushes and uploads are long by right; the idle
    // timeout (below) and the forge's and S3's own limits bound them instead.
    requestTimeout: 0,
    keepAliveTimeout: 5_000,
    // How often expired headers are looked for: a slowloris is cut within a second of its limit.
    connectionsCheckingInterval: 1_000,
  };
}

/** Applies the limits that are set on a created server: idle timeout, caps per client and in all. */
export function limitConnections(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.total;
  server.setTimeout(limits.idleTimeout, (socket: Socket) => socket.destroy());
  if (limits.trustProxy) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const key = clientKey(socket.remoteAddress);
    const count = (open.get(key) ?? 0) + 1;
    if (count > limits.perClient) {
      socket.destroy();
      return;
    }
    open.set(key, count);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left === 0) open.delete(key);
      else open.set(key, left);
    });
  });
}
