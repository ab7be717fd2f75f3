import { config } from 'rxjs';

/**
 * Reports an error that an application's handler threw and nobody handles, as RxJS does: on a
 * later tick, to config.onUnhandledError if set, else as an uncaught exception.
 */
export function reportUnhandled(error: unknown): void {
  setTimeout(() => {
    const { onUnhandledError } = config;
    if (onUnhandledError) onUnhandledError(error);
    else throw error;
  });
}
