import { BytesMap, type BytesEntry } from '../protocol/bytes-map.js';

/** An exact channel's entry: its name, and its subscribers in subscription order. */
export type ExactChannel<T> = BytesEntry<readonly T[]>;

/**
 * The local subscribers of exact channels, found by the channel bytes of a delivery: no string
 * is made for the lookup, and the message is named with the subscription's own string. Each
 * channel's list is replaced, never mutated, so a delivery loop in progress is unaffected.
 */
export class ExactChannelIndex<T> {
  private readonly channels = new BytesMap<readonly T[]>('utf8');

  get size(): number {
    return this.channels.size;
  }

  /** The channel whose name is the UTF-8 in `buf[start..end)`, if it has subscribers. */
  lookup(buf: Buffer, start: number, end: number): ExactChannel<T> | undefined {
    return this.channels.lookup(buf, start, end);
  }

  add(name: string, item: T): void {
    const entry = this.channels.get(name);
    this.channels.set(name, entry ? [...entry.value, item] : [item]);
  }

  /** Removes `item` from `name`; the channel goes when its last item does. */
  remove(name: string, item: T): void {
    const entry = this.channels.get(name);
    const index = entry?.value.indexOf(item) ?? -1;
    if (!entry || index === -1) return;
    if (entry.value.length === 1) this.channels.delete(name);
    else entry.value = entry.value.filter((_, i) => i !== index);
  }
}
