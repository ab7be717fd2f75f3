import { BaseRpcContext } from '@nestjs/microservices';
import type { PacketMetadata } from '@nestjs/microservices';
import type { HypsMessage } from '../client/index.js';

/** Arguments of a HypsContext: what arrived, and which handler pattern it matched. */
export type HypsContextArgs = [
  channel: string,
  pattern: string,
  metadata: PacketMetadata | undefined,
  message: HypsMessage,
];

/** The `@Ctx()` of handlers served by ServerHyps. */
export class HypsContext extends BaseRpcContext<HypsContextArgs> {
  constructor(args: HypsContextArgs) {
    super(args);
  }

  /** The channel the record was published on, e.g. `orders.eu`. */
  getChannel(): string {
    return this.args[0];
  }

  /** The handler pattern that matched, e.g. `orders.*`. */
  getPattern(): string {
    return this.args[1];
  }

  /** Out-of-band values set by the sender (ClientProxy#setOnDispatchHook), if any. */
  getMetadata(): PacketMetadata | undefined {
    return this.args[2];
  }

  /** Same as getMetadata(), under the name Nest's NATS context uses. */
  getHeaders(): PacketMetadata | undefined {
    return this.args[2];
  }

  /** The group that chose this instance, or undefined for a broadcast delivery. */
  getGroup(): string | undefined {
    return this.args[3].group;
  }

  /** The raw Hyps message (bytes as received). */
  getMessage(): HypsMessage {
    return this.args[3];
  }
}
