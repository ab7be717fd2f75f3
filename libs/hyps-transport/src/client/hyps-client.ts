import { distinctUntilChanged, ReplaySubject, type Observable } from 'rxjs';
import { assertValidName, DEFAULT_MAX_CHANNEL_BYTES } from '../protocol/channel.js';
import { encodeSub, encodeUnsub, type InfoPayload } from '../protocol/encode.js';
import {
  AuthFailedError,
  InvalidChannelError,
  UnsupportedProtocolError,
} from '../protocol/errors.js';
import {
  callPublishCallback,
  failPublishCallback,
  type PublishCallback,
  type PublishResult,
} from './ack-queue.js';
import { ChannelNameMemo } from './channel-name-memo.js';
import { Backoff } from './backoff.js';
import {
  ClientConnection,
  type ConnectionEvents,
  type ConnectionSettings,
} from './client-connection.js';
import { ClientClosedError, ClientConfigError, ConnectionClosedError } from './client-errors.js';
import { ClientEvents, type HypsClientEventMap, type HypsStatus } from './client-events.js';
import {
  resolveClientOptions,
  type HypsClientOptions,
  type ResolvedClientOptions,
} from './client-options.js';
import { GenerationalCache } from './generational-cache.js';
import { HeldPublishes } from './held-publishes.js';
import { LocalRouter, LocalSubscriber, type MessageTarget, type SubEntry } from './local-router.js';
import {
  MessageObservable,
  type Attachment,
  type HypsSubscribeOptions,
  type HypsSubscription,
} from './message-observable.js';
import {
  PullSubscription,
  type HypsPullOptions,
  type HypsPullSubscription,
} from './pull-subscription.js';

/**
 * Validated channels kept as bytes for the general publish path (channels that are not printable
 * ASCII, and publishes held while disconnected): up to twice this many, in two generations.
 */
const CHANNEL_CACHE_LIMIT = 10_000;

/** idle: never started; failed: gave up (connect() starts over); closed: close() was called. */
type Phase = 'idle' | 'running' | 'failed' | 'closed';

const noop = (): void => undefined;

function isPublishData(data: unknown): data is string | Uint8Array {
  return typeof data === 'string' || data instanceof Uint8Array;
}

/** A publish refused before it was queued: a rejected promise, or the callback on a later tick. */
function failPublish(error: Error, callback: PublishCallback | undefined): Promise<never> | void {
  if (callback === undefined) return Promise.reject(error);
  process.nextTick(callback, error);
}

/**
 * What attach returns for one local subscriber: an object, where a `detach` closure would keep a
 * closure and its scope alive for every subscription (thousands on one client).
 */
class Registration implements Attachment {
  constructor(
    readonly ready: Promise<void>,
    private readonly subscriber: LocalSubscriber,
    private readonly release: (subscriber: LocalSubscriber) => void,
  ) {}

  detach(): void {
    this.release(this.subscriber);
  }
}

/**
 * A Hyps client: one TCP connection to the broker that carries every publish and every local
 * subscription, batched per tick, with reconnect. Framework-free; the Nest adapters wrap it.
 */
export class HypsClient {
  readonly status$: Observable<HypsStatus>;
  private readonly options: ResolvedClientOptions;
  private readonly settings: ConnectionSettings;
  private readonly statusSubject = new ReplaySubject<HypsStatus>(1);
  private currentStatus: HypsStatus = 'closed';
  private phase: Phase = 'idle';
  /** The connection publishes go to: set only while its handshake is done and it is open. */
  private connection: ClientConnection | null = null;
  /** A connection still in its handshake. */
  private opening: ClientConnection | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly backoff: Backoff;
  private everConnected = false;
  private connectDeadline = 0;
  private failedAttempts = 0;
  private lastError: Error | undefined;
  private connectWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private drainWaiters: Array<() => void> = [];
  private closing: Promise<void> | null = null;
  private readonly router = new LocalRouter();
  private readonly held: HeldPublishes;
  private readonly channelCache = new GenerationalCache<string, Buffer>(CHANNEL_CACHE_LIMIT);
  private maxChannelBytes = DEFAULT_MAX_CHANNEL_BYTES;
  private brokerInfo: InfoPayload | undefined;
  private droppedTotal = 0;
  private readonly listeners = new ClientEvents();
  /** Undoes attach(): one function for every Registration. */
  private readonly release = (subscriber: LocalSubscriber): void => this.detach(subscriber);
  private readonly channelNames = new ChannelNameMemo();
  private readonly groupNames = new ChannelNameMemo();
  private readonly events: ConnectionEvents = {
    onRecord: (buf, channelStart, channelEnd, messageEnd) => {
      if (!this.router.hasPlainSubscribers) return;
      this.router.routeRecord(buf, channelStart, channelEnd, channelEnd + 1, messageEnd);
    },
    onGroupMessage: (group, buf, channelStart, channelEnd, messageEnd) => {
      const channel = this.channelNames.decode(buf, channelStart, channelEnd);
      const groupName = this.groupNames.decode(group, 0, group.length);
      this.router.routeGroup(groupName, channel, buf, channelEnd + 1, messageEnd);
    },
    onDropped: (count) => {
      this.droppedTotal += count;
      this.emit('dropped', count, this.droppedTotal);
    },
    onSettled: () => this.checkDrained(),
    onClosed: (connection, error) => this.onConnectionLost(connection, error),
  };

  constructor(options: HypsClientOptions = {}) {
    this.options = resolveClientOptions(options);
    const { host, port, tls, name, token, user, secret, flushThresholdBytes } = this.options;
    this.settings = { host, port, tls, name, token, user, secret, flushThresholdBytes };
    this.backoff = new Backoff(this.options.reconnectDelayMs, this.options.maxReconnectDelayMs);
    this.held = new HeldPublishes(
      this.options.pendingPublishLimit,
      this.options.pendingPublishTimeoutMs,
      () => this.checkDrained(),
    );
    this.status$ = this.statusSubject.pipe(distinctUntilChanged());
  }

  /** `closed` before the first connect(), after close() and after giving up. */
  get status(): HypsStatus {
    return this.currentStatus;
  }

  /** Deliveries the broker dropped for this client (running total of DROPPED frames). */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** The last INFO the broker sent. */
  get info(): InfoPayload | undefined {
    return this.brokerInfo;
  }

  /**
   * Resolves once connected (INFO received, HELLO acknowledged). Idempotent. With reconnect on, a
   * first connect that fails is retried with backoff until connectTimeoutMs has passed; auth and
   * protocol-version failures reject at once.
   */
  connect(): Promise<void> {
    if (this.phase === 'closed') return Promise.reject(new ClientClosedError());
    if (this.connection) return Promise.resolve();
    const connected = new Promise<void>((resolve, reject) => {
      this.connectWaiters.push({ resolve, reject });
    });
    if (this.phase !== 'running') this.begin();
    return connected;
  }

  /** Closes now. Waiting publishes reject with ConnectionClosedError; observers complete. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.phase = 'closed';
    this.clearRetryTimer();
    const error = new ConnectionClosedError('the Hyps client was closed');
    const connections = [this.connection, this.opening];
    this.connection = null;
    this.opening = null;
    const sockets = connections.map((connection) => connection?.destroy(error));
    this.held.rejectAll(error);
    this.rejectConnectWaiters(new ClientClosedError());
    this.endSubscribers(new ClientClosedError(), undefined);
    this.channelCache.clear();
    this.setStatus('closed');
    this.statusSubject.complete();
    for (const resolve of this.drainWaiters.splice(0)) resolve();
    this.closing = Promise.all(sockets).then(noop);
    return this.closing;
  }

  /** Waits until every publish made so far has been answered (or failed), then closes. */
  async drain(): Promise<void> {
    if (this.phase !== 'closed') {
      this.connection?.flush();
      await new Promise<void>((resolve) => {
        this.drainWaiters.push(resolve);
        this.checkDrained();
      });
    }
    await this.close();
  }

  /**
   * Publishes one message. Resolves with the number of deliveries once the broker routed it.
   * While disconnected the publish is held (bounded by pendingPublishLimit and
   * pendingPublishTimeoutMs); it never hangs. With a `callback` there is no promise: it is
   * called once, on a later tick, with `(null, result)` or `(error)`; the cheaper form for
   * publishers that send many messages.
   */
  publish(channel: string, data: string | Uint8Array): Promise<PublishResult>;
  publish(channel: string, data: string | Uint8Array, callback: PublishCallback): void;
  publish(
    channel: string,
    data: string | Uint8Array,
    callback?: PublishCallback,
  ): Promise<PublishResult> | void {
    if (callback !== undefined && typeof callback !== 'function') {
      throw new TypeError('the publish callback must be a function');
    }
    const connection = this.connection;
    if (connection !== null && typeof channel === 'string' && isPublishData(data)) {
      // The connection checks a string channel while it writes it; null or false: not written.
      if (callback === undefined) {
        const published = connection.publish(channel, data);
        if (published !== null) return published;
      } else if (connection.publishCallback(channel, data, callback)) {
        return;
      }
    }
    return this.publishChecked(channel, data, callback);
  }

  /** A cold Observable of the messages matching `patterns` (see HypsSubscription). */
  subscribe(patterns: string | string[], options: HypsSubscribeOptions = {}): HypsSubscription {
    const list = Array.isArray(patterns) ? patterns : [patterns];
    const problem = this.subscriptionProblem(list, options.group);
    return new MessageObservable((subscriber) => {
      if (problem) return this.refuse(problem, subscriber);
      return this.attach(list, options.group, subscriber);
    }, problem);
  }

  /** The same messages as an async iterable with a bounded buffer (see HypsPullSubscription). */
  iterate(patterns: string | string[], options: HypsPullOptions = {}): HypsPullSubscription {
    const list = Array.isArray(patterns) ? patterns : [patterns];
    const problem = this.subscriptionProblem(list, options.group);
    return new PullSubscription(options, (pull) => {
      const target: MessageTarget = {
        next: (message) => pull.push(message),
        error: (error) => pull.end(error),
        complete: () => pull.end(undefined),
      };
      if (problem) return this.refuse(problem, target);
      return this.attach(list, options.group, target);
    });
  }

  on(event: 'error', fn: (error: Error) => void): () => void;
  on(event: 'dropped', fn: (count: number, total: number) => void): () => void;
  on(event: 'status', fn: (status: HypsStatus) => void): () => void;
  on(event: keyof HypsClientEventMap, fn: (...args: never[]) => void): () => void {
    return this.listeners.on(event, fn as HypsClientEventMap[typeof event]);
  }

  // ---- subscriptions ----

  private subscriptionProblem(patterns: string[], group: string | undefined): Error | undefined {
    try {
      if (patterns.length === 0)
        throw new InvalidChannelError('subscribe needs at least one pattern');
      for (const pattern of patterns) assertValidName(pattern, 'pattern', this.maxChannelBytes);
      if (group !== undefined) assertValidName(group, 'group', this.maxChannelBytes);
      return undefined;
    } catch (error) {
      return error as Error;
    }
  }

  private refuse(error: Error, target: Pick<MessageTarget, 'error'>): Attachment {
    target.error(error);
    const ready = Promise.reject(error);
    ready.catch(noop);
    return { ready, detach: noop };
  }

  private attach(patterns: string[], group: string | undefined, target: MessageTarget): Attachment {
    if (this.phase === 'closed') return this.refuse(new ClientClosedError(), target);
    if (this.phase === 'failed') return this.refuse(this.notConnectedError(), target);
    if (this.phase === 'idle') this.connect().catch(noop);
    const subscriber = new LocalSubscriber(patterns, group, target);
    const created = this.router.add(subscriber);
    const connection = this.connection;
    if (connection) for (const entry of created) this.sendSub(connection, entry);
    const { entries } = subscriber;
    const ready =
      entries.length === 1
        ? entries[0]!.whenAcked()
        : Promise.all(entries.map((entry) => entry.whenAcked())).then(noop);
    ready.catch(noop);
    return new Registration(ready, subscriber, this.release);
  }

  private detach(subscriber: LocalSubscriber): void {
    const released = this.router.remove(subscriber);
    const connection = this.connection;
    if (!connection) return; // the next connection only re-SUBs what is still held
    for (const entry of released) {
      connection.command(encodeUnsub(entry.pattern, entry.group), noop, (error) => {
        if (!(error instanceof ConnectionClosedError)) this.emit('error', error);
      });
    }
  }

  private sendSub(connection: ClientConnection, entry: SubEntry): void {
    connection.command(
      encodeSub(entry.pattern, entry.group),
      () => entry.markAcked(),
      (error) => this.onSubRefused(entry, error),
    );
  }

  private onSubRefused(entry: SubEntry, error: Error): void {
    if (error instanceof ConnectionClosedError) {
      // A live entry is sent again on the next connection; a released one is simply gone.
      if (!this.router.isCurrent(entry)) entry.markFailed(error);
      return;
    }
    const members = this.router.fail(entry);
    entry.markFailed(error);
    for (const member of members) member.end(error);
  }

  /** Ends every local subscriber; entries first, so no `ready` is left pending. */
  private endSubscribers(entryError: Error, subscriberError: Error | undefined): void {
    for (const entry of this.router.allEntries()) entry.markFailed(entryError);
    for (const subscriber of this.router.allSubscribers()) subscriber.end(subscriberError);
  }

  // ---- publishing ----

  /**
   * A publish the fast path did not take (no connection, a channel that is not printable ASCII,
   * or bad arguments): the channel is validated into bytes, which are cached, and a problem is
   * reported the way the caller asked for results.
   */
  private publishChecked(
    channel: string,
    data: string | Uint8Array,
    callback: PublishCallback | undefined,
  ): Promise<PublishResult> | void {
    let channelBytes: Buffer;
    try {
      channelBytes = this.channelBytes(channel);
    } catch (error) {
      return failPublish(error as Error, callback);
    }
    if (!isPublishData(data)) {
      return failPublish(new TypeError('publish data must be a string or a Uint8Array'), callback);
    }
    // The held paths are methods of their own: a closure here would make every publish
    // allocate a context for the variables it captures, taken branch or not.
    const connection = this.connection;
    if (callback === undefined) {
      // A channel given as bytes is always written.
      if (connection !== null) return connection.publish(channelBytes, data)!;
      return this.publishLaterPromise(channelBytes, data);
    }
    if (connection !== null) connection.publishCallback(channelBytes, data, callback);
    else this.publishLaterCallback(channelBytes, data, callback);
  }

  /** The channel's validated UTF-8 bytes; throws InvalidChannelError. */
  private channelBytes(channel: string): Buffer {
    const cached = typeof channel === 'string' ? this.channelCache.get(channel) : undefined;
    if (cached !== undefined) return cached;
    const bytes = assertValidName(channel, 'channel', this.maxChannelBytes);
    this.channelCache.set(channel, bytes);
    return bytes;
  }

  private publishLaterPromise(channel: Buffer, data: string | Uint8Array): Promise<PublishResult> {
    return new Promise((resolve, reject) => this.publishLater(channel, data, resolve, reject));
  }

  private publishLaterCallback(
    channel: Buffer,
    data: string | Uint8Array,
    callback: PublishCallback,
  ): void {
    this.publishLater(
      channel,
      data,
      (result) => callPublishCallback(callback, result),
      (error) => failPublishCallback(callback, error),
    );
  }

  /** Holds a publish until a connection is ready, or fails it when none is coming. */
  private publishLater(
    channel: Buffer,
    data: string | Uint8Array,
    resolve: (result: PublishResult) => void,
    reject: (error: Error) => void,
  ): void {
    if (this.phase === 'closed') {
      process.nextTick(reject, new ClientClosedError());
      return;
    }
    if (this.phase === 'failed') {
      process.nextTick(reject, this.notConnectedError());
      return;
    }
    if (this.phase === 'idle') this.connect().catch(noop);
    this.held.add(channel, data, resolve, reject);
  }

  private checkDrained(): void {
    if (this.drainWaiters.length === 0) return;
    if ((this.connection?.pendingPublishes ?? 0) + this.held.size > 0) return;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  // ---- connection life ----

  private begin(): void {
    this.phase = 'running';
    this.everConnected = false;
    this.failedAttempts = 0;
    this.lastError = undefined;
    this.backoff.reset();
    this.connectDeadline = Date.now() + this.options.connectTimeoutMs;
    this.setStatus('connecting');
    this.openConnection();
  }

  private openConnection(): void {
    this.retryTimer = null;
    const timeoutMs = this.everConnected
      ? this.options.connectTimeoutMs
      : Math.max(1, this.connectDeadline - Date.now());
    let connection: ClientConnection;
    try {
      connection = new ClientConnection(this.settings, this.events, timeoutMs);
    } catch (error) {
      this.giveUp(error as Error);
      return;
    }
    this.opening = connection;
    connection.opened().then(
      (info) => this.onOpened(connection, info),
      (error: Error) => this.onOpenFailed(connection, error),
    );
  }

  private onOpened(connection: ClientConnection, info: InfoPayload): void {
    if (this.opening !== connection) return; // closed meanwhile
    this.opening = null;
    if (!connection.isOpen) {
      this.onOpenFailed(connection, new ConnectionClosedError('connection closed after HELLO'));
      return;
    }
    this.connection = connection;
    this.brokerInfo = info;
    if (info.maxChannelBytes !== this.maxChannelBytes) {
      this.maxChannelBytes = info.maxChannelBytes;
      this.channelCache.clear();
    }
    this.everConnected = true;
    this.failedAttempts = 0;
    this.lastError = undefined;
    this.backoff.reset();
    // Subscriptions first, then what was held: a held publish may be meant for them.
    for (const entry of this.router.allEntries()) {
      entry.acked = false;
      this.sendSub(connection, entry);
    }
    this.held.release((held) =>
      connection.publishWith(held.channel, held.data, held.resolve, held.reject),
    );
    this.setStatus('connected');
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
  }

  private onOpenFailed(connection: ClientConnection, error: Error): void {
    if (this.opening !== connection) return;
    this.opening = null;
    this.lastError = error;
    if (isPermanent(error) || !this.options.reconnect) {
      this.giveUp(error);
      return;
    }
    if (!this.everConnected) {
      const delay = this.backoff.next();
      if (Date.now() + delay >= this.connectDeadline) this.giveUp(error);
      else this.scheduleAttempt(delay);
      return;
    }
    this.failedAttempts++;
    if (this.failedAttempts >= this.options.maxReconnectAttempts) this.giveUp(error);
    else this.scheduleAttempt(this.backoff.next());
  }

  private onConnectionLost(connection: ClientConnection, error: Error): void {
    if (this.connection !== connection) return;
    this.connection = null;
    for (const entry of this.router.allEntries()) entry.acked = false;
    if (this.phase !== 'running') return;
    this.lastError = error;
    if (!this.options.reconnect || isPermanent(error) || this.options.maxReconnectAttempts < 1) {
      this.giveUp(error);
      return;
    }
    // A fatal ERR (shutdown, timeout) is worth reporting; a plain close shows in the status.
    if (!(error instanceof ConnectionClosedError)) this.emit('error', error);
    this.failedAttempts = 0;
    this.setStatus('reconnecting');
    this.scheduleAttempt(this.backoff.next());
  }

  private scheduleAttempt(delayMs: number): void {
    this.clearRetryTimer();
    this.retryTimer = setTimeout(() => this.openConnection(), delayMs);
  }

  /** No more attempts: fail what waits, end the subscribers; connect() may start over. */
  private giveUp(error: Error): void {
    this.phase = 'failed';
    this.lastError = error;
    this.clearRetryTimer();
    this.held.rejectAll(this.notConnectedError());
    this.rejectConnectWaiters(error);
    this.endSubscribers(error, error);
    this.setStatus('closed');
    this.emit('error', error);
    this.checkDrained();
  }

  private notConnectedError(): ConnectionClosedError {
    const cause = this.lastError;
    return new ConnectionClosedError(
      `not connected to the Hyps broker at ${this.options.host}:${this.options.port}` +
        (cause ? `: ${cause.message}` : ''),
      { cause },
    );
  }

  private rejectConnectWaiters(error: Error): void {
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(error);
  }

  private clearRetryTimer(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  // ---- status and events ----

  private setStatus(status: HypsStatus): void {
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this.statusSubject.next(status);
    this.emit('status', status);
  }

  private emit<E extends keyof HypsClientEventMap>(
    event: E,
    ...args: Parameters<HypsClientEventMap[E]>
  ): void {
    this.listeners.emit(event, ...args);
  }
}

function isPermanent(error: Error): boolean {
  return (
    error instanceof AuthFailedError ||
    error instanceof UnsupportedProtocolError ||
    error instanceof ClientConfigError
  );
}
