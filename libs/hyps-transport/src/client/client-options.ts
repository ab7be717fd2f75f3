import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { ClientConfigError } from './client-errors.js';

/** What a HypsClient can be told; every field is optional (see DEFAULT_CLIENT_OPTIONS). */
export interface HypsClientOptions {
  /** Broker address, `hyps://host:port` (`tcp://` is accepted too); `hypss://` for TLS. */
  url?: string;
  /**
   * TLS for the connection: `true`, or Node's TLS options (`ca`, `cert`, `key`, `servername`,
   * ...). A `hypss://` url turns TLS on with Node's defaults.
   */
  tls?: boolean | TlsConnectionOptions;
  /** Credential for a broker with auth `token`. */
  token?: string;
  /** User name for a broker with auth `hmac`. */
  user?: string;
  /** That user's secret; only an HMAC of the broker's nonce is sent, never the secret. */
  secret?: string;
  /** Name sent in HELLO, shown in broker logs. */
  name?: string;
  /** Reconnect after the connection drops (and retry the first connect within its timeout). */
  reconnect?: boolean;
  /** First reconnect delay; doubles on every failed attempt, with jitter. */
  reconnectDelayMs?: number;
  /** Cap on the reconnect delay. */
  maxReconnectDelayMs?: number;
  /** Failed reconnect attempts after a drop before the client gives up (status `closed`). */
  maxReconnectAttempts?: number;
  /** Bound on one connection attempt: TCP connect, INFO and the HELLO acknowledgement. */
  connectTimeoutMs?: number;
  /** Publishes held while disconnected; one more rejects with PendingQueueFullError. */
  pendingPublishLimit?: number;
  /** How long a held publish waits for a connection before PublishTimeoutError. */
  pendingPublishTimeoutMs?: number;
  /** Bytes of queued frames after which a batch is written before the end of the tick. */
  flushThresholdBytes?: number;
}

export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  url: 'hyps://127.0.0.1:8787',
  reconnect: true,
  reconnectDelayMs: 100,
  maxReconnectDelayMs: 5_000,
  maxReconnectAttempts: Infinity,
  connectTimeoutMs: 5_000,
  pendingPublishLimit: 10_000,
  pendingPublishTimeoutMs: 5_000,
  flushThresholdBytes: 64 * 1024,
});

/** Options with defaults applied and the url parsed. */
export interface ResolvedClientOptions {
  host: string;
  port: number;
  /** Null for plain TCP. */
  tls: TlsConnectionOptions | null;
  token: string | undefined;
  user: string | undefined;
  secret: string | undefined;
  name: string | undefined;
  reconnect: boolean;
  reconnectDelayMs: number;
  maxReconnectDelayMs: number;
  maxReconnectAttempts: number;
  connectTimeoutMs: number;
  pendingPublishLimit: number;
  pendingPublishTimeoutMs: number;
  flushThresholdBytes: number;
}

const DEFAULT_PORT = 8787;

/** Applies defaults (an `undefined` field counts as unset) and checks every value. */
export function resolveClientOptions(options: HypsClientOptions = {}): ResolvedClientOptions {
  const pick = <K extends keyof typeof DEFAULT_CLIENT_OPTIONS>(key: K) =>
    (options[key] ?? DEFAULT_CLIENT_OPTIONS[key]) as (typeof DEFAULT_CLIENT_OPTIONS)[K];
  const { host, port, secure } = parseUrl(pick('url'));
  const resolved: ResolvedClientOptions = {
    host,
    port,
    tls: tlsSettings(options.tls, secure),
    token: options.token,
    user: options.user,
    secret: options.secret,
    name: options.name,
    reconnect: pick('reconnect'),
    reconnectDelayMs: pick('reconnectDelayMs'),
    maxReconnectDelayMs: pick('maxReconnectDelayMs'),
    maxReconnectAttempts: pick('maxReconnectAttempts'),
    connectTimeoutMs: pick('connectTimeoutMs'),
    pendingPublishLimit: pick('pendingPublishLimit'),
    pendingPublishTimeoutMs: pick('pendingPublishTimeoutMs'),
    flushThresholdBytes: pick('flushThresholdBytes'),
  };
  requireNumber(resolved, 'reconnectDelayMs', 1);
  requireNumber(resolved, 'maxReconnectDelayMs', 1);
  requireNumber(resolved, 'maxReconnectAttempts', 0);
  requireNumber(resolved, 'connectTimeoutMs', 1);
  requireNumber(resolved, 'pendingPublishLimit', 0);
  requireNumber(resolved, 'pendingPublishTimeoutMs', 1);
  requireNumber(resolved, 'flushThresholdBytes', 1);
  if ((resolved.user === undefined) !== (resolved.secret === undefined)) {
    throw new ClientConfigError('hmac auth needs both `user` and `secret`');
  }
  return resolved;
}

function tlsSettings(
  tls: HypsClientOptions['tls'],
  secureUrl: boolean,
): TlsConnectionOptions | null {
  if (tls === false) {
    if (secureUrl) throw new ClientConfigError('a hypss:// url needs TLS; do not set tls: false');
    return null;
  }
  if (tls === undefined) return secureUrl ? {} : null;
  return tls === true ? {} : tls;
}

function parseUrl(url: string): { host: string; port: number; secure: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new ClientConfigError(`invalid broker url '${url}': ${(error as Error).message}`);
  }
  if (parsed.protocol !== 'hyps:' && parsed.protocol !== 'tcp:' && parsed.protocol !== 'hypss:') {
    throw new ClientConfigError(`broker url '${url}' must start with hyps://, hypss:// or tcp://`);
  }
  // URL keeps IPv6 hosts in brackets; net.connect wants them bare.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new ClientConfigError(`broker url '${url}' has no host`);
  const port = parsed.port === '' ? DEFAULT_PORT : Number(parsed.port);
  return { host, port, secure: parsed.protocol === 'hypss:' };
}

type NumericOption = {
  [K in keyof ResolvedClientOptions]: ResolvedClientOptions[K] extends number ? K : never;
}[keyof ResolvedClientOptions];

function requireNumber(options: ResolvedClientOptions, key: NumericOption, min: number): void {
  const value = options[key];
  if (typeof value !== 'number' || Number.isNaN(value) || value < min) {
    throw new ClientConfigError(`option ${key} must be a number >= ${min}, got ${String(value)}`);
  }
}
