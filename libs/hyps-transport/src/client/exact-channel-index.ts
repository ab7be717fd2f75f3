import { BytesMap, type BytesEntry } from '../protocol/bytes-map.js';

/** The subscribers of one exact channel: a set to change, an array snapshot to deliver from. */
interface ChannelSubscribers<T> {
  readonly members: Set<T>;
  /** Rebuilt on the first delivery after a change; a loop over the old one is unaffected. */
  snapshot: readonly T[] | null;
}

/** An exact channel's entry: its name (`key`) and its subscribers. */
export type ExactChannel<T> = BytesEntry<ChannelSubscribers<T>>;

/**
 * The local subscribers of exact channels, found by the channel bytes of a delivery: no string
 * is made for the lookup, and the message is named with the subscription's own string. Adding
 * and removing are O(1) (a thousand SSE clients leaving one channel cost no quadratic copying);
 * deliveries iterate a plain array.
 */
export class ExactChannelIndex<T> {
  private readonly channels = new BytesMap<ChannelSubscribers<T>>('utf8');

  get size(): number {
    return this.channels.size;
  }

  /** The channel whose name is the UTF-8 in `buf[start..end)`, if it has subscribers. */
  lookup(buf: Buffer, start: number, end: number): ExactChannel<T> | undefined {
    return this.channels.lookup(buf, start, end);
  }

  /** The channel's subscribers in subscription order, as an array that is never mutated. */
  subscribersOf(channel: ExactChannel<T>): readonly T[] {
    const subscribers = channel.value;
    return (subscribers.snapshot ??= [...subscribers.members]);
  }

  add(name: string, item: T): void {
    const entry =
      this.channels.get(name) ?? this.channels.set(name, { members: new Set(), snapshot: null });
    entry.value.members.add(item);
    entry.value.snapshot = null;
  }

  /** Removes `item` from `name`; the channel goes when its last item does. */
  remove(name: string, item: T): void {
    const entry = this.channels.get(name);
    if (!entry || !entry.value.members.delete(item)) return;
    entry.value.snapshot = null;
    if (entry.value.members.size === 0) this.channels.delete(name);
  }
}
