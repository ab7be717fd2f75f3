import type { Route } from './routing-table.js';

/**
 * One connection's last published channel and its route. Publishers tend to send runs of records
 * on the same channel; comparing a few bytes skips building the channel string and hashing it
 * (about a third of the broker's time per small record). Valid only for one routing-table
 * version. The channel bytes are copied, so no received chunk is kept alive by the memo.
 */
export class RouteMemo<C> {
  private channel: Buffer | null = null;
  private length = 0;
  private route: Route<C> | null = null;
  private version = -1;

  /** The remembered route when `buf[start..end)` is the remembered channel, else null. */
  lookup(buf: Buffer, start: number, end: number, version: number): Route<C> | null {
    const length = end - start;
    if (this.version !== version || this.length !== length) return null;
    const channel = this.channel!;
    for (let i = 0; i < length; i++) if (channel[i] !== buf[start + i]) return null;
    return this.route;
  }

  remember(buf: Buffer, start: number, end: number, route: Route<C>, version: number): void {
    const length = end - start;
    if (this.channel === null || this.channel.length < length) {
      this.channel = Buffer.allocUnsafe(Math.max(length, 32));
    }
    buf.copy(this.channel, 0, start, end);
    this.length = length;
    this.route = route;
    this.version = version;
  }
}
