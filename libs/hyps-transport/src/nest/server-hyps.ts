import { Server } from '@nestjs/microservices';
import type {
  CustomTransportStrategy,
  Deserializer,
  IncomingRequest,
  MessageHandler,
  Serializer,
  WritePacket,
} from '@nestjs/microservices';
import { NO_MESSAGE_HANDLER } from '@nestjs/microservices/constants.js';
import { connectable, isObservable, Subject } from 'rxjs';
import type { Observable, Subscription } from 'rxjs';
import { HypsClient } from '../client/index.js';
import type { HypsClientOptions, HypsMessage, HypsStatus } from '../client/index.js';
import { matchesPattern, tokenize } from '../protocol/pattern.js';
import type { HypsClientEvents } from './client-hyps.js';
import { HYPS_TRANSPORT } from './decorators.js';
import type { HypsPatternExtras } from './decorators.js';
import { HypsContext } from './hyps.context.js';
import { isThenable } from './thenable.js';
import {
  DEFAULT_CLOSE_TIMEOUT_MS,
  drainWithin,
  listenOn,
  transportClientOptions,
} from './lifecycle.js';
import { createReplyPacket, decodeIncoming, encodePacket, replyChannelOf } from './packet.js';

/** Options of ServerHyps: the HypsClient options plus how handlers subscribe. */
export interface ServerHypsOptions extends HypsClientOptions {
  /**
   * Group every handler subscribes with, so that instances of one service share the work (each
   * message goes to one of them). Defaults to `name`, else 'hyps-service'. `false` makes every
   * instance receive every message. A handler's own `group` extra overrides it.
   */
  group?: string | false;
  /** Shorthand for `group: false`. */
  broadcast?: boolean;
  /** How long `close()` waits for replies already sent to be acked before closing anyway. */
  closeTimeoutMs?: number;
  /** Nest serializer of replies (default: identity, then JSON). */
  serializer?: Serializer;
  /** Nest deserializer of requests and events (default: Nest's IncomingRequestDeserializer). */
  deserializer?: Deserializer;
}

/** Group used when neither `group` nor `name` is given. */
export const DEFAULT_SERVICE_GROUP = 'hyps-service';

/**
 * A Nest microservice transport over Hyps. Each handler pattern (wildcards included) becomes one
 * subscription on one broker connection; a message is handed to the handler whose subscription
 * delivered it, so `orders.eu` reaches the handler of `orders.*`.
 */
export class ServerHyps
  extends Server<HypsClientEvents, HypsStatus>
  implements CustomTransportStrategy
{
  override transportId: symbol = HYPS_TRANSPORT;
  private hyps: HypsClient | null = null;
  private closed = false;
  /** One per handler pattern. */
  private readonly subscriptions: Subscription[] = [];
  /** Undone on close, after the drain: status forwarding and event listeners. */
  private readonly teardown: Array<() => void> = [];
  /** Response streams still running, stopped on close so they publish nothing late. */
  private readonly activeStreams = new Set<Subscription>();
  private readonly listeners: Array<[keyof HypsClientEvents, (...args: never[]) => void]> = [];
  /** Nest's own start hook, to tell whether anyone (e.g. tracing) installed processing hooks. */
  private readonly defaultStartHook = this.onProcessingStartHook;

  constructor(private readonly options: ServerHypsOptions = {}) {
    super();
    this.initializeSerializer(options);
    this.initializeDeserializer(options);
  }

  /** Connects, subscribes every handler pattern, then calls `callback` (with an error if any). */
  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      this.closed = false;
      const hyps = new HypsClient(hypsClientOptionsOf(this.options));
      this.hyps = hyps;
      const statusForwarding = hyps.status$.subscribe((status) => this._status$.next(status));
      this.teardown.push(() => statusForwarding.unsubscribe());
      for (const [event, fn] of this.listeners) this.attach(hyps, event, fn);
      await hyps.connect();
      await Promise.all(
        [...this.messageHandlers.keys()].map((pattern) => this.bind(hyps, pattern)),
      );
    } catch (err) {
      // Leave nothing connected or retrying behind a failed start.
      await this.close();
      callback(err);
      return;
    }
    callback();
  }

  /** Unsubscribes, stops running response streams, then drains and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    for (const stream of [...this.activeStreams]) stream.unsubscribe();
    const hyps = this.hyps;
    this.hyps = null;
    const teardown = this.teardown.splice(0);
    // Listeners stay attached through the drain so that they see the final 'closed'.
    if (hyps) await drainWithin(hyps, this.options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    for (const undo of teardown) undo();
    if (hyps) this._status$.next('closed');
  }

  on<K extends keyof HypsClientEvents, F extends HypsClientEvents[K] = HypsClientEvents[K]>(
    event: K,
    callback: F,
  ): void {
    const fn = callback as (...args: never[]) => void;
    this.listeners.push([event, fn]);
    if (this.hyps) this.attach(this.hyps, event, fn);
  }

  /** The underlying HypsClient. */
  unwrap<T = HypsClient>(): T {
    if (!this.hyps) {
      throw new Error(
        'Not initialized. Please call the "listen"/"startAllMicroservices" method first.',
      );
    }
    return this.hyps as T;
  }

  /** Exact lookup first, then the first registered pattern that matches the channel. */
  override getHandlerByPattern(pattern: string): MessageHandler | null {
    // Subscriptions hand over their own (registered) pattern: skip Nest's JSON.parse attempt.
    const exact = this.messageHandlers.get(pattern) ?? super.getHandlerByPattern(pattern);
    if (exact) return exact;
    const channel = tokenize(pattern);
    for (const [registered, handler] of this.messageHandlers) {
      if (matchesPattern(tokenize(registered), channel)) return handler;
    }
    return null;
  }

  override send(
    stream$: Observable<unknown>,
    respond: (data: WritePacket) => Promise<unknown> | void,
  ): Subscription {
    const stream = super.send(stream$, respond);
    this.activeStreams.add(stream);
    stream.add(() => this.activeStreams.delete(stream));
    return stream;
  }

  /** The group a handler pattern subscribes with, or undefined for broadcast. */
  groupOf(pattern: string): string | undefined {
    const extras = this.messageHandlers.get(pattern)?.extras as HypsPatternExtras | undefined;
    const group = extras?.group !== undefined ? extras.group : this.defaultGroup();
    return group === false ? undefined : group;
  }

  private defaultGroup(): string | false {
    if (this.options.broadcast) return false;
    return this.options.group ?? this.options.name ?? DEFAULT_SERVICE_GROUP;
  }

  private async bind(hyps: HypsClient, pattern: string): Promise<void> {
    const group = this.groupOf(pattern);
    const messages = hyps.subscribe(pattern, group === undefined ? undefined : { group });
    const failed = (message: HypsMessage, err: unknown): void =>
      this.handleError(`cannot handle a message on ${message.channel}: ${err}`);
    const subscription = messages.subscribe({
      next: (message) => {
        try {
          const handled = this.handleMessage(pattern, message);
          // then(undefined, ...) rather than catch(): one promise fewer per message.
          if (handled) handled.then(undefined, (err: unknown) => failed(message, err));
        } catch (err) {
          failed(message, err);
        }
      },
      error: (err: unknown) => this.handleError(`subscription ${pattern} failed: ${err}`),
    });
    this.subscriptions.push(subscription);
    await messages.ready;
  }

  /** Decodes and dispatches one message; a promise only when some step was asynchronous. */
  private handleMessage(pattern: string, message: HypsMessage): PromiseLike<void> | void {
    const decoded = decodeIncoming(message);
    const packet: unknown = this.deserializer.deserialize(decoded, { channel: message.channel });
    // The default deserializer is synchronous: skip a microtask per message when it is.
    if (isThenable(packet)) {
      return Promise.resolve(packet).then((resolved) =>
        this.dispatch(pattern, message, decoded, resolved as Partial<IncomingRequest>),
      );
    }
    return this.dispatch(pattern, message, decoded, packet as Partial<IncomingRequest>);
  }

  private dispatch(
    pattern: string,
    message: HypsMessage,
    decoded: unknown,
    packet: Partial<IncomingRequest>,
  ): PromiseLike<void> | void {
    const context = new HypsContext([message.channel, pattern, packet.metadata, message]);
    const replyTo = replyChannelOf(decoded);
    if (packet.id === undefined || replyTo === undefined) {
      return this.dispatchEvent(pattern, packet as IncomingRequest, context);
    }
    return this.dispatchRequest(pattern, packet as IncomingRequest, context, replyTo);
  }

  /**
   * Nest's handleEvent runs every event through the processing hooks in three nested async
   * functions. While nobody installed hooks, do the same work directly: call the handler and
   * connect a returned stream.
   */
  private dispatchEvent(
    pattern: string,
    packet: IncomingRequest,
    context: HypsContext,
  ): PromiseLike<void> | void {
    if (this.hooksInstalled) return this.handleEvent(pattern, packet, context);
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) return this.handleEvent(pattern, packet, context); // Nest logs it
    const result: unknown = handler(packet.data, context);
    if (isThenable(result)) return result.then(connectStream);
    connectStream(result);
  }

  /**
   * A request: Nest's handleRequest while processing hooks are installed. Without them, the same
   * replies with less machinery: a plain value is one final reply (what Nest's send makes of
   * `of(value)`); a stream, which is also how Nest's exception filters report an error, goes
   * through send.
   */
  private dispatchRequest(
    pattern: string,
    packet: IncomingRequest,
    context: HypsContext,
    replyTo: string,
  ): PromiseLike<void> | void {
    const respond = this.replier(replyTo, packet.id);
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) return respond({ status: 'error', err: NO_MESSAGE_HANDLER });
    if (this.hooksInstalled) {
      return this.handleRequest(
        context,
        async () => this.transformToObservable(await handler(packet.data, context)),
        respond,
      );
    }
    const reply = (value: unknown): void => {
      if (isObservable(value)) {
        this.send(value, respond);
        return;
      }
      respond({ response: value, isDisposed: true })?.then(undefined, (err: unknown) =>
        this.handleError(`cannot reply on ${replyTo}: ${err}`),
      );
    };
    const result: unknown = handler(packet.data, context);
    if (isThenable(result)) return result.then(reply);
    reply(result);
  }

  /** Whether anyone (e.g. tracing) installed Nest's processing hooks: then Nest's paths run. */
  private get hooksInstalled(): boolean {
    const endHook = this.onProcessingEndHook as unknown;
    return this.onProcessingStartHook !== this.defaultStartHook || endHook !== undefined;
  }

  /**
   * Publishes replies to the requester's inbox; after close() it publishes nothing. A reply does
   * not wait for the broker's ack (one connection keeps them in order, and close() drains them),
   * so a streamed response is not held to one reply per round trip.
   */
  private replier(replyTo: string, id: string): (packet: WritePacket) => Promise<void> | void {
    return (packet) => {
      const hyps = this.hyps;
      if (this.closed || !hyps) return;
      const serialized: unknown = this.serializer.serialize(createReplyPacket(id, packet));
      if (isThenable(serialized)) {
        return Promise.resolve(serialized).then((value) => this.publishReply(hyps, replyTo, value));
      }
      this.publishReply(hyps, replyTo, serialized);
    };
  }

  private publishReply(hyps: HypsClient, replyTo: string, serialized: unknown): void {
    hyps.publish(replyTo, encodePacket(serialized), (err) => {
      if (err && !this.closed) this.handleError(`cannot reply on ${replyTo}: ${err}`);
    });
  }

  private attach(
    hyps: HypsClient,
    event: keyof HypsClientEvents,
    fn: (...args: never[]) => void,
  ): void {
    this.teardown.push(listenOn(hyps, event, fn));
  }
}

/** An event handler's returned stream runs hot, as in Nest's handleEvent. */
function connectStream(result: unknown): void {
  if (!isObservable(result)) return;
  connectable(result, { connector: () => new Subject(), resetOnDisconnect: false }).connect();
}

/** The HypsClient part of ServerHypsOptions. */
function hypsClientOptionsOf(options: ServerHypsOptions): HypsClientOptions {
  return transportClientOptions(options, [
    'group',
    'broadcast',
    'closeTimeoutMs',
    'serializer',
    'deserializer',
  ]);
}
