import { createHmac } from 'node:crypto';
import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { DEFAULT_MAX_CHANNEL_BYTES } from '../protocol/channel.js';
import {
  encodeHello,
  PONG_FRAME,
  type HelloPayload,
  type InfoPayload,
} from '../protocol/encode.js';
import {
  AuthFailedError,
  errorFromWire,
  FrameTooLargeError,
  HypsError,
  ProtocolError,
  UnsupportedProtocolError,
} from '../protocol/errors.js';
import {
  decodeFrames,
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  type ControlFrame,
  type FrameSink,
} from '../protocol/frame-decoder.js';
import { isFatalErrorCode, PREFIX_BYTES, PROTOCOL_VERSION } from '../protocol/opcodes.js';
import {
  AckQueue,
  type CommandResolve,
  type PublishCallback,
  type PublishResolve,
  type PublishResult,
  type Reject,
} from './ack-queue.js';
import { ConnectionClosedError, ConnectTimeoutError } from './client-errors.js';
import { messageByteLength, writeRecordFrame, type WireChannel } from './record-writer.js';
import { WriteBatcher } from './write-batcher.js';

/** encodeRecord's answer for a string channel it could not write as printable ASCII. */
const NOT_PRINTABLE = 1;

/** Largest first frame (INFO or ERR) accepted before the broker's limits are known. */
const MAX_FIRST_FRAME_BYTES = 64 * 1024;

/** What a connection needs to know to open and authenticate. */
export interface ConnectionSettings {
  host: string;
  port: number;
  tls: TlsConnectionOptions | null;
  name: string | undefined;
  token: string | undefined;
  user: string | undefined;
  secret: string | undefined;
  flushThresholdBytes: number;
}

/** Where a ready connection reports what the broker sends. */
export interface ConnectionEvents {
  /** A plain delivery; channel `buf[channelStart..channelEnd)`, message up to `messageEnd`. */
  onRecord(buf: Buffer, channelStart: number, channelEnd: number, messageEnd: number): void;
  /** A delivery on behalf of `group`. */
  onGroupMessage(
    group: Buffer,
    buf: Buffer,
    channelStart: number,
    channelEnd: number,
    messageEnd: number,
  ): void;
  onDropped(count: number): void;
  /** After an OK or ERR frame was applied (drain bookkeeping). */
  onSettled(): void;
  /** The connection closed after its handshake succeeded; called once. */
  onClosed(connection: ClientConnection, error: Error): void;
}

/**
 * One TCP connection to the broker: handshake (INFO, HELLO), batched writes, the decoder and the
 * queue of commands waiting for answers. It never reconnects; HypsClient replaces it.
 */
export class ClientConnection implements FrameSink {
  private readonly socket: Socket;
  private readonly acks = new AckQueue();
  private readonly writer: WriteBatcher;
  private decoder: FrameDecoder | null = null;
  /** Bytes of the first frame while INFO has not arrived whole. */
  private firstFrame: Buffer | null = null;
  private maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  private maxChannelBytes = DEFAULT_MAX_CHANNEL_BYTES;
  private brokerInfo: InfoPayload | undefined;
  private ready = false;
  private closed = false;
  private socketError: Error | undefined;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private resolveHandshake!: (info: InfoPayload) => void;
  private rejectHandshake!: (error: Error) => void;
  private readonly handshake: Promise<InfoPayload>;
  private readonly socketClosed: Promise<void>;
  /** One executor for every publish promise, so a publish allocates no closure of its own. */
  private readonly enqueuePublish = (resolve: PublishResolve, reject: Reject): void =>
    this.acks.pushPublish(resolve, reject);

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly events: ConnectionEvents,
    timeoutMs: number,
  ) {
    this.handshake = new Promise<InfoPayload>((resolve, reject) => {
      this.resolveHandshake = resolve;
      this.rejectHandshake = reject;
    });
    this.handshake.catch(() => undefined);
    this.socket = openSocket(settings);
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 10_000);
    this.writer = new WriteBatcher(
      (chunk) => this.socket.write(chunk),
      settings.flushThresholdBytes,
    );
    this.socketClosed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('drain', () => this.writer.onDrain());
    this.socket.on('error', (error) => {
      this.socketError ??= error;
    });
    this.socket.on('close', () => this.fail(this.closeError()));
    this.handshakeTimer = setTimeout(
      () => this.fail(new ConnectTimeoutError(this.address, timeoutMs)),
      timeoutMs,
    );
  }

  /** Resolves with INFO once HELLO is acknowledged; rejects with the typed error otherwise. */
  opened(): Promise<InfoPayload> {
    return this.handshake;
  }

  get address(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  get info(): InfoPayload | undefined {
    return this.brokerInfo;
  }

  /** True while commands can be sent: handshake done, not closed. */
  get isOpen(): boolean {
    return this.ready && !this.closed;
  }

  /** Publishes waiting for their acknowledgement. */
  get pendingPublishes(): number {
    return this.acks.pendingPublishes;
  }

  /**
   * Encodes a record straight into the current batch. Null, with nothing queued, when `channel`
   * is a string that is not a printable ASCII channel: the caller takes its general path.
   */
  publish(channel: WireChannel, data: string | Uint8Array): Promise<PublishResult> | null {
    const problem = this.encodeRecord(channel, data);
    if (problem === NOT_PRINTABLE) return null;
    if (problem) return Promise.reject(problem);
    return new Promise(this.enqueuePublish);
  }

  /** The same, completing through a Node-style callback: no promise per publish. */
  publishCallback(
    channel: WireChannel,
    data: string | Uint8Array,
    callback: PublishCallback,
  ): boolean {
    const problem = this.encodeRecord(channel, data);
    if (problem === NOT_PRINTABLE) return false;
    if (problem) process.nextTick(callback, problem);
    else this.acks.pushPublishCallback(callback);
    return true;
  }

  /** The same, settling the given callbacks (publishes that were held while disconnected). */
  publishWith(
    channel: Buffer,
    data: string | Uint8Array,
    resolve: PublishResolve,
    reject: Reject,
  ): void {
    // Bytes are always written, so the only problems are errors.
    const problem = this.encodeRecord(channel, data);
    if (problem) reject(problem as Error);
    else this.acks.pushPublish(resolve, reject);
  }

  /** Sends a control command (SUB, UNSUB) and settles the callbacks with its answer. */
  command(frame: Buffer, resolve: CommandResolve, reject: Reject): void {
    if (this.closed) {
      reject(new ConnectionClosedError(`connection to ${this.address} closed`));
      return;
    }
    this.writer.write(frame);
    this.acks.pushCommand(resolve, reject);
  }

  /** Writes the current batch now instead of at the end of the tick. */
  flush(): void {
    this.writer.flush();
  }

  /**
   * Closes the connection now: waiting commands reject with ConnectionClosedError (or `error`
   * when it is one). Resolves once the socket is fully closed.
   */
  destroy(error?: Error): Promise<void> {
    this.fail(error ?? new ConnectionClosedError(`connection to ${this.address} closed`));
    return this.socketClosed;
  }

  private encodeRecord(
    channel: WireChannel,
    data: string | Uint8Array,
  ): Error | typeof NOT_PRINTABLE | null {
    if (this.closed) return new ConnectionClosedError(`connection to ${this.address} closed`);
    if (typeof channel === 'string' && channel.length > this.maxChannelBytes) return NOT_PRINTABLE;
    const messageBytes = messageByteLength(data);
    const bodyBytes = channel.length + messageBytes + 2;
    if (bodyBytes > this.maxFrameBytes) {
      // A string may be shorter than its UTF-8: let the general path measure its bytes.
      if (typeof channel === 'string') return NOT_PRINTABLE;
      return new FrameTooLargeError(
        `record of ${bodyBytes} bytes is over the broker's limit of ${this.maxFrameBytes} bytes`,
      );
    }
    const offset = this.writer.reserve(PREFIX_BYTES + bodyBytes);
    if (writeRecordFrame(this.writer.buffer, offset, channel, data, messageBytes) < 0) {
      this.writer.unreserve(offset);
      return NOT_PRINTABLE;
    }
    return null;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      if (this.decoder) this.decoder.push(chunk);
      else this.beforeInfo(chunk);
    } catch (error) {
      this.fail(error instanceof Error ? error : new ProtocolError(String(error)));
    }
  }

  /**
   * Collects the first frame by hand: the decoder is built from INFO's limits, which are not
   * known until INFO has been read.
   */
  private beforeInfo(chunk: Buffer): void {
    const data = this.firstFrame ? Buffer.concat([this.firstFrame, chunk]) : chunk;
    if (data.length < PREFIX_BYTES) {
      this.firstFrame = data;
      return;
    }
    const length = data.readUInt32BE(0);
    if (length === 0 || length > MAX_FIRST_FRAME_BYTES) {
      throw new ProtocolError(`first frame from the broker has a bad length (${length})`);
    }
    if (data.length < PREFIX_BYTES + length) {
      this.firstFrame = data;
      return;
    }
    this.firstFrame = null;
    const [frame] = decodeFrames(data.subarray(0, PREFIX_BYTES + length), { from: 'broker' });
    if (frame?.type === 'err') throw errorFromWire(frame.code, frame.message);
    if (frame?.type !== 'info') throw new ProtocolError('the broker did not start with INFO');
    const info = parseInfo(frame.body);
    this.brokerInfo = info;
    this.maxFrameBytes = info.maxFrameBytes;
    this.maxChannelBytes = info.maxChannelBytes;
    this.decoder = new FrameDecoder(this, {
      from: 'broker',
      maxFrameBytes: info.maxFrameBytes,
      maxChannelBytes: info.maxChannelBytes,
    });
    this.sendHello(info);
    const rest = data.subarray(PREFIX_BYTES + length);
    if (rest.length > 0) this.decoder.push(rest);
  }

  private sendHello(info: InfoPayload): void {
    const hello: HelloPayload = { protocol: PROTOCOL_VERSION };
    if (this.settings.name !== undefined) hello.name = this.settings.name;
    const { token, user, secret } = this.settings;
    if (info.auth === 'token') {
      if (token === undefined)
        throw new AuthFailedError('the broker requires a token; set `token`');
      hello.token = token;
    } else if (info.auth === 'hmac') {
      if (user === undefined || secret === undefined) {
        throw new AuthFailedError('the broker requires hmac auth; set `user` and `secret`');
      }
      if (typeof info.nonce !== 'string') throw new ProtocolError('hmac INFO without a nonce');
      hello.user = user;
      hello.signature = createHmac('sha256', Buffer.from(secret, 'utf8'))
        .update(info.nonce, 'utf8')
        .digest('base64');
    }
    this.writer.write(encodeHello(hello));
    this.acks.pushCommand(
      () => this.onHelloAcknowledged(info),
      (error) => this.fail(error),
    );
    this.writer.flush();
  }

  private onHelloAcknowledged(info: InfoPayload): void {
    if (this.closed) return;
    this.clearHandshakeTimer();
    this.ready = true;
    this.resolveHandshake(info);
  }

  onRecord(buf: Buffer, frameStart: number, channelEnd: number, frameEnd: number): void {
    // A consumer may close the client from inside a delivery; ignore the rest of the chunk.
    if (this.closed) return;
    if (!this.ready) throw new ProtocolError('delivery before HELLO was acknowledged');
    this.events.onRecord(buf, frameStart + PREFIX_BYTES, channelEnd, frameEnd - 1);
  }

  onOk(buf: Buffer, resultsStart: number, count: number): void {
    if (this.closed) return;
    this.acks.settleOk(buf, resultsStart, count);
    this.events.onSettled();
  }

  onControl(frame: ControlFrame): void {
    if (this.closed) return;
    switch (frame.type) {
      case 'err': {
        const error = errorFromWire(frame.code, frame.message);
        if (isFatalErrorCode(frame.code)) {
          this.fail(error);
          return;
        }
        this.acks.settleError(error);
        this.events.onSettled();
        return;
      }
      case 'ping':
        this.writer.write(PONG_FRAME);
        return;
      case 'dropped':
        this.events.onDropped(frame.count);
        return;
      case 'group_msg':
        if (!this.ready) throw new ProtocolError('delivery before HELLO was acknowledged');
        this.events.onGroupMessage(
          frame.group,
          frame.buf,
          frame.channelStart,
          frame.channelEnd,
          frame.messageEnd,
        );
        return;
      case 'info':
        throw new ProtocolError('a second INFO frame');
      default:
        throw new ProtocolError(`unexpected ${frame.type} frame from the broker`);
    }
  }

  private closeError(): Error {
    const cause = this.socketError;
    const base = `connection to ${this.address} closed`;
    return cause
      ? new ConnectionClosedError(`${base}: ${cause.message}`, { cause })
      : new ConnectionClosedError(base);
  }

  /**
   * The one way a connection ends. The handshake promise rejects with `error` itself (so connect()
   * sees AuthFailedError and the like); commands still waiting get ConnectionClosedError.
   */
  private fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.clearHandshakeTimer();
    this.writer.stop();
    this.socket.destroy();
    const closedError =
      error instanceof ConnectionClosedError
        ? error
        : new ConnectionClosedError(`connection to ${this.address} closed: ${error.message}`, {
            cause: error,
          });
    const wasReady = this.ready;
    this.rejectHandshake(error instanceof HypsError ? error : closedError);
    this.acks.rejectAll(closedError);
    if (wasReady) {
      this.events.onSettled();
      this.events.onClosed(this, error);
    }
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }
}

function parseInfo(body: Buffer): InfoPayload {
  let info: unknown;
  try {
    info = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProtocolError('INFO is not JSON');
  }
  if (typeof info !== 'object' || info === null) throw new ProtocolError('INFO is not an object');
  const fields = info as Partial<InfoPayload>;
  if (fields.protocol !== PROTOCOL_VERSION) {
    throw new UnsupportedProtocolError(
      `the broker speaks protocol ${String(fields.protocol)}, this client ${PROTOCOL_VERSION}`,
    );
  }
  return {
    ...fields,
    maxFrameBytes: positiveOr(fields.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES),
    maxChannelBytes: positiveOr(fields.maxChannelBytes, DEFAULT_MAX_CHANNEL_BYTES),
  } as InfoPayload;
}

function positiveOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : fallback;
}

/** Plain TCP, or TLS with the broker's host name checked unless told otherwise. */
function openSocket({ host, port, tls }: ConnectionSettings): Socket {
  if (!tls) return connect({ host, port });
  const servername = tls.servername ?? (isIP(host) ? undefined : host);
  return connectTls({ ...tls, host, port, ...(servername === undefined ? {} : { servername }) });
}
