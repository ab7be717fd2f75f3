import type { BytesEntry } from '../protocol/bytes-map.js';
import type { Route } from './routing-table.js';

/**
 * One connection's last published channel and its route. Publishers tend to send runs of records
 * on the same channel; comparing a few bytes skips even the route cache's hashing. It holds the
 * cache's entry (whose bytes are already a copy), so remembering costs no copy and no received
 * chunk is kept alive. Valid only for one routing-table version.
 */
export class RouteMemo<C> {
  private entry: BytesEntry<Route<C>> | null = null;
  private version = -1;

  /** The remembered route when `buf[start..end)` is the remembered channel, else null. */
  lookup(buf: Buffer, start: number, end: number, version: number): Route<C> | null {
    const entry = this.entry;
    if (entry === null || this.version !== version) return null;
    const channel = entry.bytes;
    const length = end - start;
    if (channel.length !== length) return null;
    for (let i = 0; i < length; i++) if (channel[i] !== buf[start + i]) return null;
    return entry.value;
  }

  remember(entry: BytesEntry<Route<C>>, version: number): void {
    this.entry = entry;
    this.version = version;
  }
}
