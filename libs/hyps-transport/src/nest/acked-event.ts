import { Observable, type Subscriber } from 'rxjs';
import type { PublishCallback } from '../client/index.js';

/**
 * The outcome of one published event, for the Observable that ClientHyps#emit returns: observers
 * that come before the broker's ack wait for it, later ones get the outcome at once. Settled by a
 * publish callback, so an event costs no promise.
 */
class EventOutcome {
  /** undefined while waiting, null once acknowledged, the error once failed. */
  private outcome: Error | null | undefined = undefined;
  private waiting: Array<Subscriber<unknown>> | undefined;

  readonly settle: PublishCallback = (error) => {
    this.outcome = error ?? null;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) for (const subscriber of waiting) this.tell(subscriber);
  };

  watch(subscriber: Subscriber<unknown>): void {
    if (this.outcome === undefined) (this.waiting ??= []).push(subscriber);
    else this.tell(subscriber);
  }

  private tell(subscriber: Subscriber<unknown>): void {
    if (this.outcome) subscriber.error(this.outcome);
    else subscriber.complete();
  }
}

/**
 * Starts `publish` now (hot, like Nest's emit) and returns an Observable that completes once the
 * broker acknowledged it, or errors with the typed error.
 */
export function ackedEvent<T>(publish: (done: PublishCallback) => void): Observable<T> {
  const outcome = new EventOutcome();
  publish(outcome.settle);
  return new Observable<T>((subscriber) => outcome.watch(subscriber));
}
