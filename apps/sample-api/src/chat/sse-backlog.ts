// How far behind one browser's SSE stream is, so the drop gate can drop instead of queueing.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { tap } from 'rxjs';
import type { MonoTypeOperatorFunction } from 'rxjs';

/**
 * Events handed to Nest and not yet formatted by its SSE stream, above which a browser counts as
 * behind. Nest queues what it cannot write yet without limit (up to maxPendingDataLength, then
 * it drops the connection); a room burst larger than this is cut short for this browser, with a
 * `dropped` marker, instead.
 */
export const MAX_QUEUED_SSE_EVENTS = 64;

/**
 * Nest pipes its SSE stream (a Transform that formats one event per chunk) into the response.
 * The response's `pipe` event hands us that stream: each chunk it emits is one event leaving
 * Nest's queue. Together with the stream's and the socket's own backpressure flags, that tells
 * whether events for this browser are piling up.
 */
export class SseBacklog {
  private queued = 0;
  private stream: (Readable & { writableNeedDrain?: boolean }) | undefined;

  constructor(
    private readonly response: ServerResponse,
    private readonly maxQueued = MAX_QUEUED_SSE_EVENTS,
  ) {
    response.once('pipe', (source: Readable) => {
      this.stream = source;
      source.on('data', () => {
        if (this.queued > 0) this.queued--;
      });
    });
  }

  /** Counts every event of the stream handed to Nest (apply last, to the whole stream). */
  count<T>(): MonoTypeOperatorFunction<T> {
    return tap(() => this.queued++);
  }

  readonly isBehind = (): boolean =>
    this.queued >= this.maxQueued ||
    this.stream?.writableNeedDrain === true ||
    this.response.socket?.writableNeedDrain === true;
}
