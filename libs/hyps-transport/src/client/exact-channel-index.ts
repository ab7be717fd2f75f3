import { BytesMap } from '../protocol/bytes-map.js';
import {
  hasMember,
  memberArray,
  soleMember,
  withMember,
  withoutMember,
  type Members,
} from '../protocol/members.js';

/**
 * The local subscribers of exact channels, found by the channel bytes of a delivery: no string
 * is made for the lookup, and the message is named with the subscription's own string. Adding
 * and removing are O(1) (a thousand SSE clients leaving one channel cost no quadratic copying);
 * deliveries iterate a plain array.
 *
 * A channel is an id of the map; its subscriber set is the map's value, and what a delivery
 * needs (its name, its sole subscriber or its snapshot) sits in arrays indexed by the same id, so
 * a delivery touches no per-channel object but the subscribers themselves: with thousands of
 * channels, each object touched is a likely cache miss.
 */
export class ExactChannelIndex<T, D = T> {
  /** Channel name -> its subscribers, to change. */
  private readonly channels = new BytesMap<Members<T>>('utf8');
  /**
   * Per channel id: its subscribers as an array to deliver from, rebuilt on the first delivery
   * after a change (null until then); a loop over the old one is unaffected.
   */
  private readonly snapshots: (readonly T[] | null)[] = [];
  /** Per channel id: the delivery targets of that snapshot's subscribers, in the same order. */
  private readonly targetSnapshots: (readonly D[] | null)[] = [];
  /** Counts every add and remove, so a loop over a snapshot can tell that the set changed. */
  private changes = 0;
  /**
   * Per channel id, side by side so that a delivery reads one cache line for both: at 2 * id its
   * name, at 2 * id + 1 the delivery target of its subscriber when it has exactly one (one
   * channel per user is the common shape; such a delivery reads no snapshot array), else
   * undefined.
   */
  private readonly hot: (string | D | undefined)[] = [];

  /**
   * `deliveryTargetOf` gives what a sole subscriber's deliveries go to (the subscriber itself by
   * default): the router keeps its subscribers' targets there, one object fewer per delivery.
   */
  constructor(private readonly deliveryTargetOf: (item: T) => D = (item) => item as unknown as D) {}

  get size(): number {
    return this.channels.size;
  }

  /** The id of the channel named by the UTF-8 in `buf[start..end)`; -1 if it has no subscribers. */
  lookup(buf: Buffer, start: number, end: number): number {
    return this.channels.find(buf, start, end);
  }

  /** The name of channel `id`, as its subscriptions spelled it. */
  nameOf(id: number): string {
    return this.hot[2 * id] as string;
  }

  /** The delivery target of the channel's only subscriber, or undefined when it has several. */
  soleTargetOf(id: number): D | undefined {
    return this.hot[2 * id + 1] as D | undefined;
  }

  /** Changes so far (adds and removes, of any channel). */
  get version(): number {
    return this.changes;
  }

  /** The channel's subscribers in subscription order, as an array that is never mutated. */
  subscribersOf(id: number): readonly T[] {
    return (this.snapshots[id] ??= memberArray(this.channels.valueOf(id)));
  }

  /** The delivery targets of subscribersOf(id), index for index; never mutated either. */
  targetsOf(id: number): readonly D[] {
    return (this.targetSnapshots[id] ??= this.subscribersOf(id).map(this.deliveryTargetOf));
  }

  add(name: string, item: T): void {
    let id = this.channels.idOf(name);
    if (id < 0) {
      id = this.channels.set(name, item);
      this.hot[2 * id] = name;
    } else {
      this.channels.setValue(id, withMember(this.channels.valueOf(id), item));
    }
    this.changed(id, this.channels.valueOf(id));
  }

  /** Removes `item` from `name`; the channel goes when its last item does. */
  remove(name: string, item: T): void {
    const id = this.channels.idOf(name);
    if (id < 0) return;
    const members = this.channels.valueOf(id);
    if (!hasMember(members, item)) return;
    const left = withoutMember(members, item);
    // Also when the channel goes: its id may be reused, and nothing of it may outlive it.
    this.changed(id, left);
    if (left === undefined) this.channels.delete(name);
    else this.channels.setValue(id, left);
  }

  /** After channel `id`'s members became `members`: drops its snapshots, sets its sole target. */
  private changed(id: number, members: Members<T> | undefined): void {
    this.changes++;
    this.snapshots[id] = null;
    this.targetSnapshots[id] = null;
    const sole = soleMember(members);
    this.hot[2 * id + 1] = sole === undefined ? undefined : this.deliveryTargetOf(sole);
  }
}
