import { HypsError } from '../protocol/errors.js';

/** A broker option or the users file is unusable; the broker refuses to start. */
export class BrokerConfigError extends HypsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BROKER_CONFIG', message, options);
  }
}
