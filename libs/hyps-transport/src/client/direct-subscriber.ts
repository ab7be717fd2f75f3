import { Subscriber, Subscription, type Observer } from 'rxjs';
import type { HypsMessage } from './message.js';
import { reportUnhandled } from './unhandled-error.js';

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

/** The application's own handler behind a DirectSubscriber: its function, or its observer. */
export type DirectCallee = ((value: HypsMessage) => void) | { next(value: HypsMessage): void };

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
  private registration: { detach(): void } | undefined;
  /**
   * What a router may call instead of next() while this subscriber is registered with it: the
   * application's function, or its observer object when that has a next method (called on the
   * observer, as next() does), else this subscriber. It skips one object per delivery, which is
   * a cache miss when a connection feeds thousands of observers. The caller must report a throw
   * with reportUnhandled, and must drop the callee when this subscriber stops: its teardown
   * unregisters it synchronously, which is what makes the `stopped` check unnecessary there.
   */
  readonly callee: DirectCallee;

  constructor(observerOrNext: ObserverOrNext | null | undefined) {
    super();
    if (typeof observerOrNext === 'function') this.onNext = observerOrNext;
    else this.observer = observerOrNext ?? undefined;
    const observer = this.observer;
    this.callee =
      this.onNext ?? (typeof observer?.next === 'function' ? (observer as DirectCallee) : this);
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

  /**
   * Sets what unsubscribing undoes (the registration with the client), run before the other
   * finalizers; at once when this subscriber has already ended. Kept as a field rather than
   * added as a finalizer: that would cost a closure and a finalizer array per subscriber.
   */
  detachWith(registration: { detach(): void }): void {
    if (this.closed) registration.detach();
    else this.registration = registration;
  }

  override unsubscribe(): void {
    this.stopped = true;
    if (this.closed) return;
    const registration = this.registration;
    this.registration = undefined;
    registration?.detach();
    super.unsubscribe();
  }
}
