import { ProtocolError } from '../protocol/errors.js';

/** What a publish resolves with: the number of deliveries the broker made. Frozen. */
export interface PublishResult {
  readonly receivers: number;
}

/** Results for small receiver counts are shared (frozen): no object per acknowledged publish. */
const SHARED_RESULTS: readonly PublishResult[] = Array.from({ length: 64 }, (_, receivers) =>
  Object.freeze({ receivers }),
);

function publishResult(receivers: number): PublishResult {
  return SHARED_RESULTS[receivers] ?? Object.freeze({ receivers });
}

export type PublishResolve = (result: PublishResult) => void;
/** Node-style completion of a publish: the error, or null and the result. */
export type PublishCallback = (error: Error | null, result?: PublishResult) => void;
export type CommandResolve = (result: number) => void;
export type Reject = (error: Error) => void;

type Settle = PublishResolve | CommandResolve | PublishCallback;

const PUBLISH = 0;
const COMMAND = 1;
/** A publish settled through one PublishCallback (no promise), stored as resolve and reject. */
const PUBLISH_CALLBACK = 2;
const INITIAL_CAPACITY = 1024;

/**
 * Commands waiting for their answer, oldest first. The broker answers by position (an OK settles
 * the oldest n, an ERR the oldest one), so a FIFO is all the matching there is. A growable ring
 * buffer in three parallel arrays: no object per entry and no Array.shift.
 */
export class AckQueue {
  private kinds = new Uint8Array(INITIAL_CAPACITY);
  private resolves: Array<Settle | undefined> = new Array(INITIAL_CAPACITY);
  private rejects: Array<Reject | undefined> = new Array(INITIAL_CAPACITY);
  private mask = INITIAL_CAPACITY - 1;
  private head = 0;
  private count = 0;
  private publishCount = 0;

  /** Commands waiting for an answer. */
  get size(): number {
    return this.count;
  }

  /** Publishes among them (drain waits for these). */
  get pendingPublishes(): number {
    return this.publishCount;
  }

  pushPublish(resolve: PublishResolve, reject: Reject): void {
    this.push(PUBLISH, resolve, reject);
    this.publishCount++;
  }

  /** A publish whose callback is called with (null, result) or (error). */
  pushPublishCallback(callback: PublishCallback): void {
    this.push(PUBLISH_CALLBACK, callback, callback);
    this.publishCount++;
  }

  pushCommand(resolve: CommandResolve, reject: Reject): void {
    this.push(COMMAND, resolve, reject);
  }

  /**
   * Settles the oldest `count` commands with the results of one OK frame, read in place: `count`
   * u32be values from `buf[resultsStart]` (the decoder has checked that they are all there), so an
   * OK answering thousands of publishes costs no array.
   */
  settleOk(buf: Buffer, resultsStart: number, count: number): void {
    if (count > this.count) {
      throw new ProtocolError(`OK for ${count} commands but only ${this.count} are waiting`);
    }
    for (let i = 0, offset = resultsStart; i < count; i++, offset += 4) {
      // By hand: Buffer#readUInt32BE's argument checks cost a third more per publish here.
      const result =
        buf[offset]! * 0x1000000 +
        ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!);
      const at = this.head;
      const kind = this.kinds[at];
      const resolve = this.resolves[at]!;
      this.resolves[at] = undefined;
      this.rejects[at] = undefined;
      this.head = (at + 1) & this.mask;
      this.count--;
      if (kind === PUBLISH) {
        this.publishCount--;
        (resolve as PublishResolve)(publishResult(result));
      } else if (kind === PUBLISH_CALLBACK) {
        this.publishCount--;
        callPublishCallback(resolve as PublishCallback, publishResult(result));
      } else {
        (resolve as CommandResolve)(result);
      }
    }
  }

  /** Fails the oldest command (one non-fatal ERR frame). */
  settleError(error: Error): void {
    if (this.count === 0) throw new ProtocolError(`ERR with no command waiting: ${error.message}`);
    this.shift()(error);
  }

  /** Fails every waiting command, oldest first (the connection is gone). */
  rejectAll(error: Error): void {
    while (this.count > 0) this.shift()(error);
  }

  private shift(): Reject {
    const at = this.head;
    const reject = this.rejects[at]!;
    const kind = this.kinds[at];
    if (kind !== COMMAND) this.publishCount--;
    this.resolves[at] = undefined;
    this.rejects[at] = undefined;
    this.head = (at + 1) & this.mask;
    this.count--;
    return kind === PUBLISH_CALLBACK ? (error) => failPublishCallback(reject, error) : reject;
  }

  private push(kind: number, resolve: Settle, reject: Reject): void {
    if (this.count > this.mask) this.grow();
    const at = (this.head + this.count) & this.mask;
    this.kinds[at] = kind;
    this.resolves[at] = resolve;
    this.rejects[at] = reject;
    this.count++;
  }

  /** Doubles the ring, unrolling it so the oldest entry lands at index 0. */
  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const kinds = new Uint8Array(capacity);
    const resolves: Array<Settle | undefined> = new Array(capacity);
    const rejects: Array<Reject | undefined> = new Array(capacity);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) & this.mask;
      kinds[i] = this.kinds[from]!;
      resolves[i] = this.resolves[from];
      rejects[i] = this.rejects[from];
    }
    this.kinds = kinds;
    this.resolves = resolves;
    this.rejects = rejects;
    this.mask = capacity - 1;
    this.head = 0;
  }
}

/**
 * Calls a user's publish callback with its result, from inside the decoder. What it throws must
 * not fail the connection or skip the callbacks after it, so it is rethrown on its own tick, where
 * it surfaces as an uncaught exception, as a throwing callback does anywhere else in Node.
 */
export function callPublishCallback(callback: PublishCallback, result: PublishResult): void {
  try {
    callback(null, result);
  } catch (thrown) {
    rethrowLater(thrown);
  }
}

/** Calls a user's publish callback with its error; a throw is handled as in callPublishCallback. */
export function failPublishCallback(callback: PublishCallback | Reject, error: Error): void {
  try {
    callback(error);
  } catch (thrown) {
    rethrowLater(thrown);
  }
}

function rethrowLater(thrown: unknown): void {
  process.nextTick(() => {
    throw thrown;
  });
}
