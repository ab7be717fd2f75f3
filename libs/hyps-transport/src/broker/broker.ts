import type { Server, Socket } from 'node:net';
import { channelProblem } from '../protocol/channel.js';
import { encodeErr, encodeGroupMsgHead } from '../protocol/encode.js';
import { ErrorCode, PREFIX_BYTES } from '../protocol/opcodes.js';
import { Authenticator, type Grant } from './auth.js';
import { BrokerConfigError } from './broker-config-error.js';
import { BrokerConnection, type ConnectionHost } from './broker-connection.js';
import { BrokerCounters } from './broker-counters.js';
import { createListener } from './listener.js';
import { DEFAULT_BROKER_OPTIONS, type BrokerOptions } from './options.js';
import { RoutingTable, type Route, type Subscription } from './routing-table.js';

/** Counters for operators and tests. */
export interface BrokerStats {
  connections: number;
  subscriptions: number;
  patterns: number;
  published: number;
  delivered: number;
  dropped: number;
  bytesIn: number;
  bytesOut: number;
  connectionsAccepted: number;
  connectionsRejected: number;
  /** ERR frames sent, by wire code. */
  errors: Record<number, number>;
}

/** Where the broker is in its life: health checks report ready only while `listening`. */
export type BrokerState = 'idle' | 'listening' | 'draining' | 'closed';

/** Injected time source, so timer behaviour can be driven by tests. */
export interface BrokerClock {
  now(): number;
}

/**
 * Chunk-end writes (flushNow) per poll phase. The first chunks of a phase are written as soon as
 * they are routed, so a pipelining client works on them while the broker reads on; a phase that
 * reads more than this (a broker behind its publishers) leaves the rest to one write per
 * connection at its end, since a write per chunk would then cost the broker more than it saves.
 */
const EARLY_FLUSHES_PER_PHASE = 2;

/** Bounds on the sweeper that checks connection timers. */
const MIN_SWEEP_MS = 5;
const MAX_SWEEP_MS = 1_000;

/**
 * The Hyps broker (PROTOCOL.md): accepts connections, routes records by channel, answers
 * commands, and writes to each connection once per turn of the event loop.
 */
export class Broker implements ConnectionHost {
  readonly options: BrokerOptions;
  readonly authMode: BrokerOptions['auth']['mode'];
  private readonly auth: Authenticator;
  private readonly routes = new RoutingTable<BrokerConnection>();
  private readonly connections = new Set<BrokerConnection>();
  private readonly clock: BrokerClock;
  private server: Server | null = null;
  private dirty: BrokerConnection[] = [];
  /** flushNow writes in this poll phase so far (reset at the end-of-phase flush). */
  private earlyFlushes = 0;
  private flushQueued = false;
  private sweeper: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  readonly counters = new BrokerCounters();
  private lifecycle: BrokerState = 'idle';
  private boundAddress: { host: string; port: number } | null = null;

  constructor(options: Partial<BrokerOptions> = {}, clock: BrokerClock = Date) {
    this.options = { ...DEFAULT_BROKER_OPTIONS, ...options };
    validateOptions(this.options);
    this.auth = new Authenticator(this.options.auth);
    this.authMode = this.auth.mode;
    this.clock = clock;
  }

  /** Starts listening; resolves with the bound address (the real port when `port` is 0). */
  async listen(): Promise<{ host: string; port: number }> {
    if (this.boundAddress) return this.boundAddress;
    const server = createListener(
      this.options,
      (socket) => this.accept(socket),
      () => this.connections.size,
    );
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.options.port;
    this.boundAddress = { host: this.options.host, port };
    this.lifecycle = 'listening';
    this.startSweeper();
    return this.boundAddress;
  }

  get address(): { host: string; port: number } | null {
    return this.boundAddress;
  }

  get state(): BrokerState {
    return this.lifecycle;
  }

  stats(): BrokerStats {
    const { counters } = this;
    return {
      connections: this.connections.size,
      subscriptions: this.routes.size,
      patterns: this.routes.wildcardCount,
      published: counters.published,
      delivered: counters.delivered,
      dropped: counters.dropped,
      bytesIn: counters.bytesIn,
      bytesOut: counters.bytesOut,
      connectionsAccepted: counters.connectionsAccepted,
      connectionsRejected: counters.connectionsRejected,
      errors: Object.fromEntries(counters.errors),
    };
  }

  /**
   * Graceful shutdown: stop accepting, send each connection ERR 8 after what is already queued
   * for it, give the writes up to shutdownTimeoutMs, then close whatever is left.
   */
  drain(): Promise<void> {
    this.draining ??= this.runDrain();
    return this.draining;
  }

  /** Closes every connection and the listener at once. */
  async close(): Promise<void> {
    this.lifecycle = 'closed';
    const open = [...this.connections];
    for (const connection of open) connection.destroy();
    await Promise.all(open.map((connection) => connection.whenClosed()));
    await this.stopListening();
    this.stopSweeper();
  }

  now(): number {
    return this.clock.now();
  }

  newNonce(): string | undefined {
    return this.auth.newNonce();
  }

  authenticate(hello: Record<string, unknown>, nonce: string | undefined): Grant | null {
    return this.auth.verify(hello, nonce);
  }

  publish(
    from: BrokerConnection,
    buf: Buffer,
    frameStart: number,
    channelEnd: number,
    frameEnd: number,
  ): void {
    const channelStart = frameStart + PREFIX_BYTES;
    let id = from.routeMemo.lookup(buf, channelStart, channelEnd, this.routes);
    if (id < 0) id = this.resolveRoute(from, buf, channelStart, channelEnd);
    if (id < 0) return;
    const sole = this.routes.soleReceiverOf(id);
    const delivered =
      sole !== undefined
        ? this.deliverToSole(sole, buf, frameStart, frameEnd)
        : this.deliverToRoute(this.routes.routeOf(id), buf, frameStart, channelStart, frameEnd);
    this.counters.published++;
    this.counters.delivered += delivered;
    from.answerOk(delivered);
  }

  /** A record to a route's only receiver; returns the deliveries made (0 or 1). */
  private deliverToSole(
    receiver: BrokerConnection,
    buf: Buffer,
    frameStart: number,
    frameEnd: number,
  ): number {
    if (receiver.deliver(buf, frameStart, frameEnd)) return 1;
    this.counters.dropped++;
    return 0;
  }

  /** A record to every plain receiver of a route and one member per group; returns deliveries. */
  private deliverToRoute(
    route: Route<BrokerConnection>,
    buf: Buffer,
    frameStart: number,
    channelStart: number,
    frameEnd: number,
  ): number {
    let delivered = 0;
    let dropped = 0;
    const plain = route.plain;
    for (let i = 0; i < plain.length; i++) {
      if (plain[i]!.deliver(buf, frameStart, frameEnd)) delivered++;
      else dropped++;
    }
    const groups = route.groups;
    for (let g = 0; g < groups.length; g++) {
      const { state, members } = groups[g]!;
      const head = encodeGroupMsgHead(state.nameBytes, frameEnd - channelStart);
      // Fair rotation; members this delivery would take over their bound are skipped.
      const turn = state.next++ % members.length;
      if (state.next >= members.length) state.next = 0;
      let chosen = false;
      for (let k = 0; k < members.length && !chosen; k++) {
        chosen = members[(turn + k) % members.length]!.deliverToGroup(
          head,
          buf,
          channelStart,
          frameEnd,
        );
      }
      if (chosen) delivered++;
      else {
        members[turn]!.countDrop();
        dropped++;
      }
    }
    this.counters.dropped += dropped;
    return delivered;
  }

  /**
   * The route cache id of a channel not in the connection's memo: validated, permission-checked
   * and remembered. Returns -1 after answering ERR.
   */
  private resolveRoute(
    from: BrokerConnection,
    buf: Buffer,
    channelStart: number,
    channelEnd: number,
  ): number {
    let id = this.routes.cachedAt(buf, channelStart, channelEnd);
    if (id < 0) {
      const { maxChannelBytes } = this.options;
      const problem = channelProblem(buf, channelStart, channelEnd, 'channel', maxChannelBytes);
      if (problem !== null) {
        from.answerError(ErrorCode.INVALID_CHANNEL, problem);
        return -1;
      }
      id = this.routes.route(buf.toString('latin1', channelStart, channelEnd));
    }
    const permissions = from.grant?.permissions;
    if (permissions && !permissions.canPublish(this.routes.channelOf(id).split('.'))) {
      const shown = buf.toString('utf8', channelStart, channelEnd);
      from.answerError(ErrorCode.PERMISSION_DENIED, `not allowed to publish to '${shown}'`);
      return -1;
    }
    from.routeMemo.remember(id, this.routes.version);
    return id;
  }

  subscribe(
    owner: BrokerConnection,
    pattern: string,
    group: string | null,
  ): Subscription<BrokerConnection> {
    return this.routes.add(owner, pattern, group);
  }

  unsubscribe(subscription: Subscription<BrokerConnection>): void {
    this.routes.remove(subscription);
  }

  scheduleFlush(connection: BrokerConnection): void {
    this.dirty.push(connection);
    if (this.flushQueued) return;
    this.flushQueued = true;
    // setImmediate runs after every socket read of this poll phase: one write per connection
    // covers all of them, and what flushNow left (see EARLY_FLUSHES_PER_PHASE).
    setImmediate(this.flushAll);
  }

  flushNow(last: BrokerConnection): void {
    if (this.dirty.length === 0 || this.earlyFlushes >= EARLY_FLUSHES_PER_PHASE) return;
    this.earlyFlushes++;
    this.flushDirty(last);
    last.flush();
  }

  closed(connection: BrokerConnection): void {
    this.connections.delete(connection);
    for (const subscription of connection.subscriptions.values()) this.routes.remove(subscription);
    connection.subscriptions.clear();
  }

  private readonly flushAll = (): void => {
    this.flushQueued = false;
    this.earlyFlushes = 0;
    this.flushDirty(null);
  };

  /** Flushes the connections that asked for it, but `skip`. */
  private flushDirty(skip: BrokerConnection | null): void {
    const dirty = this.dirty;
    this.dirty = [];
    for (let i = 0; i < dirty.length; i++) if (dirty[i] !== skip) dirty[i]!.flush();
  }

  private accept(socket: Socket): void {
    if (this.draining)
      return this.refuse(socket, ErrorCode.SHUTTING_DOWN, 'broker is shutting down');
    if (this.connections.size >= this.options.maxConnections) {
      const message = `broker is at ${this.options.maxConnections} connections`;
      return this.refuse(socket, ErrorCode.TOO_MANY_CONNECTIONS, message);
    }
    this.counters.connectionsAccepted++;
    this.connections.add(new BrokerConnection(socket, this));
  }

  /** Sends a fatal ERR instead of INFO and closes (PROTOCOL.md section 5). */
  private refuse(socket: Socket, code: number, message: string): void {
    this.counters.connectionsRejected++;
    this.counters.countError(code);
    socket.on('error', () => socket.destroy());
    socket.end(encodeErr(code, message));
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  private async runDrain(): Promise<void> {
    this.lifecycle = 'draining';
    const listenerClosed = this.stopListening();
    this.flushAll();
    const open = [...this.connections];
    const allClosed = Promise.all(open.map((connection) => connection.whenClosed()));
    for (const connection of open) connection.shutdown();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      allClosed.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.options.shutdownTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const connection of this.connections) connection.destroy();
      await allClosed;
    }
    await listenerClosed;
    this.stopSweeper();
    this.lifecycle = 'closed';
  }

  private stopListening(): Promise<void> {
    const server = this.server;
    if (!server || !server.listening) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private startSweeper(): void {
    const { helloTimeoutMs, frameTimeoutMs, pingIntervalMs } = this.options;
    const period = Math.max(
      MIN_SWEEP_MS,
      Math.min(MAX_SWEEP_MS, Math.min(helloTimeoutMs, frameTimeoutMs, pingIntervalMs) / 4),
    );
    this.sweeper = setInterval(() => {
      const now = this.now();
      for (const connection of this.connections) connection.checkTimers(now);
    }, period);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}

function validateOptions(options: BrokerOptions): void {
  const positive: (keyof BrokerOptions)[] = [
    'maxFrameBytes',
    'maxChannelBytes',
    'maxBufferedBytes',
    'maxSubscriptions',
    'maxConnections',
    'helloTimeoutMs',
    'pingIntervalMs',
    'frameTimeoutMs',
  ];
  for (const key of positive) {
    const value = options[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new BrokerConfigError(`${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (options.maxFrameBytes > options.maxBufferedBytes) {
    throw new BrokerConfigError(
      `maxFrameBytes (${options.maxFrameBytes}) exceeds maxBufferedBytes (${options.maxBufferedBytes}): a frame could never be queued`,
    );
  }
  if (options.maxFrameBytes > 0x7fffffff)
    throw new BrokerConfigError('maxFrameBytes must be below 2^31');
}
