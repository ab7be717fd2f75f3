import type { HypsClient } from '../client/index.js';

/** Default bound on how long closing a transport waits for in-flight publishes to be acked. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2000;

/**
 * Drains `client` (pending publishes get their acks) but never for longer than `timeoutMs`: a
 * broker that went away must not hold an application's shutdown for the client's whole
 * pending-publish timeout. Whatever happens, the client ends closed and nothing rejects.
 */
export async function drainWithin(client: HypsClient, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([client.drain().catch(() => undefined), timedOut]);
  } finally {
    clearTimeout(timer);
    await client.close().catch(() => undefined);
  }
}

/** A shallow copy of `options` without the transport-only `keys` (HypsClient gets the rest). */
export function withoutKeys<T extends object, K extends keyof T>(
  options: T,
  keys: readonly K[],
): Omit<T, K> {
  const copy = { ...options };
  for (const key of keys) delete copy[key];
  return copy;
}
