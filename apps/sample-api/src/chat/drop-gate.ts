// At most once, towards the browser too: a browser connection that does not keep up loses
// messages (counted) instead of making the app server queue them without bound.
import { Observable } from 'rxjs';
import type { OperatorFunction } from 'rxjs';

export type Gated<T> = { kind: 'item'; item: T } | { kind: 'dropped'; count: number };

export interface DropGateOptions<T> {
  /** True while the browser connection is behind. */
  isCongested: () => boolean;
  /** Called for every dropped item (statistics). */
  onDrop?: () => void;
  /** Items that always pass (control events such as `ready`). */
  exempt?: (item: T) => boolean;
}

/**
 * Passes items while `isCongested()` is false and drops them while it is true. Before the first
 * item after a gap it emits `{ kind: 'dropped', count }`, so the gap shows where it happened.
 */
export function dropWhileCongested<T>({
  isCongested,
  onDrop,
  exempt,
}: DropGateOptions<T>): OperatorFunction<T, Gated<T>> {
  return (source) =>
    new Observable<Gated<T>>((subscriber) => {
      let dropped = 0;
      return source.subscribe({
        next: (item) => {
          if (exempt?.(item)) {
            subscriber.next({ kind: 'item', item });
            return;
          }
          if (isCongested()) {
            dropped++;
            onDrop?.();
            return;
          }
          if (dropped > 0) {
            subscriber.next({ kind: 'dropped', count: dropped });
            dropped = 0;
          }
          subscriber.next({ kind: 'item', item });
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
