import { Logger } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import type {
  Deserializer,
  IncomingResponse,
  PacketId,
  ReadPacket,
  Serializer,
  WritePacket,
} from '@nestjs/microservices';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception.js';
import { Observable, throwError, type Subscription } from 'rxjs';
import { ClientClosedError, HypsClient } from '../client/index.js';
import type { HypsClientOptions, HypsMessage, HypsStatus } from '../client/index.js';
import { ackedEvent } from './acked-event.js';
import { isThenable } from './thenable.js';
import {
  DEFAULT_CLOSE_TIMEOUT_MS,
  drainWithin,
  listenOn,
  transportClientOptions,
} from './lifecycle.js';
import { NoRespondersError, RequestCancelledError, RequestTimeoutError } from './nest-errors.js';
import {
  createInbox,
  decodePayload,
  DEFAULT_INBOX_PREFIX,
  encodeEventPacket,
  encodePacket,
  type HypsRequestFields,
} from './packet.js';
import { PendingRequests } from './pending-requests.js';

/** Options of ClientHyps: the HypsClient options plus the request/reply settings. */
export interface ClientHypsOptions extends HypsClientOptions {
  /** Time `send()` waits for the first reply, and then between replies of a stream. */
  requestTimeoutMs?: number;
  /** First token of this client's reply inbox. */
  inboxPrefix?: string;
  /** How long `close()` waits for in-flight emits to be acked before closing anyway. */
  closeTimeoutMs?: number;
  /**
   * An existing HypsClient to share (e.g. the one HypsModule provides), so the app keeps one
   * broker connection. ClientHyps then neither connects nor closes it itself.
   */
  client?: HypsClient;
  /** Nest serializer of outgoing packets (default: identity, then JSON). */
  serializer?: Serializer;
  /** Nest deserializer of replies (default: Nest's IncomingResponseDeserializer). */
  deserializer?: Deserializer;
}

/** Events of ClientHyps#on, forwarded from the underlying HypsClient. */
export type HypsClientEvents = {
  error: (err: Error) => void;
  dropped: (count: number, total: number) => void;
  status: (status: HypsStatus) => void;
};

/** Default of `requestTimeoutMs`. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

type Listener = [event: keyof HypsClientEvents, callback: (...args: never[]) => void];

/**
 * A Nest ClientProxy over Hyps. `emit` publishes and completes on the broker's ack; `send`
 * publishes a request carrying this client's inbox and streams the replies that come back there.
 */
// Status is typed `string` in the base so that `customClass: ClientHyps` fits ClientsModule's
// `Type<ClientProxy>`; the `status` getter narrows it back to HypsStatus.
export class ClientHyps extends ClientProxy<HypsClientEvents, string> {
  protected readonly logger = new Logger(ClientHyps.name);
  private readonly requestTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly inbox: string;
  private readonly pending: PendingRequests;
  /** Request ids: unique per client, since replies come back to this client's own inbox. */
  private requestCount = 0;
  private readonly listeners: Listener[] = [];
  private hyps: HypsClient | null = null;
  private connection: Promise<HypsClient> | null = null;
  /** Set once connected (inbox subscribed), so emit can publish without waiting a tick. */
  private ready: HypsClient | null = null;
  private inboxSubscription: Subscription | null = null;
  /** Undone on close, after the drain: status forwarding and event listeners. */
  private teardown: Array<() => void> = [];

  constructor(protected readonly options: ClientHypsOptions = {}) {
    super();
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.inbox = createInbox(options.inboxPrefix ?? DEFAULT_INBOX_PREFIX);
    this.pending = new PendingRequests(this.requestTimeoutMs, (id, request) =>
      this.settle(id, { err: new RequestTimeoutError(request.channel, this.requestTimeoutMs) }),
    );
    this.initializeSerializer(options);
    this.initializeDeserializer(options);
  }

  /** Connects (idempotent) and subscribes the reply inbox; resolves with the HypsClient. */
  connect(): Promise<HypsClient> {
    if (this.connection) return this.connection;
    const attempt = this.open();
    this.connection = attempt;
    attempt.catch(() => {
      // A failed attempt is not cached: the next send/emit/connect tries again.
      if (this.connection === attempt) this.connection = null;
    });
    return attempt;
  }

  /** Fails requests still waiting, unsubscribes the inbox and closes the connection it owns. */
  async close(): Promise<void> {
    const hyps = this.hyps;
    this.hyps = null;
    this.ready = null;
    this.connection = null;
    for (const [id, request] of this.pending.all()) {
      this.settle(id, { err: new RequestCancelledError(request.channel), isDisposed: true });
    }
    this.inboxSubscription?.unsubscribe();
    this.inboxSubscription = null;
    const teardown = this.teardown.splice(0);
    // Listeners stay attached through the drain so that they see the final 'closed'.
    if (hyps && hyps !== this.options.client) await drainWithin(hyps, this.closeTimeoutMs);
    for (const undo of teardown) undo();
    if (hyps) this._status$.next('closed');
  }

  /** The HypsClient's status, then 'closed' once this proxy is closed. */
  override get status(): Observable<HypsStatus> {
    return super.status as Observable<HypsStatus>;
  }

  /** Registers a listener on the HypsClient, now and on every later connection. */
  override on<
    K extends keyof HypsClientEvents,
    F extends HypsClientEvents[K] = HypsClientEvents[K],
  >(event: K, callback: F): void {
    const listener: Listener = [event, callback as (...args: never[]) => void];
    this.listeners.push(listener);
    if (this.hyps) this.attach(this.hyps, listener);
  }

  /** The underlying HypsClient. */
  unwrap<T = HypsClient>(): T {
    if (!this.hyps) throw new Error('Not initialized. Please call the "connect" method first.');
    return this.hyps as T;
  }

  protected publish(
    partialPacket: ReadPacket,
    callback: (packet: WritePacket) => void,
  ): () => void {
    const packet = this.assignPacketId(partialPacket);
    const channel = this.normalizePattern(partialPacket.pattern);
    this.pending.add(packet.id, channel, callback);
    // The packet is this request's own (send() made it): add the inbox in place.
    const fields: HypsRequestFields = { replyTo: this.inbox };
    this.sendRequest(packet.id, channel, Object.assign(packet, fields));
    return () => this.pending.take(packet.id);
  }

  /** A counter is unique enough: ids only tell apart the replies arriving at this inbox. */
  protected override assignPacketId(packet: ReadPacket): ReadPacket & PacketId {
    return Object.assign(packet, { id: (++this.requestCount).toString(36) });
  }

  /**
   * Like Nest's emit (hot: the event is published even if nobody subscribes; the Observable
   * completes on the broker's ack), without its defer/mergeMap/connectable pipeline: once
   * connected, with a synchronous serializer, an event is one publish with a callback.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override emit<TResult = any, TInput = any>(pattern: unknown, data: TInput): Observable<TResult> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return throwError(() => new InvalidMessageException());
    }
    const hyps = this.ready;
    const packet = this.createPacket(pattern, data);
    const serialized: unknown = hyps ? this.serializer.serialize(packet) : undefined;
    if (!hyps || isThenable(serialized)) {
      const sent = this.publishLater(packet, serialized);
      return ackedEvent<TResult>((done) => sent.then(() => done(null), done));
    }
    const channel = this.normalizePattern(pattern as string);
    // The packet as createPacket made it (no serializer or hook changed it): encode only `data`.
    const message =
      serialized === packet && this.onDispatchHook === undefined && typeof pattern === 'string'
        ? encodeEventPacket(pattern, data)
        : encodePacket(serialized);
    return ackedEvent<TResult>((done) => hyps.publish(channel, message, done));
  }

  /** An event before the connection is ready, or one whose serializer is asynchronous. */
  private async publishLater(packet: ReadPacket, serialized: unknown): Promise<void> {
    if (!this.ready) {
      await this.connect();
      await this.dispatchEvent(packet);
      return;
    }
    const channel = this.normalizePattern(packet.pattern);
    await this.connected().publish(channel, encodePacket(await serialized));
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const channel = this.normalizePattern(packet.pattern);
    const serialized: unknown = await this.serializer.serialize(packet);
    await this.connected().publish(channel, encodePacket(serialized));
    return undefined as T;
  }

  private async open(): Promise<HypsClient> {
    const hyps = this.options.client ?? new HypsClient(hypsClientOptionsOf(this.options));
    this.hyps = hyps;
    const statusForwarding = hyps.status$.subscribe((status) => this._status$.next(status));
    this.teardown.push(() => statusForwarding.unsubscribe());
    for (const listener of this.listeners) this.attach(hyps, listener);
    try {
      await hyps.connect();
      const replies = hyps.subscribe(this.inbox);
      this.inboxSubscription = replies.subscribe({
        next: (message) => this.handleReply(message),
        error: (err: unknown) => this.logger.error(`reply inbox ${this.inbox} failed: ${err}`),
      });
      await replies.ready;
    } catch (err) {
      if (this.hyps === hyps) await this.close();
      throw err;
    }
    if (this.hyps !== hyps) throw new ClientClosedError('ClientHyps was closed while connecting');
    this.ready = hyps;
    return hyps;
  }

  /** Publishes a request; it fails at once when the broker found no responder. */
  private sendRequest(id: string, channel: string, packet: object): void {
    const fail = (err: unknown): void => this.settle(id, { err, isDisposed: true });
    const publish = (serialized: unknown): void => {
      if (!this.hyps) {
        fail(new ClientClosedError('ClientHyps is closed'));
        return;
      }
      this.hyps.publish(channel, encodePacket(serialized), (err, result) => {
        if (err) fail(err);
        else if (result?.receivers === 0) fail(new NoRespondersError(channel));
      });
    };
    try {
      const serialized: unknown = this.serializer.serialize(packet as ReadPacket);
      if (isThenable(serialized)) Promise.resolve(serialized).then(publish, fail);
      else publish(serialized);
    } catch (err) {
      fail(err);
    }
  }

  private handleReply(message: HypsMessage): void {
    try {
      const reply: unknown = this.deserializer.deserialize(decodePayload(message));
      // The default deserializer is synchronous: no microtask per reply when it is.
      if (isThenable(reply)) {
        Promise.resolve(reply).then(
          (resolved) => this.applyReply(resolved as IncomingResponse),
          (err: unknown) => this.logger.error(`cannot handle a reply: ${err}`),
        );
      } else {
        this.applyReply(reply as IncomingResponse);
      }
    } catch (err) {
      this.logger.error(`cannot handle a reply: ${err}`);
    }
  }

  private applyReply(reply: IncomingResponse): void {
    const request = this.pending.get(reply.id);
    if (!request) return; // a late reply to a request that already ended
    if (reply.isDisposed || reply.err) {
      this.settle(reply.id, { err: reply.err, response: reply.response, isDisposed: true });
      return;
    }
    this.pending.extend(request);
    request.callback({ err: reply.err, response: reply.response });
  }

  /** Ends a request with its last packet; later packets for it are ignored. */
  private settle(id: string, last: WritePacket): void {
    this.pending.take(id)?.callback(last);
  }

  private connected(): HypsClient {
    if (!this.hyps) throw new ClientClosedError('ClientHyps is closed');
    return this.hyps;
  }

  private attach(hyps: HypsClient, [event, callback]: Listener): void {
    this.teardown.push(listenOn(hyps, event, callback));
  }
}

/** The HypsClient part of ClientHypsOptions. */
function hypsClientOptionsOf(options: ClientHypsOptions): HypsClientOptions {
  return transportClientOptions(options, [
    'requestTimeoutMs',
    'inboxPrefix',
    'closeTimeoutMs',
    'client',
    'serializer',
    'deserializer',
  ]);
}
