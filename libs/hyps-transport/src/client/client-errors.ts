import { HypsError } from '../protocol/errors.js';

/**
 * A command failed because its connection closed before the broker answered it. For a publish
 * this means "unknown": delivery is at most once, so it may or may not have been routed.
 */
export class ConnectionClosedError extends HypsError {
  constructor(message = 'connection to the Hyps broker closed', options?: { cause?: unknown }) {
    super('CONNECTION_CLOSED', message, options);
  }
}

/** A publish was held while disconnected for longer than pendingPublishTimeoutMs. */
export class PublishTimeoutError extends HypsError {
  constructor(timeoutMs: number) {
    super(
      'PUBLISH_TIMEOUT',
      `publish held for ${timeoutMs} ms while disconnected from the Hyps broker; not sent`,
    );
  }
}

/** A publish was made while disconnected and pendingPublishLimit publishes were already held. */
export class PendingQueueFullError extends HypsError {
  constructor(limit: number) {
    super(
      'PENDING_QUEUE_FULL',
      `${limit} publishes are already held while disconnected (pendingPublishLimit); not sent`,
    );
  }
}

/** The client was used after close(). */
export class ClientClosedError extends HypsError {
  constructor(message = 'the Hyps client is closed') {
    super('CLIENT_CLOSED', message);
  }
}

/** No connection (TCP, INFO and HELLO acknowledged) within connectTimeoutMs. */
export class ConnectTimeoutError extends HypsError {
  constructor(address: string, timeoutMs: number) {
    super('CONNECT_TIMEOUT', `no Hyps connection to ${address} within ${timeoutMs} ms`);
  }
}

/** HypsClientOptions hold a value the client cannot work with. */
export class ClientConfigError extends HypsError {
  constructor(message: string) {
    super('CLIENT_CONFIG', message);
  }
}
