import { Observable, type Subscriber } from 'rxjs';
import type { HypsMessage } from './message.js';

export interface HypsSubscribeOptions {
  /** Join this group: each message of the group goes to one of its members. */
  group?: string;
}

/**
 * Messages as a cold Observable: the first local observer of a (pattern, group) sends SUB, the
 * last one to unsubscribe sends UNSUB. SUB errors reach the observers as typed errors.
 */
export interface HypsSubscription extends Observable<HypsMessage> {
  /** Resolves once every SUB this subscription needed was acknowledged (after an observer came). */
  readonly ready: Promise<void>;
}

/** How one observer (or one pull subscription) registers with the client, and undoes it. */
export interface Attachment {
  /** Settles when the SUBs it needed were answered. */
  ready: Promise<void>;
  detach(): void;
}

const noop = (): void => undefined;

/**
 * The Observable behind HypsClient.subscribe(). Each observer attaches on subscribe and detaches
 * on unsubscribe; `ready` follows the first observer's SUBs, or rejects at once for a `problem`
 * found before anything was sent (an invalid pattern).
 */
export class MessageObservable extends Observable<HypsMessage> implements HypsSubscription {
  readonly ready: Promise<void>;

  constructor(attach: (subscriber: Subscriber<HypsMessage>) => Attachment, problem?: Error) {
    let resolveReady!: () => void;
    let rejectReady!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    ready.catch(noop); // nobody has to look at `ready`
    super((subscriber) => {
      const attachment = attach(subscriber);
      attachment.ready.then(resolveReady, rejectReady);
      return () => attachment.detach();
    });
    if (problem) rejectReady(problem);
    this.ready = ready;
  }
}
