import { Logger } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import type {
  Deserializer,
  IncomingResponse,
  ReadPacket,
  Serializer,
  WritePacket,
} from '@nestjs/microservices';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception.js';
import { Observable, throwError, type Subscription } from 'rxjs';
import { ClientClosedError, HypsClient } from '../client/index.js';
import type { HypsClientOptions, HypsMessage, HypsStatus } from '../client/index.js';
import { isThenable } from './thenable.js';
import {
  DEFAULT_CLOSE_TIMEOUT_MS,
  drainWithin,
  listenOn,
  transportClientOptions,
} from './lifecycle.js';
import { NoRespondersError, RequestCancelledError, RequestTimeoutError } from './nest-errors.js';
import { createInbox, decodePayload, DEFAULT_INBOX_PREFIX, encodePacket } from './packet.js';

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

interface PendingRequest {
  readonly channel: string;
  readonly callback: (packet: WritePacket) => void;
  timer: NodeJS.Timeout | undefined;
}

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
  private readonly pending = new Map<string, PendingRequest>();
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
    for (const [id, request] of [...this.pending]) {
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
    const request: PendingRequest = { channel, callback, timer: undefined };
    this.pending.set(packet.id, request);
    this.armTimeout(packet.id, request);
    this.sendRequest(packet.id, channel, { ...packet, replyTo: this.inbox }).catch((err) =>
      this.settle(packet.id, { err, isDisposed: true }),
    );
    return () => this.forget(packet.id);
  }

  /**
   * Like Nest's emit (hot: the event is published even if nobody subscribes; the Observable
   * completes on the broker's ack), without its defer/mergeMap/connectable pipeline: once
   * connected an event costs one publish promise.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override emit<TResult = any, TInput = any>(pattern: unknown, data: TInput): Observable<TResult> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return throwError(() => new InvalidMessageException());
    }
    const sent = this.publishEvent(pattern, data);
    sent.catch(() => undefined); // subscribers see the error; there may be none
    return new Observable<TResult>((subscriber) => {
      sent.then(
        () => subscriber.complete(),
        (err: unknown) => subscriber.error(err),
      );
    });
  }

  /**
   * Like Nest's send (cold: the request goes out on subscribe; replies stream until disposed),
   * without the defer/mergeMap hop once connected. Before that, Nest's own path connects first.
   */
  // Same defaults as ClientProxy#send, so callers' inferred types do not change.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override send<TResult = any, TInput = any>(pattern: unknown, data: TInput): Observable<TResult> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return throwError(() => new InvalidMessageException());
    }
    if (!this.ready) return super.send<TResult, TInput>(pattern, data);
    return new Observable<TResult>((observer) =>
      this.publish(this.createPacket(pattern, data), this.createObserver(observer)),
    );
  }

  private publishEvent(pattern: unknown, data: unknown): Promise<unknown> {
    const hyps = this.ready;
    if (!hyps) {
      return this.connect().then(() => this.dispatchEvent(this.createPacket(pattern, data)));
    }
    const serialized: unknown = this.serializer.serialize(this.createPacket(pattern, data));
    const channel = this.normalizePattern(pattern as string);
    if (isThenable(serialized)) {
      return Promise.resolve(serialized).then((value) =>
        hyps.publish(channel, encodePacket(value)),
      );
    }
    return hyps.publish(channel, encodePacket(serialized));
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

  private async sendRequest(id: string, channel: string, packet: object): Promise<void> {
    const serialized: unknown = await this.serializer.serialize(packet as ReadPacket);
    const { receivers } = await this.connected().publish(channel, encodePacket(serialized));
    if (receivers === 0) this.settle(id, { err: new NoRespondersError(channel), isDisposed: true });
  }

  private handleReply(message: HypsMessage): void {
    Promise.resolve(this.deserializer.deserialize(decodePayload(message)))
      .then((reply: IncomingResponse) => {
        const request = this.pending.get(reply.id);
        if (!request) return; // a late reply to a request that already ended
        if (reply.isDisposed || reply.err) {
          this.settle(reply.id, { err: reply.err, response: reply.response, isDisposed: true });
          return;
        }
        this.armTimeout(reply.id, request);
        request.callback({ err: reply.err, response: reply.response });
      })
      .catch((err: unknown) => this.logger.error(`cannot handle a reply: ${err}`));
  }

  /** Starts (or restarts, on each streamed reply) the request's timeout. */
  private armTimeout(id: string, request: PendingRequest): void {
    if (request.timer) {
      request.timer.refresh();
      return;
    }
    request.timer = setTimeout(
      () =>
        this.settle(id, { err: new RequestTimeoutError(request.channel, this.requestTimeoutMs) }),
      this.requestTimeoutMs,
    );
  }

  /** Ends a request with its last packet; later packets for it are ignored. */
  private settle(id: string, last: WritePacket): void {
    const request = this.pending.get(id);
    if (!request) return;
    this.forget(id);
    request.callback(last);
  }

  private forget(id: string): void {
    const request = this.pending.get(id);
    if (!request) return;
    clearTimeout(request.timer);
    this.pending.delete(id);
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
