import { config, Observable, type Subscription } from 'rxjs';
import { DirectSubscriber, isPlainObserver, type ObserverOrNext } from './direct-subscriber.js';
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

/** Where an observer's messages and its end go: an RxJS Subscriber or a DirectSubscriber. */
export interface MessageSink {
  next(message: HypsMessage): void;
  error(error: unknown): void;
  complete(): void;
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
  private readonly attachSink: (sink: MessageSink) => Attachment;
  private readonly followReady: (attachment: Attachment) => void;

  constructor(attach: (sink: MessageSink) => Attachment, problem?: Error) {
    let resolveReady!: () => void;
    let rejectReady!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    ready.catch(noop); // nobody has to look at `ready`
    const followReady = (attachment: Attachment): void => {
      attachment.ready.then(resolveReady, rejectReady);
    };
    super((subscriber) => {
      const attachment = attach(subscriber);
      followReady(attachment);
      return () => attachment.detach();
    });
    if (problem) rejectReady(problem);
    this.ready = ready;
    this.attachSink = attach;
    this.followReady = followReady;
  }

  /**
   * An application's own observer (a function or a plain observer object) is called directly
   * (see DirectSubscriber); operators and RxJS's own subscribers take the usual path.
   */
  override subscribe(
    observerOrNext?: ObserverOrNext | null,
    // Deprecated RxJS forms, passed on unchanged.
    ...callbacks: Array<((value?: unknown) => void) | null | undefined>
  ): Subscription {
    if (
      callbacks.length > 0 ||
      !isPlainObserver(observerOrNext) ||
      config.useDeprecatedSynchronousErrorHandling
    ) {
      return super.subscribe(observerOrNext as ObserverOrNext, ...(callbacks as []));
    }
    const direct = new DirectSubscriber(observerOrNext);
    const attachment = this.attachSink(direct);
    this.followReady(attachment);
    // Runs at once if the subscription already ended (e.g. refused on attach).
    direct.detachWith(attachment);
    return direct;
  }
}
