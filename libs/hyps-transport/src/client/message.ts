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

/** The client's HypsMessage: built once per delivery and shared by every local subscriber. */
export class ReceivedMessage implements HypsMessage {
  constructor(
    readonly channel: string,
    readonly data: Buffer,
    readonly group?: string,
  ) {}

  text(): string {
    return this.data.toString('utf8');
  }

  json<T = unknown>(): T {
    return JSON.parse(this.data.toString('utf8')) as T;
  }

  /** The same message with its bytes copied, so it no longer pins the received chunk. */
  detached(): ReceivedMessage {
    return new ReceivedMessage(this.channel, Buffer.from(this.data), this.group);
  }
}
