// Load made with the real HypsClient for the fault tests: a publish loop that keeps every publish
// promise it made (so none can hang unnoticed), and a subscriber that records what it received.
import type { Subscription } from 'rxjs';
import type { HypsClient } from '../../../libs/hyps-transport/src/index.js';
import { settleWithin, sleep, type Settled } from './bounded.js';

/** Publishes "1", "2", ... to one channel, a few per tick, until stopped. */
export class PublishLoop {
  readonly promises: Promise<unknown>[] = [];
  /** Sequence numbers whose publish the broker acknowledged. */
  readonly acked: number[] = [];
  /** Sum of the acknowledged publishes' receiver counts: deliveries the broker says it made. */
  deliveries = 0;
  published = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly client: HypsClient,
    readonly channel: string,
    options: { perTick?: number; everyMs?: number; max?: number } = {},
  ) {
    this.done = this.run(options.perTick ?? 5, options.everyMs ?? 2, options.max ?? 100_000);
  }

  /** Stops publishing; resolves once the loop has ended (its publishes may still be pending). */
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** Waits up to `ms` for every publish made to settle, and counts how they ended. */
  settle(ms: number): Promise<Settled> {
    return settleWithin(this.promises, ms);
  }

  private async run(perTick: number, everyMs: number, max: number): Promise<void> {
    while (this.running && this.published < max) {
      for (let i = 0; i < perTick; i++) {
        const seq = ++this.published;
        const publish = this.client.publish(this.channel, String(seq));
        publish.then(
          ({ receivers }) => {
            this.acked.push(seq);
            this.deliveries += receivers;
          },
          () => undefined, // counted by settle()
        );
        this.promises.push(publish);
      }
      await sleep(everyMs);
    }
  }
}

/** Records every message a HypsClient subscription delivers, by channel. */
export class Received {
  readonly byChannel = new Map<string, number[]>();
  total = 0;
  duplicates = 0;
  errors: Error[] = [];
  private readonly seen = new Set<string>();
  private subscription: Subscription | undefined;

  /** Subscribes to `pattern` and waits until the broker acknowledged the SUB. */
  static async on(client: HypsClient, pattern: string): Promise<Received> {
    const received = new Received();
    const messages = client.subscribe(pattern);
    received.subscription = messages.subscribe({
      next: (message) => received.add(message.channel, message.text()),
      error: (error: Error) => received.errors.push(error),
    });
    await messages.ready;
    return received;
  }

  add(channel: string, text: string): void {
    const key = `${channel} ${text}`;
    if (this.seen.has(key)) this.duplicates++;
    this.seen.add(key);
    this.total++;
    let list = this.byChannel.get(channel);
    if (!list) this.byChannel.set(channel, (list = []));
    list.push(Number(text));
  }

  has(channel: string, seq: number): boolean {
    return this.seen.has(`${channel} ${seq}`);
  }

  unsubscribe(): void {
    this.subscription?.unsubscribe();
  }
}
