/** Smallest slab the batcher writes frames into. */
const MIN_SLAB_BYTES = 16 * 1024;

/** After the first early write of a tick, the batch grows to at least this before the next. */
const LATER_FLUSH_BYTES = 64 * 1024;

/**
 * Coalesces every frame queued in one tick into a single socket write. Frames are encoded straight
 * into a slab buffer (no Buffer per frame); a flush hands the socket a slice of the slab and later
 * frames go after it, so written bytes are never touched again. The batch is written at the end
 * of the tick, or at the next frame once flushThresholdBytes are queued; while the socket is
 * applying backpressure the batch keeps growing and goes out as one write on 'drain'.
 */
export class WriteBatcher {
  private slab: Buffer;
  private start = 0;
  private end = 0;
  private scheduled = false;
  /** Whether a batch already went out early in this tick. */
  private flushedEarly = false;
  private blocked = false;
  private stopped = false;
  private readonly slabBytes: number;
  private readonly flushTask = (): void => {
    this.scheduled = false;
    this.flushedEarly = false;
    if (!this.blocked) this.flush();
  };

  constructor(
    /** Writes one chunk; false means the socket wants us to wait for 'drain'. */
    private readonly sink: (chunk: Buffer) => boolean,
    private readonly flushThresholdBytes: number,
  ) {
    this.slabBytes = Math.max(MIN_SLAB_BYTES, 4 * flushThresholdBytes);
    this.slab = Buffer.allocUnsafe(this.slabBytes);
  }

  /** The buffer that the offset returned by `reserve` points into. */
  get buffer(): Buffer {
    return this.slab;
  }

  /** Bytes queued and not yet handed to the socket. */
  get pendingBytes(): number {
    return this.end - this.start;
  }

  /**
   * Makes room for `bytes` more and returns where to write them in `buffer`. The caller must fill
   * exactly that range before yielding.
   */
  reserve(bytes: number): number {
    // The first early write of a tick lets the broker start on it while the rest is produced;
    // after that, larger batches keep the write count down.
    const pending = this.end - this.start;
    const limit = this.flushedEarly
      ? Math.max(this.flushThresholdBytes, LATER_FLUSH_BYTES)
      : this.flushThresholdBytes;
    if (pending >= limit && !this.blocked) {
      this.flushedEarly = true;
      this.flush();
    }
    if (this.slab.length - this.end < bytes) this.grow(bytes);
    const offset = this.end;
    this.end += bytes;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushTask);
    }
    return offset;
  }

  /** Takes back the reservation that `reserve` returned `offset` for (the last one made). */
  unreserve(offset: number): void {
    if (offset >= this.start && offset <= this.end) this.end = offset;
  }

  /** Queues an already encoded frame. */
  write(frame: Uint8Array): void {
    const offset = this.reserve(frame.length);
    this.slab.set(frame, offset);
  }

  /** Hands everything queued to the socket now. */
  flush(): void {
    if (this.stopped || this.end === this.start) return;
    const chunk = this.slab.subarray(this.start, this.end);
    this.start = this.end;
    if (!this.sink(chunk)) this.blocked = true;
  }

  /** The socket drained: write what piled up meanwhile. */
  onDrain(): void {
    this.blocked = false;
    this.flush();
  }

  /** Drops whatever is queued; later frames are ignored (the connection is gone). */
  stop(): void {
    this.stopped = true;
    this.start = this.end = 0;
  }

  /** A new slab big enough for the pending batch plus `bytes`, with the batch copied over. */
  private grow(bytes: number): void {
    const pending = this.end - this.start;
    const next = Buffer.allocUnsafe(Math.max(this.slabBytes, 2 * (pending + bytes)));
    this.slab.copy(next, 0, this.start, this.end);
    this.slab = next;
    this.start = 0;
    this.end = pending;
  }
}
