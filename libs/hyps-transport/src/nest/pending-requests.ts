import type { WritePacket } from '@nestjs/microservices';

/** A request waiting for replies. */
export interface PendingRequest {
  readonly channel: string;
  readonly callback: (packet: WritePacket) => void;
  /** When it times out (Date.now() ms), unless a reply moves it on. */
  deadline: number;
}

/** Longest gap between two checks for timed-out requests. */
const MAX_SWEEP_MS = 250;

/**
 * ClientHyps's requests waiting for replies, by id, with their timeouts. One sweeper timer runs
 * while any request waits, instead of a timer per request (and a refresh per streamed reply): a
 * request times out between timeoutMs and timeoutMs plus an eighth of it (at most 250 ms) later.
 */
export class PendingRequests {
  private readonly requests = new Map<string, PendingRequest>();
  private sweeper: NodeJS.Timeout | null = null;
  private readonly sweepMs: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly onTimeout: (id: string, request: PendingRequest) => void,
  ) {
    this.sweepMs = Math.max(1, Math.min(MAX_SWEEP_MS, Math.ceil(timeoutMs / 8)));
  }

  get size(): number {
    return this.requests.size;
  }

  add(id: string, channel: string, callback: (packet: WritePacket) => void): void {
    this.requests.set(id, { channel, callback, deadline: Date.now() + this.timeoutMs });
    this.sweeper ??= setInterval(() => this.sweep(), this.sweepMs);
  }

  get(id: string): PendingRequest | undefined {
    return this.requests.get(id);
  }

  /** A reply came: the request gets a whole timeout again for the next one. */
  extend(request: PendingRequest): void {
    request.deadline = Date.now() + this.timeoutMs;
  }

  /** Removes and returns the request. */
  take(id: string): PendingRequest | undefined {
    const request = this.requests.get(id);
    if (request === undefined) return undefined;
    this.requests.delete(id);
    if (this.requests.size === 0) this.stopSweeper();
    return request;
  }

  /** Every waiting request, as a copy safe to settle one by one. */
  all(): Array<[string, PendingRequest]> {
    return [...this.requests];
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, request] of this.requests) {
      if (request.deadline <= now) this.onTimeout(id, request);
    }
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}
