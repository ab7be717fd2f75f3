import { BytesMap } from '../protocol/bytes-map.js';
import {
  forEachMember,
  hasMember,
  withMember,
  withoutMember,
  type Members,
} from '../protocol/members.js';
import { wildcardTokens } from '../protocol/pattern.js';
import { PatternTrie } from '../protocol/pattern-trie.js';

/**
 * One subscription of one connection. Routing keys (pattern, group) are latin1 strings of the
 * wire bytes: one char per byte, so no UTF-8 decoding on the publish path.
 */
export interface Subscription<C> {
  readonly owner: C;
  readonly pattern: string;
  /** A wildcard pattern's tokens; null for an exact channel, which needs none. */
  readonly tokens: readonly string[] | null;
  /** Null for a plain subscription. */
  readonly group: string | null;
}

/** Rotation state of a group, shared by every cached route that names it. */
export interface GroupState {
  readonly name: string;
  /** The group name's wire bytes, for GROUP_MSG heads. */
  readonly nameBytes: Buffer;
  next: number;
  references: number;
}

export interface GroupRoute<C> {
  readonly state: GroupState;
  readonly members: C[];
}

/** Who receives a record on one channel (PROTOCOL.md section 3). */
export interface Route<C> {
  /** Connections with at least one matching plain subscription, each once. */
  readonly plain: C[];
  readonly groups: GroupRoute<C>[];
}

/** Bound on cached routes, so a publisher spraying new channel names cannot grow memory. */
const MAX_CACHED_ROUTES = 65_536;

/**
 * The broker's subscriptions: a hash map for exact channels, a token trie for wildcard patterns,
 * and a per-channel cache of computed routes, invalidated on changes that can affect it.
 */
export class RoutingTable<C> {
  private readonly exact = new Map<string, Members<Subscription<C>>>();
  private readonly wildcard = new PatternTrie<Subscription<C>>();
  /** Keyed by the channel's latin1 string, found by its wire bytes (no string per publish). */
  private readonly cache = new BytesMap<Route<C>>('latin1');
  /**
   * Per cache id: the route's only receiver when it is one plain connection and no group (a
   * channel per user, held by one app server), else undefined. Publishing to it reads no Route
   * object and no arrays: with thousands of channels each of those is a likely cache miss.
   */
  private soleReceivers: (C | undefined)[] = [];
  private readonly groups = new Map<string, GroupState>();
  private count = 0;
  private changes = 0;

  /** Changes with every add and remove: a route computed at one version is valid while it holds. */
  get version(): number {
    return this.changes;
  }

  get size(): number {
    return this.count;
  }

  get wildcardCount(): number {
    return this.wildcard.size;
  }

  /**
   * The cache id of the channel whose wire bytes are `buf[start..end)`; -1 when its route must
   * be computed. Valid until the next change of the table or the next `route()`.
   */
  cachedAt(buf: Buffer, start: number, end: number): number {
    return this.cache.find(buf, start, end);
  }

  /** True when cache id `id` is still the route of the channel whose bytes are `buf[start..end)`. */
  cachedMatches(id: number, buf: Buffer, start: number, end: number): boolean {
    return this.cache.matches(id, buf, start, end);
  }

  /** The route under a live cache id. */
  routeOf(id: number): Route<C> {
    return this.cache.valueOf(id);
  }

  /** The route's only receiver under a live cache id: one plain connection and no group. */
  soleReceiverOf(id: number): C | undefined {
    return this.soleReceivers[id];
  }

  /** The channel (latin1 string of its wire bytes) under a live cache id. */
  channelOf(id: number): string {
    return this.cache.keyOf(id);
  }

  /** Computes and caches the route of a valid channel; returns its cache id. */
  route(channel: string): number {
    const plain = new Set<C>();
    const groups = new Map<string, Set<C>>();
    const visit = (subscription: Subscription<C>): void => {
      if (subscription.group === null) {
        plain.add(subscription.owner);
        return;
      }
      let members = groups.get(subscription.group);
      if (!members) groups.set(subscription.group, (members = new Set()));
      members.add(subscription.owner);
    };
    forEachMember(this.exact.get(channel), visit);
    if (this.wildcard.size > 0) this.wildcard.match(channel.split('.'), visit);
    const route: Route<C> = {
      plain: [...plain],
      groups: [...groups].map(([name, members]) => ({
        state: this.groups.get(name)!,
        members: [...members],
      })),
    };
    if (this.cache.size >= MAX_CACHED_ROUTES) this.clearCache();
    const id = this.cache.set(channel, route);
    this.soleReceivers[id] =
      route.plain.length === 1 && route.groups.length === 0 ? route.plain[0] : undefined;
    return id;
  }

  /** Drops every cached route (and with them the connections they name). */
  private clearCache(): void {
    this.cache.clear();
    this.soleReceivers = [];
  }

  /** Drops the cached route of `channel`, if any. */
  private forgetRoute(channel: string): void {
    const id = this.cache.idOf(channel);
    if (id < 0) return;
    this.soleReceivers[id] = undefined;
    this.cache.delete(channel);
  }

  add(owner: C, pattern: string, group: string | null): Subscription<C> {
    const tokens = wildcardTokens(pattern);
    const subscription: Subscription<C> = { owner, pattern, tokens, group };
    if (tokens !== null) {
      this.wildcard.add(tokens, subscription);
      this.clearCache();
    } else {
      const members = this.exact.get(pattern);
      const added = withMember(members, subscription);
      if (added !== members) this.exact.set(pattern, added);
      this.forgetRoute(pattern);
    }
    if (group !== null) this.retainGroup(group);
    this.count++;
    this.changes++;
    return subscription;
  }

  remove(subscription: Subscription<C>): void {
    const { pattern, tokens, group } = subscription;
    if (tokens !== null) {
      if (!this.wildcard.remove(tokens, subscription)) return;
      this.clearCache();
    } else {
      const members = this.exact.get(pattern);
      if (!hasMember(members, subscription)) return;
      const left = withoutMember(members, subscription);
      if (left === undefined) this.exact.delete(pattern);
      else if (left !== members) this.exact.set(pattern, left);
      this.forgetRoute(pattern);
    }
    if (group !== null) this.releaseGroup(group);
    this.count--;
    this.changes++;
  }

  private retainGroup(name: string): void {
    let state = this.groups.get(name);
    if (!state) {
      state = { name, nameBytes: Buffer.from(name, 'latin1'), next: 0, references: 0 };
      this.groups.set(name, state);
    }
    state.references++;
  }

  private releaseGroup(name: string): void {
    const state = this.groups.get(name)!;
    if (--state.references === 0) this.groups.delete(name);
  }
}
