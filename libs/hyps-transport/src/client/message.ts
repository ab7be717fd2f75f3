import { bufferView } from './buffer-view.js';

/** One message received from the broker. */
export interface HypsMessage {
  readonly channel: string;
  /** The message bytes: a slice of the received data, not a copy. */
  readonly data: Uint8Array;
  /** Set for deliveries made on behalf of a group (GROUP_MSG). */
  readonly group?: string;
  /** `data` decoded as UTF-8. */
  text(): string;
  /** `data` parsed as JSON; throws SyntaxError when it is not JSON. */
  json<T = unknown>(): T;
}

/**
 * The client's HypsMessage: built once per delivery and shared by every local subscriber. It
 * keeps the range of the received chunk and makes the `data` slice only when asked for it, so
 * a subscriber that reads `text()` or `json()` costs no Buffer object.
 */
export class ReceivedMessage implements HypsMessage {
  private slice: Buffer | undefined;

  constructor(
    readonly channel: string,
    private readonly buf: Buffer,
    private readonly start: number,
    private readonly end: number,
    readonly group?: string,
  ) {}

  get data(): Buffer {
    return (this.slice ??= bufferView(this.buf, this.start, this.end));
  }

  /** Bytes of the message. */
  get byteLength(): number {
    return this.end - this.start;
  }

  text(): string {
    return this.buf.toString('utf8', this.start, this.end);
  }

  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /** The same message with its bytes copied, so it no longer pins the received chunk. */
  detached(): ReceivedMessage {
    const copy = Buffer.from(this.buf.subarray(this.start, this.end));
    return new ReceivedMessage(this.channel, copy, 0, copy.length, this.group);
  }
}
