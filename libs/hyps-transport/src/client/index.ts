// The client's public API (re-exported from the package root).
export { HypsClient } from './hyps-client.js';
export type { HypsStatus, HypsClientEventMap } from './client-events.js';
export type { HypsSubscription, HypsSubscribeOptions } from './message-observable.js';
export {
  DEFAULT_CLIENT_OPTIONS,
  resolveClientOptions,
  type HypsClientOptions,
  type ResolvedClientOptions,
} from './client-options.js';
export {
  ClientClosedError,
  ClientConfigError,
  ConnectionClosedError,
  ConnectTimeoutError,
  PendingQueueFullError,
  PublishTimeoutError,
} from './client-errors.js';
export type { HypsMessage } from './message.js';
export type { PublishCallback, PublishResult } from './ack-queue.js';
export {
  DEFAULT_PULL_BUFFER_BYTES,
  IDLE,
  type HypsPullOptions,
  type HypsPullSubscription,
} from './pull-subscription.js';
export { Backoff } from './backoff.js';
