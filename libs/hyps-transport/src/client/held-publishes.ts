import type { PublishResolve, Reject } from './ack-queue.js';
import { PendingQueueFullError, PublishTimeoutError } from './client-errors.js';

interface HeldPublish {
  channel: Buffer;
  data: string | Uint8Array;
  resolve: PublishResolve;
  reject: Reject;
  deadline: number;
}

/**
 * Publishes made while there is no connection, waiting (bounded in count and time) to be sent as
 * soon as one is ready. Entries are in arrival order, so deadlines are too: one timer, set for the
 * oldest entry, is enough.
 */
export class HeldPublishes {
  private items: Array<HeldPublish | undefined> = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly limit: number,
    private readonly timeoutMs: number,
    /** Called whenever entries leave the queue (drain bookkeeping). */
    private readonly onRemoved: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.items.length - this.head;
  }

  /** Holds a publish; rejects it at once with PendingQueueFullError when the queue is full. */
  add(channel: Buffer, data: string | Uint8Array, resolve: PublishResolve, reject: Reject): void {
    if (this.size >= this.limit) {
      // On a later tick, like every other way a publish settles.
      process.nextTick(reject, new PendingQueueFullError(this.limit));
      return;
    }
    this.items.push({ channel, data, resolve, reject, deadline: this.now() + this.timeoutMs });
    if (!this.timer) this.arm();
  }

  /** Hands every held publish, oldest first, to `send`, and empties the queue. */
  release(send: (held: HeldPublish) => void): void {
    const items = this.takeAll();
    for (const item of items) send(item);
    if (items.length > 0) this.onRemoved();
  }

  rejectAll(error: Error): void {
    const items = this.takeAll();
    for (const item of items) item.reject(error);
    if (items.length > 0) this.onRemoved();
  }

  private takeAll(): HeldPublish[] {
    const items = this.items.slice(this.head) as HeldPublish[];
    this.items = [];
    this.head = 0;
    this.disarm();
    return items;
  }

  private arm(): void {
    const oldest = this.items[this.head];
    if (!oldest) return;
    this.timer = setTimeout(() => this.expire(), Math.max(0, oldest.deadline - this.now()));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private expire(): void {
    this.timer = null;
    const now = this.now();
    let expired = 0;
    while (this.head < this.items.length && this.items[this.head]!.deadline <= now) {
      const item = this.items[this.head]!;
      this.items[this.head++] = undefined;
      expired++;
      item.reject(new PublishTimeoutError(this.timeoutMs));
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.arm();
    if (expired > 0) this.onRemoved();
  }
}
