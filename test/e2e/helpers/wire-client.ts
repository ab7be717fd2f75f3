// A raw protocol client for end-to-end tests: writes bytes by hand (plain TCP or TLS) and records
// every frame the broker sends, decoded with the package codec.
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import {
  encodeHello,
  FrameDecoder,
  type DecodedFrame,
  type HelloPayload,
  type InfoPayload,
} from '@hyps/transport';

const WAIT_MS = 5_000;

/** Every client opened, so a spec's afterEach can destroy them all. */
export const openWireClients = new Set<WireClient>();

export class WireClient {
  readonly frames: DecodedFrame[] = [];
  readonly closed: Promise<void>;
  private cursor = 0;
  private wake: (() => void) | null = null;
  private isClosed = false;

  constructor(readonly socket: Socket) {
    const decoder = new FrameDecoder(
      {
        onRecord: (buf, frameStart, channelEnd, frameEnd) =>
          this.add({
            type: 'record',
            frame: Buffer.from(buf.subarray(frameStart, frameEnd)),
            channel: Buffer.from(buf.subarray(frameStart + 4, channelEnd)),
            message: Buffer.from(buf.subarray(channelEnd + 1, frameEnd - 1)),
          }),
        onControl: (frame) => this.add(frame),
      },
      { from: 'broker' },
    );
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake?.();
        openWireClients.delete(this);
        resolve();
      }),
    );
    openWireClients.add(this);
  }

  /** A plain TCP client to 127.0.0.1:port, once connected. */
  static connect(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ...options });
      socket.once('connect', () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  /** A TLS client, once its handshake is done from the client's side. */
  static connectTls(
    port: number,
    options: { ca: string; cert?: string; key?: string },
  ): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connectTls({ host: '127.0.0.1', port, ...options });
      socket.once('secureConnect', () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Connects and reads INFO; with `hello`, also sends it and expects OK. */
  static async open(port: number, hello?: HelloPayload): Promise<[WireClient, InfoPayload]> {
    const client = await WireClient.connect(port);
    const info = await client.info();
    if (hello) {
      client.send(encodeHello(hello));
      await client.next('ok');
    }
    return [client, info];
  }

  /** Reads INFO, sends HELLO and waits for its OK: the round trip a working client needs. */
  async hello(payload: HelloPayload = { protocol: 1 }): Promise<InfoPayload> {
    const info = await this.info();
    this.send(encodeHello(payload));
    await this.next('ok');
    return info;
  }

  async info(): Promise<InfoPayload> {
    return JSON.parse((await this.next('info')).body.toString('utf8')) as InfoPayload;
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next frame (after those already taken), which must be of this type. */
  async next<T extends DecodedFrame['type']>(
    type: T,
    timeoutMs = WAIT_MS,
  ): Promise<Extract<DecodedFrame, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    while (this.cursor >= this.frames.length) {
      if (this.isClosed) throw new Error(`connection closed while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    const frame = this.frames[this.cursor++]!;
    if (frame.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(frame)}`);
    return frame as Extract<DecodedFrame, { type: T }>;
  }

  /** Waits for OK frames until they answer `count` commands in all. */
  async acks(count: number): Promise<number[]> {
    const results: number[] = [];
    while (results.length < count) results.push(...(await this.next('ok')).results);
    return results;
  }

  /** Resolves when the broker closes the connection; rejects after the bound. */
  async waitClosed(timeoutMs = WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
    });
    try {
      await Promise.race([this.closed, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private add(frame: DecodedFrame): void {
    this.frames.push(frame);
    this.wake?.();
  }
}
