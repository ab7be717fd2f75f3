import type { Socket } from 'node:net';
import { channelProblem } from '../protocol/channel.js';
import { encodeDropped, encodeErr, encodeInfo, PING_FRAME } from '../protocol/encode.js';
import { HypsError } from '../protocol/errors.js';
import { FrameDecoder, type ControlFrame, type FrameSink } from '../protocol/frame-decoder.js';
import { ErrorCode, isFatalErrorCode, PROTOCOL_VERSION } from '../protocol/opcodes.js';
import type { Grant } from './auth.js';
import type { BrokerCounters } from './broker-counters.js';
import type { BrokerOptions } from './options.js';
import { OutputQueue } from './output-queue.js';
import { RouteMemo } from './route-memo.js';
import type { Subscription } from './routing-table.js';

/** What a connection needs from its broker. */
export interface ConnectionHost {
  readonly options: BrokerOptions;
  readonly counters: BrokerCounters;
  now(): number;
  /** Routes a record from `from` and answers it. */
  publish(
    from: BrokerConnection,
    buf: Buffer,
    frameStart: number,
    channelEnd: number,
    frameEnd: number,
  ): void;
  subscribe(
    owner: BrokerConnection,
    pattern: string,
    group: string | null,
  ): Subscription<BrokerConnection>;
  unsubscribe(subscription: Subscription<BrokerConnection>): void;
  authenticate(hello: Record<string, unknown>, nonce: string | undefined): Grant | null;
  authMode: 'none' | 'token' | 'hmac';
  newNonce(): string | undefined;
  /** Asks for `flush()` at the end of this turn of the event loop. */
  scheduleFlush(connection: BrokerConnection): void;
  /**
   * After a chunk read from `last`: flushes every connection that asked for it now, `last` after
   * all the others (the deliveries routed from its chunk go out before its answers, as at the
   * end of the turn), unless this poll phase has had its early writes.
   */
  flushNow(last: BrokerConnection): void;
  closed(connection: BrokerConnection): void;
}

type State = 'awaiting-hello' | 'open' | 'closing' | 'closed';

/** Time a connection closing after a fatal ERR gets to take it before it is destroyed. */
const CLOSE_GRACE_MS = 2_000;

/**
 * One client connection: decodes its frames, answers its commands in order, queues deliveries
 * to it within its byte bound, and enforces its timeouts (checked by the broker's sweeper).
 */
export class BrokerConnection implements FrameSink {
  state: State = 'awaiting-hello';
  grant: Grant | null = null;
  readonly subscriptions = new Map<string, Subscription<BrokerConnection>>();
  /** The route of this connection's last published channel (see RouteMemo). */
  readonly routeMemo = new RouteMemo<BrokerConnection>();
  /** Deliveries dropped since the last DROPPED notice. */
  private droppedSinceNotice = 0;
  droppedTotal = 0;
  private readonly output: OutputQueue;
  private readonly decoder: FrameDecoder;
  private readonly nonce: string | undefined;
  private readonly maxBufferedBytes: number;
  private flushPending = false;
  private readingPaused = false;
  private readonly openedAt: number;
  private partialSince = 0;
  private framesSeen = 0;
  private nextPingAt = 0;
  private pingsUnanswered = 0;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    const { options } = host;
    this.maxBufferedBytes = options.maxBufferedBytes;
    this.output = new OutputQueue(socket);
    this.decoder = new FrameDecoder(this, {
      from: 'client',
      maxFrameBytes: options.maxFrameBytes,
      maxChannelBytes: options.maxChannelBytes,
    });
    this.openedAt = host.now();
    this.nonce = host.newNonce();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onSocketDrained());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onClose());
    this.sendFrame(
      encodeInfo({
        protocol: PROTOCOL_VERSION,
        server: 'hyps',
        version: options.version,
        maxFrameBytes: options.maxFrameBytes,
        maxChannelBytes: options.maxChannelBytes,
        auth: host.authMode,
        ...(this.nonce === undefined ? {} : { nonce: this.nonce }),
      }),
    );
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Queues a delivery of `buf[start..end)` unless it would take this connection over its bound;
   * then it is dropped and counted (PROTOCOL.md section 6).
   */
  deliver(buf: Buffer, start: number, end: number): boolean {
    if (this.output.backlog + (end - start) > this.maxBufferedBytes || this.state !== 'open') {
      this.countDrop();
      return false;
    }
    this.output.pushRange(buf, start, end);
    this.requestFlush();
    return true;
  }

  /** Like `deliver`, for a GROUP_MSG made of its head and the publisher's record body. */
  deliverToGroup(head: Buffer, buf: Buffer, bodyStart: number, end: number): boolean {
    if (!this.hasRoomFor(head.length + end - bodyStart)) return false;
    this.output.pushFrame(head);
    this.output.pushRange(buf, bodyStart, end);
    this.requestFlush();
    return true;
  }

  hasRoomFor(bytes: number): boolean {
    return this.state === 'open' && this.output.backlog + bytes <= this.maxBufferedBytes;
  }

  countDrop(): void {
    this.droppedSinceNotice++;
    this.droppedTotal++;
  }

  answerOk(result: number): void {
    this.output.pushOk(result);
    this.requestFlush();
  }

  /** Answers the oldest unanswered command with ERR; a fatal code also closes the connection. */
  answerError(code: number, message: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.host.counters.countError(code);
    this.output.settleOks();
    this.output.pushFrame(encodeErr(code, message));
    if (isFatalErrorCode(code)) {
      this.closeAfterFlush();
    } else {
      this.requestFlush();
    }
  }

  /**
   * Writes what is queued. Called by the broker at the end of each poll phase, and after the
   * first chunks read in a phase (flushNow).
   */
  flush(): void {
    this.flushPending = false;
    if (this.state === 'closed') return;
    this.host.counters.bytesOut += this.output.flush();
    if (this.droppedSinceNotice > 0 && this.socket.writableLength === 0) this.sendDroppedNotice();
    if (
      !this.readingPaused &&
      this.socket.writableLength > this.maxBufferedBytes &&
      this.state === 'open'
    ) {
      // Answers are never dropped: a client that does not read them stops being read.
      this.readingPaused = true;
      this.socket.pause();
    }
  }

  /** Periodic checks of the HELLO, frame and keepalive timers (PROTOCOL.md section 5). */
  checkTimers(now: number): void {
    const { options } = this.host;
    if (this.state === 'awaiting-hello') {
      if (now - this.openedAt >= options.helloTimeoutMs)
        this.answerError(ErrorCode.TIMEOUT, 'no HELLO in time');
      return;
    }
    if (this.state !== 'open') return;
    if (this.readingPaused) {
      // Timers are suspended while the broker is not reading from this connection.
      if (this.socket.writableLength === 0) this.onSocketDrained();
      return;
    }
    if (this.partialSince !== 0 && now - this.partialSince >= options.frameTimeoutMs) {
      this.answerError(ErrorCode.TIMEOUT, 'frame left incomplete too long');
      return;
    }
    if (this.droppedSinceNotice > 0 && this.socket.writableLength === 0) this.onSocketDrained();
    if (now >= this.nextPingAt) {
      if (this.pingsUnanswered >= 2) {
        this.answerError(ErrorCode.TIMEOUT, 'two keepalive PINGs unanswered');
        return;
      }
      this.pingsUnanswered++;
      this.nextPingAt = now + options.pingIntervalMs;
      this.sendFrame(PING_FRAME);
    }
  }

  /** Shutdown: ERR 8 after whatever is already queued, then close. */
  shutdown(): void {
    this.answerError(ErrorCode.SHUTTING_DOWN, 'broker is shutting down');
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves once the socket has closed and the broker has forgotten this connection. */
  whenClosed(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  onRecord(buf: Buffer, frameStart: number, channelEnd: number, frameEnd: number): void {
    this.framesSeen++;
    if (this.state !== 'open') return this.rejectBeforeHello();
    this.host.publish(this, buf, frameStart, channelEnd, frameEnd);
  }

  onControl(frame: ControlFrame): void {
    this.framesSeen++;
    if (this.state === 'awaiting-hello' && frame.type !== 'hello') return this.rejectBeforeHello();
    if (this.state !== 'open' && this.state !== 'awaiting-hello') return;
    switch (frame.type) {
      case 'hello':
        return this.onHello(frame.body);
      case 'sub':
        return this.onSubscribe(frame.pattern, frame.group);
      case 'unsub':
        return this.onUnsubscribe(frame.pattern, frame.group);
      case 'ping':
        return this.answerOk(0);
      case 'pong':
        return; // any frame answers outstanding PINGs; see onData
      default:
        // The decoder only lets client opcodes through.
        return this.answerError(ErrorCode.PROTOCOL_ERROR, `unexpected ${frame.type}`);
    }
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.host.counters.bytesIn += chunk.length;
    this.pingsUnanswered = 0;
    const framesBefore = this.framesSeen;
    try {
      this.decoder.push(chunk);
    } catch (error) {
      const code =
        error instanceof HypsError && error.wireCode ? error.wireCode : ErrorCode.PROTOCOL_ERROR;
      this.answerError(code, (error as Error).message);
      return;
    }
    // Write what this chunk caused now: a pipelining client (whose window the OKs free) gets
    // its deliveries and answers while the broker reads its next chunk, not after every chunk
    // of the poll phase, so the two work side by side instead of taking turns.
    this.host.flushNow(this);
    if (!this.decoder.hasPartialFrame) {
      this.partialSince = 0;
    } else if (this.partialSince === 0 || this.framesSeen !== framesBefore) {
      this.partialSince = this.host.now();
    }
  }

  private onHello(body: Buffer): void {
    if (this.state !== 'awaiting-hello')
      return this.answerError(ErrorCode.PROTOCOL_ERROR, 'repeated HELLO');
    let hello: unknown;
    try {
      hello = JSON.parse(body.toString('utf8'));
    } catch {
      return this.answerError(ErrorCode.PROTOCOL_ERROR, 'HELLO is not JSON');
    }
    if (typeof hello !== 'object' || hello === null || Array.isArray(hello)) {
      return this.answerError(ErrorCode.PROTOCOL_ERROR, 'HELLO is not a JSON object');
    }
    const fields = hello as Record<string, unknown>;
    if (!('protocol' in fields))
      return this.answerError(ErrorCode.PROTOCOL_ERROR, 'HELLO has no protocol');
    if (fields.protocol !== PROTOCOL_VERSION) {
      return this.answerError(
        ErrorCode.UNSUPPORTED_PROTOCOL,
        `protocol ${String(fields.protocol)} is not supported`,
      );
    }
    const grant = this.host.authenticate(fields, this.nonce);
    if (!grant) return this.answerError(ErrorCode.AUTH_FAILED, 'wrong or missing credential');
    this.grant = grant;
    this.state = 'open';
    this.nextPingAt = this.host.now() + this.host.options.pingIntervalMs;
    this.answerOk(0);
  }

  private onSubscribe(patternBytes: Buffer, groupBytes: Buffer | undefined): void {
    const key = this.subscriptionKey(patternBytes, groupBytes);
    if (key === null) return;
    if (this.subscriptions.has(key.id)) return this.answerOk(0);
    const permissions = this.grant?.permissions;
    if (permissions && !permissions.canSubscribe(key.pattern.split('.'))) {
      return this.answerError(
        ErrorCode.PERMISSION_DENIED,
        `not allowed to subscribe to '${patternBytes.toString()}'`,
      );
    }
    if (this.subscriptions.size >= this.host.options.maxSubscriptions) {
      return this.answerError(
        ErrorCode.TOO_MANY_SUBSCRIPTIONS,
        `connection already holds ${this.subscriptions.size} subscriptions`,
      );
    }
    this.subscriptions.set(key.id, this.host.subscribe(this, key.pattern, key.group));
    this.answerOk(0);
  }

  private onUnsubscribe(patternBytes: Buffer, groupBytes: Buffer | undefined): void {
    const key = this.subscriptionKey(patternBytes, groupBytes);
    if (key === null) return;
    const subscription = this.subscriptions.get(key.id);
    if (subscription) {
      this.subscriptions.delete(key.id);
      this.host.unsubscribe(subscription);
    }
    this.answerOk(0);
  }

  /** Validates a SUB/UNSUB body; answers ERR 3 and returns null when invalid. */
  private subscriptionKey(
    patternBytes: Buffer,
    groupBytes: Buffer | undefined,
  ): { id: string; pattern: string; group: string | null } | null {
    const max = this.host.options.maxChannelBytes;
    const problem =
      channelProblem(patternBytes, 0, patternBytes.length, 'pattern', max) ??
      (groupBytes === undefined
        ? null
        : channelProblem(groupBytes, 0, groupBytes.length, 'group', max));
    if (problem !== null) {
      this.answerError(ErrorCode.INVALID_CHANNEL, problem);
      return null;
    }
    const pattern = patternBytes.toString('latin1');
    const group = groupBytes === undefined ? null : groupBytes.toString('latin1');
    return { id: group === null ? pattern : `${pattern}\n${group}`, pattern, group };
  }

  private rejectBeforeHello(): void {
    const reason =
      this.state === 'awaiting-hello' ? 'first frame must be HELLO' : 'connection is closing';
    this.answerError(ErrorCode.PROTOCOL_ERROR, reason);
  }

  private requestFlush(): void {
    if (this.flushPending) return;
    this.flushPending = true;
    this.host.scheduleFlush(this);
  }

  private sendFrame(frame: Buffer): void {
    this.output.pushFrame(frame);
    this.requestFlush();
  }

  private sendDroppedNotice(): void {
    const count = this.droppedSinceNotice;
    this.droppedSinceNotice = 0;
    this.output.pushFrame(encodeDropped(count));
    this.host.counters.bytesOut += this.output.flush();
  }

  /** The socket wrote everything it held: resume reading and report drops. */
  private onSocketDrained(): void {
    if (this.state === 'closed') return;
    if (this.droppedSinceNotice > 0 && this.output.isEmpty) this.sendDroppedNotice();
    if (this.readingPaused && this.state === 'open') {
      this.readingPaused = false;
      this.partialSince = this.decoder.hasPartialFrame ? this.host.now() : 0;
      this.nextPingAt = this.host.now() + this.host.options.pingIntervalMs;
      this.socket.resume();
    }
  }

  private closeAfterFlush(): void {
    this.state = 'closing';
    this.host.counters.bytesOut += this.output.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    if (this.readingPaused) this.socket.resume(); // let the peer's FIN reach us
  }

  private onClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.host.closed(this);
  }
}
