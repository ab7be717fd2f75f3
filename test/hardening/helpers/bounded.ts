// Bounded waiting for the hardening tests: nothing here can wait forever.

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with a message naming `what` when `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every `everyMs` until it holds; rejects after `ms`. */
export async function waitFor(
  condition: () => boolean,
  ms: number,
  what: string,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Runs `work` over `items` with at most `concurrency` in flight. The first failure stops new
 * items from starting and is rethrown once the ones in flight have finished.
 */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  let done = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        await work(items[index]!, index);
        done++;
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure !== undefined) throw failure;
  return done;
}

/**
 * Like runPool, for items produced on demand: `next()` returns the next item, or undefined when
 * there are no more. Returns how many items were worked through.
 */
export async function drainPool<T>(
  next: () => T | undefined,
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<number> {
  let done = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    for (let item = next(); item !== undefined && failure === undefined; item = next()) {
      try {
        await work(item);
        done++;
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure !== undefined) throw failure;
  return done;
}

/** How a set of promises stood when the bound ran out. */
export interface Settled {
  fulfilled: number;
  rejected: number;
  /** Still pending after the bound: these would have hung. */
  pending: number;
  /** Rejection reasons, by error `code` (or name) and count. */
  reasons: Record<string, number>;
}

/** Waits up to `ms` for every promise to settle and counts how each ended. */
export async function settleWithin(
  promises: readonly Promise<unknown>[],
  ms: number,
): Promise<Settled> {
  const result: Settled = { fulfilled: 0, rejected: 0, pending: 0, reasons: {} };
  const states = promises.map((p) =>
    p.then(
      () => {
        result.fulfilled++;
      },
      (error: unknown) => {
        result.rejected++;
        const key =
          (error as { code?: unknown })?.code !== undefined
            ? String((error as { code: unknown }).code)
            : ((error as Error)?.name ?? 'unknown');
        result.reasons[key] = (result.reasons[key] ?? 0) + 1;
      },
    ),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(states),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
  result.pending = promises.length - result.fulfilled - result.rejected;
  return result;
}
