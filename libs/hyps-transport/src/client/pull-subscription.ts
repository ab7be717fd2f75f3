import type { HypsMessage, ReceivedMessage } from './message.js';
import type { Attachment } from './message-observable.js';

/** Yielded by the pull API when idleTimeoutMs passes without a message. */
export const IDLE: unique symbol = Symbol('hyps.idle');

/** Default bound on the bytes a pull subscription buffers for a consumer that is not reading. */
export const DEFAULT_PULL_BUFFER_BYTES = 64 * 1024;

export interface HypsPullOptions {
  group?: string;
  /** Bytes of messages buffered while the consumer is not reading; more are dropped (counted). */
  maxBufferedBytes?: number;
  /** Yield IDLE when a waiting consumer got no message for this long. Unset: never. */
  idleTimeoutMs?: number;
}

/** Messages as an async iterable, for consumers that pull (`for await`). */
export interface HypsPullSubscription extends AsyncIterable<HypsMessage | typeof IDLE> {
  /** Resolves once the broker acknowledged every SUB; rejects with the typed error otherwise. */
  readonly ready: Promise<void>;
  /** Messages dropped locally because the buffer was full. */
  readonly dropped: number;
  /** Unsubscribes (UNSUB when it was the last local user) and ends the iteration. */
  close(): Promise<void>;
}

type Item = HypsMessage | typeof IDLE;

interface Waiter {
  resolve(result: IteratorResult<Item>): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | null;
}

/**
 * The pull side of a subscription: a bounded byte buffer between the socket and a consumer that
 * reads at its own pace. A message arriving when the buffer is full is dropped and counted, never
 * waited for, so a slow consumer only loses its own messages. Buffered messages are copied so they
 * do not pin whole socket chunks.
 */
export class PullSubscription implements HypsPullSubscription, AsyncIterator<Item> {
  readonly ready: Promise<void>;
  private readonly queue: ReceivedMessage[] = [];
  private head = 0;
  private bufferedBytes = 0;
  private droppedCount = 0;
  private readonly waiters: Waiter[] = [];
  private finished = false;
  private failure: Error | undefined;
  private readonly attachment: Attachment;
  private readonly maxBufferedBytes: number;
  private readonly idleTimeoutMs: number | undefined;

  constructor(options: HypsPullOptions, attach: (subscription: PullSubscription) => Attachment) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_PULL_BUFFER_BYTES;
    this.idleTimeoutMs = options.idleTimeoutMs;
    const attachment = attach(this);
    this.ready = attachment.ready;
    this.ready.catch(() => undefined);
    this.attachment = attachment;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  /** A message for this consumer (from the client's router). */
  push(message: ReceivedMessage): void {
    if (this.finished) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      settle(waiter).resolve({ value: message, done: false });
      return;
    }
    const size = message.channel.length + message.byteLength;
    // One message always fits an empty buffer, so a large message is not dropped forever.
    if (this.bufferedBytes > 0 && this.bufferedBytes + size > this.maxBufferedBytes) {
      this.droppedCount++;
      return;
    }
    this.bufferedBytes += size;
    this.queue.push(message.detached());
  }

  /** Ends the iteration: after the buffered messages, with `error` thrown, or plainly. */
  end(error: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    const waiters = this.waiters.splice(0);
    // The error is thrown once: to the consumer waiting now, or at its next read.
    if (error && waiters.length > 0) settle(waiters.shift()!).reject(error);
    else this.failure = error;
    for (const waiter of waiters) settle(waiter).resolve({ value: undefined, done: true });
  }

  async close(): Promise<void> {
    this.clearQueue();
    this.end(undefined);
    this.attachment.detach();
  }

  next(): Promise<IteratorResult<Item>> {
    if (this.head < this.queue.length) {
      const message = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as ReceivedMessage;
      this.bufferedBytes -= message.channel.length + message.byteLength;
      if (this.head === this.queue.length) this.clearQueue();
      else if (this.head >= 1024 && this.head * 2 >= this.queue.length) this.compact();
      return Promise.resolve({ value: message, done: false });
    }
    if (this.finished) {
      const error = this.failure;
      this.failure = undefined;
      if (error) return Promise.reject(error);
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: null };
      if (this.idleTimeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index !== -1) this.waiters.splice(index, 1);
          waiter.timer = null;
          resolve({ value: IDLE, done: false });
        }, this.idleTimeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  /** `break` out of `for await`: unsubscribe. */
  async return(): Promise<IteratorResult<Item>> {
    await this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterator<Item> {
    return this;
  }

  private compact(): void {
    this.queue.splice(0, this.head);
    this.head = 0;
  }

  private clearQueue(): void {
    this.queue.length = 0;
    this.head = 0;
    this.bufferedBytes = 0;
  }
}

function settle(waiter: Waiter): Waiter {
  if (waiter.timer) clearTimeout(waiter.timer);
  waiter.timer = null;
  return waiter;
}
