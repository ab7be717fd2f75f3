import type { RoutingTable } from './routing-table.js';

/**
 * One connection's last published channel and its route. Publishers tend to send runs of records
 * on the same channel; comparing a few bytes skips even the route cache's hashing. It holds the
 * route cache's id of the channel, whose bytes the cache already keeps, so remembering costs no
 * copy and no received chunk is kept alive.
 *
 * An id can be reused for another channel without the table's version changing (the cache is
 * cleared when full inside `route()`). That is still safe: the memo only answers when the id is
 * live and its key bytes equal the published channel, and then the cached value is that exact
 * channel's route. The version check stays as a cheap guard for changes of subscriptions.
 */
export class RouteMemo<C> {
  private id = -1;
  private version = -1;

  /** The remembered cache id when `buf[start..end)` is the remembered channel, else -1. */
  lookup(buf: Buffer, start: number, end: number, routes: RoutingTable<C>): number {
    if (this.version !== routes.version || !routes.cachedMatches(this.id, buf, start, end))
      return -1;
    return this.id;
  }

  /** Remembers cache id `id` of the routing table at `version`. */
  remember(id: number, version: number): void {
    this.id = id;
    this.version = version;
  }
}
