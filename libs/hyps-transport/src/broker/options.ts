import { DEFAULT_MAX_CHANNEL_BYTES } from '../protocol/channel.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../protocol/frame-decoder.js';

/** One user of `hmac` auth (PROTOCOL.md section 8). Missing lists allow everything. */
export interface HypsUser {
  user: string;
  secret: string;
  publish?: string[];
  subscribe?: string[];
}

/** How HELLO is authenticated. */
export type BrokerAuth =
  { mode: 'none' } | { mode: 'token'; token: string } | { mode: 'hmac'; users: HypsUser[] };

/** TLS for the listener. With `ca`, clients must present a certificate signed by it. */
export interface BrokerTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  ca?: string | Buffer;
}

/** Everything a broker can be told; every field has a default (see DEFAULT_BROKER_OPTIONS). */
export interface BrokerOptions {
  /** Address to listen on. */
  host: string;
  /** TCP port; 0 picks a free one (read it back from `listen()`). */
  port: number;
  /** HELLO authentication. */
  auth: BrokerAuth;
  /** Largest frame body accepted, judged from the length prefix. */
  maxFrameBytes: number;
  /** Largest channel, pattern or group name, in bytes. */
  maxChannelBytes: number;
  /** Bytes queued for one connection and not yet written before deliveries to it are dropped. */
  maxBufferedBytes: number;
  /** Subscriptions one connection may hold. */
  maxSubscriptions: number;
  /** Open connections the broker accepts. */
  maxConnections: number;
  /** Time a new connection has to send HELLO. */
  helloTimeoutMs: number;
  /** Interval between keepalive PINGs after HELLO; two unanswered PINGs close the connection. */
  pingIntervalMs: number;
  /** Time a frame may stay incomplete once its first byte arrived. */
  frameTimeoutMs: number;
  /** Time `drain()` waits for queued bytes to be written before closing sockets. */
  shutdownTimeoutMs: number;
  /** Version string reported in INFO. */
  version: string;
  /** Serve TLS instead of plain TCP (PEM contents, not paths). */
  tls?: BrokerTlsOptions;
}

export const DEFAULT_BROKER_OPTIONS: Readonly<BrokerOptions> = Object.freeze<BrokerOptions>({
  host: '127.0.0.1',
  port: 8787,
  auth: { mode: 'none' },
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxChannelBytes: DEFAULT_MAX_CHANNEL_BYTES,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxSubscriptions: 100_000,
  maxConnections: 10_000,
  helloTimeoutMs: 2_000,
  pingIntervalMs: 30_000,
  frameTimeoutMs: 10_000,
  shutdownTimeoutMs: 5_000,
  version: '0.1.0',
});
