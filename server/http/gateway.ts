/**
 * What labs reach of the lab server: a Unix socket serving the forge and the S3 endpoint only
 * (never the API, the sockets or the site). The local driver forwards a port inside each lab's
 * own network namespace to it, so labs need no network of their own.
 */
import { createServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { TLSSocket, createSecureContext } from 'node:tls';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LearnerPlatform } from '../learners/platform.ts';
import type { GatewayCertificate } from './gateway-tls.ts';

/** A TLS record starts with its content type; 22 is a handshake (a ClientHello, first). */
const tlsHandshake = 0x16;

/**
 * The connection as a stream that first gives back the bytes already read. TLSSocket reads a
 * net.Socket's handle directly, past anything put back with unshift(): it needs a plain stream.
 */
function replaying(socket: Socket, head: Buffer): Duplex {
  const stream = new Duplex({
    read: () => void socket.resume(),
    write: (chunk, encoding, done) => void socket.write(chunk, encoding, done),
    final: (done) => {
      socket.end();
      done();
    },
    destroy: (error, done) => {
      socket.destroy(error ?? undefined);
      done(error);
    },
  });
  stream.push(head);
  socket.on('data', (chunk) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (error) => stream.destroy(error));
  socket.on('close', () => stream.destroy());
  return stream;
}

export async function listenGateway(
  socketPath: string,
  platform: Pick<LearnerPlatform, 'dispatch'>,
  tls?: GatewayCertificate,
  /**
   * Also on a TCP port, for labs that are not on this machine (pods): the forge and S3 only, as on
   * the socket, and at most `maxConnections` at once (a local lab's connections are bounded by its
   * own limits; a pod's reach the server over the network).
   */
  tcp?: { port: number; host: string; maxConnections: number },
): Promise<{ close(): Promise<void> }> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 });
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    if (platform.dispatch(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Only the forge (/git/) and S3 are reachable from a lab.\n');
  });
  const secureContext = tls ? createSecureContext({ key: tls.key, cert: tls.cert }) : undefined;
  // HTTP or HTTPS on the same port, told apart by the first byte the lab sends.
  const listener = createNetServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (head: Buffer) => {
      socket.pause();
      if (secureContext && head[0] === tlsHandshake) {
        const secure = new TLSSocket(replaying(socket, head), { isServer: true, secureContext });
        secure.on('error', () => secure.destroy());
        server.emit('connection', secure);
      } else {
        socket.unshift(head);
        server.emit('connection', socket);
        socket.resume();
      }
    });
  });
  await new Promise<void>((resolve, reject) => listener.once('error', reject).listen(socketPath, resolve));
  // Lab users (unprivileged uids) must be able to connect; the socket reaches nothing else.
  chmodSync(socketPath, 0o666);
  let network: NetServer | undefined;
  if (tcp) {
    const tcpListener = createNetServer((socket) => listener.emit('connection', socket));
    tcpListener.maxConnections = tcp.maxConnections;
    await new Promise<void>((resolve, reject) => tcpListener.once('error', reject).listen(tcp.port, tcp.host, resolve));
    network = tcpListener;
  }
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        network?.close();
        listener.close(() => resolve());
        rmSync(socketPath, { force: true });
      }),
  };
}
