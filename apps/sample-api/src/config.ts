// Sample API settings, read once from the environment at startup.

export interface SampleApiConfig {
  /** HTTP port; 0 picks a free one (tests). */
  port: number;
  /** Address to listen on. Loopback by default: this is a sample, not a public service. */
  host: string;
  /** The broker this app server holds its one Hyps connection to. */
  hypsUrl: string;
  /** Interval of the SSE heartbeat comment that keeps proxies from closing idle streams. */
  heartbeatMs: number;
  /**
   * How long a post waits for the broker while the connection to it is being re-established,
   * before it fails with 503 (the client's pendingPublishTimeoutMs).
   */
  publishTimeoutMs: number;
}

export const SAMPLE_API_CONFIG = Symbol('SAMPLE_API_CONFIG');

export const DEFAULT_CONFIG: SampleApiConfig = {
  port: 3000,
  host: '127.0.0.1',
  hypsUrl: 'hyps://127.0.0.1:8787',
  heartbeatMs: 15_000,
  publishTimeoutMs: 5_000,
};

/** Thrown for a bad variable, so main() can print one clear line and exit with status 2. */
export class SampleApiConfigError extends Error {
  override readonly name = 'SampleApiConfigError';
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new SampleApiConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

/** PORT, HOST, HYPS_URL, SSE_HEARTBEAT_MS and PUBLISH_TIMEOUT_MS; defaults above for unset ones. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): SampleApiConfig {
  const port = integer(env, 'PORT', DEFAULT_CONFIG.port, 0);
  if (port > 65535) throw new SampleApiConfigError(`PORT must be at most 65535, got ${port}`);
  return {
    port,
    host: env.HOST || DEFAULT_CONFIG.host,
    hypsUrl: env.HYPS_URL || DEFAULT_CONFIG.hypsUrl,
    heartbeatMs: integer(env, 'SSE_HEARTBEAT_MS', DEFAULT_CONFIG.heartbeatMs, 100),
    publishTimeoutMs: integer(env, 'PUBLISH_TIMEOUT_MS', DEFAULT_CONFIG.publishTimeoutMs, 1),
  };
}
