// Loopback networking helpers for benchmarks.
import { connect, createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Opens a TCP connection with Nagle off; rejects after `timeoutMs`. */
export function openSocket(port, { host = LOOPBACK, timeoutMs = 2_000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Retries a TCP connect until it succeeds or `timeoutMs` passes. */
export async function waitForTcp(port, { host = LOOPBACK, timeoutMs = 5_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const socket = await openSocket(port, { host, timeoutMs: 500 });
      socket.destroy();
      return;
    } catch (error) {
      if (Date.now() >= deadline) {
        throw new Error(`${host}:${port} not accepting connections after ${timeoutMs} ms`, {
          cause: error,
        });
      }
      await sleep(25);
    }
  }
}

/** Polls `predicate` every `everyMs` until it is true; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(
  predicate,
  { timeoutMs = 3_000, everyMs = 2, what = 'condition' } = {},
) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
