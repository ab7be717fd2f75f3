import { config, Subscriber, Subscription, type Observer } from 'rxjs';
import type { HypsMessage } from './message.js';

/** What Observable#subscribe accepts as its first argument. */
export type ObserverOrNext = Partial<Observer<HypsMessage>> | ((value: HypsMessage) => void);

/**
 * True when `value` is what an application passes to subscribe() (a function, a plain observer,
 * nothing), not an RxJS Subscriber or Subscription that an operator or RxJS itself passes.
 */
export function isPlainObserver(value: unknown): value is ObserverOrNext | null | undefined {
  if (value === null || value === undefined || typeof value === 'function') return true;
  if (typeof value !== 'object' || value instanceof Subscriber) return false;
  const candidate = value as Partial<Subscription>;
  return typeof candidate.unsubscribe !== 'function' && typeof candidate.add !== 'function';
}

/**
 * RxJS reports an error nobody handles on a later tick (config.onUnhandledError, else a throw);
 * so does this.
 */
function reportUnhandled(error: unknown): void {
  setTimeout(() => {
    const { onUnhandledError } = config;
    if (onUnhandledError) onUnhandledError(error);
    else throw error;
  });
}

/**
 * An application's observer of a HypsSubscription, called straight from the client's router.
 * RxJS would wrap it in a SafeSubscriber, a ConsumerObserver and a partial observer (three calls
 * and three objects per delivery, which count when one connection feeds thousands of observers);
 * this keeps the same contract: nothing after unsubscribe, error or complete; a throwing handler
 * is reported as unhandled and does not stop later messages; error and complete unsubscribe.
 */
export class DirectSubscriber extends Subscription {
  private readonly onNext: ((value: HypsMessage) => void) | undefined;
  private readonly observer: Partial<Observer<HypsMessage>> | undefined;
  private stopped = false;

  constructor(observerOrNext: ObserverOrNext | null | undefined) {
    super();
    if (typeof observerOrNext === 'function') this.onNext = observerOrNext;
    else this.observer = observerOrNext ?? undefined;
  }

  next(message: HypsMessage): void {
    if (this.stopped) return;
    try {
      if (this.onNext !== undefined) this.onNext(message);
      else this.observer?.next?.(message);
    } catch (error) {
      reportUnhandled(error);
    }
  }

  error(error: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      if (this.observer?.error) this.observer.error(error);
      else reportUnhandled(error);
    } catch (thrown) {
      reportUnhandled(thrown);
    }
    this.unsubscribe();
  }

  complete(): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      this.observer?.complete?.();
    } catch (thrown) {
      reportUnhandled(thrown);
    }
    this.unsubscribe();
  }

  override unsubscribe(): void {
    this.stopped = true;
    super.unsubscribe();
  }
}
