import { memberArray, withMember, withoutMember, type Members } from '../protocol/members.js';
import { matchesPattern, tokenize, wildcardTokens } from '../protocol/pattern.js';
import { PatternTrie } from '../protocol/pattern-trie.js';
import { ChannelNameMemo } from './channel-name-memo.js';
import { ExactChannelIndex } from './exact-channel-index.js';
import { ReceivedMessage } from './message.js';
import { reportUnhandled } from './unhandled-error.js';

/**
 * One pattern of a local subscriber, parsed once. Only a wildcard keeps its tokens: an exact
 * channel (most subscriptions, one per user) would keep an array and a string per token for
 * nothing.
 */
type ParsedPattern =
  | { readonly pattern: string; readonly wildcard: false }
  | { readonly pattern: string; readonly wildcard: true; readonly tokens: readonly string[] };

function parsePattern(pattern: string): ParsedPattern {
  const tokens = wildcardTokens(pattern);
  return tokens === null ? { pattern, wildcard: false } : { pattern, wildcard: true, tokens };
}

/**
 * What a local subscriber hands its messages to. It must ignore messages once its consumer has
 * ended (an RxJS Subscriber, a DirectSubscriber and a pull subscription all do): a channel's sole
 * subscriber gets its deliveries straight into its target, without the LocalSubscriber's check.
 */
export interface MessageTarget {
  next(message: ReceivedMessage): void;
  /** The consumer ends with an error: a failed SUB, or the client gave up. */
  error(error: Error): void;
  /** The consumer ends without one: the client was closed. */
  complete(): void;
  /**
   * The application's handler behind this target (DirectSubscriber.callee), which the router
   * delivers to directly: always for a channel's sole subscriber, and for several while none
   * comes or goes. It does not check for an end, so its target must leave the router
   * synchronously when it ends.
   */
  readonly callee?: DeliveryTarget;
}

/**
 * Where the router hands a delivery without the LocalSubscriber: a target, or its callee (an
 * application's observer may drop its next method later; RxJS then skips it, and so does this).
 */
export type DeliveryTarget =
  { next?(message: ReceivedMessage): void } | ((message: ReceivedMessage) => void);

/** Delivers to a target or callee; a throwing application handler is reported, as RxJS would. */
function deliverTo(target: DeliveryTarget, message: ReceivedMessage): void {
  try {
    if (typeof target === 'function') target(message);
    else target.next?.(message);
  } catch (error) {
    reportUnhandled(error);
  }
}

/**
 * One local consumer (an Observable's observer, or a pull subscription): its patterns, its group,
 * and where its messages go.
 */
export class LocalSubscriber {
  readonly patterns: readonly ParsedPattern[];
  /** The broker subscriptions this subscriber holds a reference on (set by the router). */
  entries: SubEntry[] = [];
  /** Last delivery stamp, so a record matching several of its patterns reaches it once. */
  stamp = 0;
  private ended = false;

  constructor(
    patterns: readonly string[],
    readonly group: string | undefined,
    /** Where its messages and its end go: an RxJS subscriber, or a pull subscription's buffer. */
    readonly target: MessageTarget,
  ) {
    this.patterns = [...new Set(patterns)].map(parsePattern);
  }

  deliver(message: ReceivedMessage): void {
    if (!this.ended) this.target.next(message);
  }

  /** Ends the consumer: with an error (a failed SUB, the client gave up) or completed (close). */
  end(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    if (error) this.target.error(error);
    else this.target.complete();
  }

  /** True when one of its patterns matches the channel (`tokens` computed on first need). */
  matches(channel: string, tokens: { value?: string[] }): boolean {
    for (const parsed of this.patterns) {
      if (!parsed.wildcard) {
        if (parsed.pattern === channel) return true;
      } else if (matchesPattern(parsed.tokens, (tokens.value ??= tokenize(channel)))) {
        return true;
      }
    }
    return false;
  }
}

/**
 * One broker subscription, a (pattern, group) pair, shared by every local subscriber that needs
 * it: SUB goes out when the first one arrives, UNSUB when the last one leaves.
 */
export class SubEntry {
  private members: Members<LocalSubscriber> | undefined;
  /** The broker acknowledged the SUB on the current connection. */
  acked = false;
  /** Null while nobody waits: an array grown by push keeps room for 17, for every entry. */
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> | null = null;

  constructor(
    readonly key: string,
    readonly pattern: string,
    readonly group: string | undefined,
  ) {}

  addMember(subscriber: LocalSubscriber): void {
    this.members = withMember(this.members, subscriber);
  }

  /** Removes a member; true when none is left. */
  removeMember(subscriber: LocalSubscriber): boolean {
    this.members = withoutMember(this.members, subscriber);
    return this.members === undefined;
  }

  /** The members, as a new array. */
  memberList(): LocalSubscriber[] {
    return memberArray(this.members);
  }

  /** Resolves when the SUB is acknowledged (at once if it already is). */
  whenAcked(): Promise<void> {
    if (this.acked) return Promise.resolve();
    return new Promise((resolve, reject) => (this.waiters ??= []).push({ resolve, reject }));
  }

  markAcked(): void {
    this.acked = true;
    for (const waiter of this.takeWaiters()) waiter.resolve();
  }

  markFailed(error: Error): void {
    this.acked = false;
    for (const waiter of this.takeWaiters()) waiter.reject(error);
  }

  private takeWaiters(): readonly { resolve: () => void; reject: (error: Error) => void }[] {
    const waiters = this.waiters ?? [];
    this.waiters = null;
    return waiters;
  }
}

interface GroupMembers {
  members: LocalSubscriber[];
  /** Index of the member whose turn is next. */
  next: number;
}

function entryKey(pattern: string, group: string | undefined): string {
  // A newline never occurs in a valid pattern, so the key is unambiguous.
  return group === undefined ? pattern : `${pattern}\n${group}`;
}

/**
 * Local fan-out for one connection: which broker subscriptions are needed (refcounted per
 * pattern and group) and which local subscribers get each delivery. Plain deliveries go to every
 * subscriber without a group whose patterns match, once each; a group delivery goes to one
 * matching member of that group, rotating. Exact channels are a Map lookup; wildcards a trie.
 */
export class LocalRouter {
  private readonly entries = new Map<string, SubEntry>();
  private readonly exact = new ExactChannelIndex<LocalSubscriber, DeliveryTarget>(
    (subscriber) => subscriber.target.callee ?? subscriber.target,
  );
  /** Channel names of deliveries that only wildcards match. */
  private readonly channelNames = new ChannelNameMemo();
  private readonly wildcards = new PatternTrie<LocalSubscriber>();
  private readonly groups = new Map<string, GroupMembers>();
  private readonly subscribers = new Set<LocalSubscriber>();
  private plainCount = 0;
  private readonly groupTokens: { value?: string[] } = {};
  private stamp = 0;

  /** Local subscribers registered. */
  get size(): number {
    return this.subscribers.size;
  }

  /** True when some subscriber takes plain (non-group) deliveries. */
  get hasPlainSubscribers(): boolean {
    return this.plainCount > 0;
  }

  /** Every broker subscription currently needed (to re-SUB after a reconnect). */
  allEntries(): IterableIterator<SubEntry> {
    return this.entries.values();
  }

  /** Registers a subscriber; returns the entries it created, which need a SUB. */
  add(subscriber: LocalSubscriber): SubEntry[] {
    const created: SubEntry[] = [];
    const { group } = subscriber;
    // Made by map, not push: an array grown by push keeps room for 17 entries.
    subscriber.entries = subscriber.patterns.map(({ pattern }) => {
      const key = entryKey(pattern, group);
      let entry = this.entries.get(key);
      if (!entry) {
        entry = new SubEntry(key, pattern, group);
        this.entries.set(key, entry);
        created.push(entry);
      }
      entry.addMember(subscriber);
      return entry;
    });
    this.subscribers.add(subscriber);
    if (group === undefined) this.indexPlain(subscriber);
    else this.joinGroup(subscriber, group);
    return created;
  }

  /** Unregisters a subscriber; returns the entries nobody holds any more, which need an UNSUB. */
  remove(subscriber: LocalSubscriber): SubEntry[] {
    if (!this.subscribers.delete(subscriber)) return [];
    const released: SubEntry[] = [];
    for (const entry of subscriber.entries) {
      if (entry.removeMember(subscriber) && this.entries.get(entry.key) === entry) {
        this.entries.delete(entry.key);
        released.push(entry);
      }
    }
    subscriber.entries = [];
    if (subscriber.group === undefined) this.unindexPlain(subscriber);
    else this.leaveGroup(subscriber, subscriber.group);
    return released;
  }

  /** True while `entry` is the live entry for its key (not released or failed). */
  isCurrent(entry: SubEntry): boolean {
    return this.entries.get(entry.key) === entry;
  }

  /**
   * The broker refused this SUB: forget the entry (so no UNSUB is sent for it) and return its
   * members, which the caller ends with the error.
   */
  fail(entry: SubEntry): LocalSubscriber[] {
    if (this.isCurrent(entry)) this.entries.delete(entry.key);
    return entry.memberList();
  }

  /** Every subscriber, as a copy safe to end one by one. */
  allSubscribers(): LocalSubscriber[] {
    return [...this.subscribers];
  }

  /**
   * A plain delivery, channel `buf[channelStart..channelEnd)`: every matching subscriber without
   * a group, once each. An exact channel is found by its bytes and named by its subscription's
   * string, so the channel is decoded only for a record that wildcards alone match.
   */
  routeRecord(
    buf: Buffer,
    channelStart: number,
    channelEnd: number,
    messageStart: number,
    messageEnd: number,
  ): void {
    const exactId = this.exact.lookup(buf, channelStart, channelEnd);
    if (this.wildcards.size === 0) {
      if (exactId < 0) return;
      const message = new ReceivedMessage(
        this.exact.nameOf(exactId),
        buf,
        messageStart,
        messageEnd,
      );
      const sole = this.exact.soleTargetOf(exactId);
      if (sole !== undefined) {
        deliverTo(sole, message);
        return;
      }
      this.deliverToMany(exactId, message);
      return;
    }
    this.routeWithWildcards(exactId, buf, channelStart, channelEnd, messageStart, messageEnd);
  }

  /**
   * A plain delivery to a channel's several subscribers, each straight to its delivery target
   * (the application's handler behind a DirectSubscriber, see MessageTarget.callee), which does
   * not check for an end. That is safe while no subscriber came or went during the loop: one that
   * ended has left the index, which counts it. Once the count moves, the rest of the loop goes
   * through the subscribers, whose targets ignore messages after their end.
   */
  private deliverToMany(exactId: number, message: ReceivedMessage): void {
    const exact = this.exact;
    const subscribers = exact.subscribersOf(exactId);
    const targets = exact.targetsOf(exactId);
    const version = exact.version;
    for (let i = 0; i < targets.length; i++) {
      if (exact.version === version) deliverTo(targets[i]!, message);
      else subscribers[i]!.deliver(message);
    }
  }

  /**
   * routeRecord when wildcard subscriptions exist. A method of its own because its closure would
   * make every routeRecord call allocate a context, taken branch or not.
   */
  private routeWithWildcards(
    exactId: number,
    buf: Buffer,
    channelStart: number,
    channelEnd: number,
    messageStart: number,
    messageEnd: number,
  ): void {
    const channel =
      exactId >= 0
        ? this.exact.nameOf(exactId)
        : this.channelNames.decode(buf, channelStart, channelEnd);
    const stamp = ++this.stamp;
    let message: ReceivedMessage | undefined;
    const visit = (subscriber: LocalSubscriber): void => {
      if (subscriber.stamp === stamp) return;
      subscriber.stamp = stamp;
      message ??= new ReceivedMessage(channel, buf, messageStart, messageEnd);
      subscriber.deliver(message);
    };
    if (exactId >= 0) for (const subscriber of this.exact.subscribersOf(exactId)) visit(subscriber);
    this.wildcards.match(tokenize(channel), visit);
  }

  /**
   * A delivery on behalf of `group`: to the next member, in turn, whose patterns match the
   * channel. False when no local member matches (it left meanwhile).
   */
  routeGroup(
    group: string,
    channel: string,
    buf: Buffer,
    messageStart: number,
    messageEnd: number,
  ): boolean {
    const state = this.groups.get(group);
    if (!state) return false;
    const { members } = state;
    const count = members.length;
    // Reused: the channel's tokens are computed at most once per delivery, and only for wildcards.
    const tokens = this.groupTokens;
    tokens.value = undefined;
    for (let i = 0; i < count; i++) {
      const index = (state.next + i) % count;
      const member = members[index]!;
      if (!member.matches(channel, tokens)) continue;
      state.next = (index + 1) % count;
      member.deliver(new ReceivedMessage(channel, buf, messageStart, messageEnd, group));
      return true;
    }
    return false;
  }

  private indexPlain(subscriber: LocalSubscriber): void {
    this.plainCount++;
    for (const parsed of subscriber.patterns) {
      if (parsed.wildcard) {
        this.wildcards.add(parsed.tokens, subscriber);
        continue;
      }
      this.exact.add(parsed.pattern, subscriber);
    }
  }

  private unindexPlain(subscriber: LocalSubscriber): void {
    this.plainCount--;
    for (const parsed of subscriber.patterns) {
      if (parsed.wildcard) {
        this.wildcards.remove(parsed.tokens, subscriber);
        continue;
      }
      this.exact.remove(parsed.pattern, subscriber);
    }
  }

  private joinGroup(subscriber: LocalSubscriber, group: string): void {
    let state = this.groups.get(group);
    if (!state) {
      state = { members: [], next: 0 };
      this.groups.set(group, state);
    }
    state.members.push(subscriber);
  }

  private leaveGroup(subscriber: LocalSubscriber, group: string): void {
    const state = this.groups.get(group);
    if (!state) return;
    const index = state.members.indexOf(subscriber);
    if (index === -1) return;
    state.members.splice(index, 1);
    if (state.members.length === 0) {
      this.groups.delete(group);
      return;
    }
    if (index < state.next) state.next--;
    if (state.next >= state.members.length) state.next = 0;
  }
}
