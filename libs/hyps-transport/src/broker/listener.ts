import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { BrokerOptions } from './options.js';

/**
 * The broker's listening socket: plain TCP, or TLS. A TLS peer is handed to `accept` only after
 * its handshake, so the handshake gets its own bounds: it must finish within helloTimeoutMs, and
 * at most maxConnections sockets may be handshaking at once (more are dropped unanswered, since
 * no ERR can be sent before TLS is up). Without these a peer that never starts its handshake
 * would hold a socket for Node's default two minutes.
 */
export function createListener(
  options: BrokerOptions,
  accept: (socket: Socket) => void,
  openConnections: () => number,
): Server {
  const { tls } = options;
  if (!tls) return createServer({ noDelay: true }, accept);
  const server = createTlsServer(
    {
      cert: tls.cert,
      key: tls.key,
      ca: tls.ca,
      requestCert: tls.ca !== undefined,
      rejectUnauthorized: tls.ca !== undefined,
      handshakeTimeout: options.helloTimeoutMs,
    },
    accept,
  );
  // Raw sockets open minus connections past their handshake = sockets still handshaking.
  let rawOpen = 0;
  server.on('connection', (socket: Socket) => {
    if (rawOpen - openConnections() >= options.maxConnections) {
      socket.destroy();
      return;
    }
    rawOpen++;
    socket.once('close', () => rawOpen--);
  });
  // A failed or timed-out handshake is that peer's problem only.
  server.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
  return server;
}
