// A wire client for floods: it counts what it receives instead of keeping it, checks that each
// publisher's records arrive in order, and publishes with a bounded window of unacknowledged
// records. Messages start with a decimal sequence number so order can be checked.
import { connect, type Socket } from 'node:net';
import {
  encodeHello,
  encodeRecord,
  encodeSub,
  FrameDecoder,
  PONG_FRAME,
  type HelloPayload,
  type InfoPayload,
} from '../../../libs/hyps-transport/src/index.js';

const WAIT_MS = 10_000;

export class CountingClient {
  records = 0;
  dropped = 0;
  droppedFrames = 0;
  /** OK results received, and their sum (deliveries made, for publishes). */
  oks = 0;
  okResultSum = 0;
  /** The smallest OK result seen after the handshake (for publishes: the fewest receivers). */
  minResult = Infinity;
  errors: string[] = [];
  outOfOrder = 0;
  closed = false;
  info: InfoPayload | undefined;
  /** Last sequence number seen per channel. */
  private readonly lastSeq = new Map<string, number>();
  private readonly decoder: FrameDecoder;
  private readonly waiters = new Set<() => void>();
  private counting = false;

  private constructor(readonly socket: Socket) {
    this.decoder = new FrameDecoder(
      {
        onRecord: (buf, start, channelEnd, end) => {
          this.records++;
          const channel = buf.toString('latin1', start + 4, channelEnd);
          let seq = 0;
          for (let i = channelEnd + 1; i < end - 1; i++) {
            const digit = buf[i]! - 0x30;
            if (digit < 0 || digit > 9) break;
            seq = seq * 10 + digit;
          }
          const last = this.lastSeq.get(channel) ?? 0;
          if (seq !== last + 1 && seq <= last) this.outOfOrder++;
          this.lastSeq.set(channel, seq);
        },
        onControl: (frame) => {
          switch (frame.type) {
            case 'info':
              this.info = JSON.parse(frame.body.toString('utf8')) as InfoPayload;
              break;
            case 'ok':
              this.oks += frame.results.length;
              for (const r of frame.results) {
                this.okResultSum += r;
                if (this.counting && r < this.minResult) this.minResult = r;
              }
              break;
            case 'err':
              this.errors.push(`ERR ${frame.code} ${frame.message}`);
              break;
            case 'dropped':
              this.dropped += frame.count;
              this.droppedFrames++;
              break;
            case 'ping':
              socket.write(PONG_FRAME);
              break;
            default:
              this.errors.push(`unexpected ${frame.type}`);
          }
        },
      },
      { from: 'broker', maxFrameBytes: 64 * 1024 * 1024 },
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk);
      } catch (error) {
        this.errors.push(`undecodable: ${(error as Error).message}`);
        socket.destroy();
      }
      this.notify();
    });
    socket.on('error', (error) => this.errors.push(`socket: ${error.message}`));
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  /** Connects and completes INFO + HELLO. */
  static async connect(
    port: number,
    hello: (info: InfoPayload) => HelloPayload = () => ({ protocol: 1 }),
  ): Promise<CountingClient> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const client = new CountingClient(socket);
    await client.until(() => client.info !== undefined, 'INFO');
    socket.write(encodeHello(hello(client.info!)));
    await client.until(() => client.oks + client.errors.length >= 1, 'the HELLO answer');
    if (client.errors.length > 0) throw new Error(`HELLO refused: ${client.errors.join('; ')}`);
    client.oks = 0;
    client.okResultSum = 0;
    client.counting = true;
    return client;
  }

  /** Subscribes and waits for the OK. */
  async subscribe(...patterns: string[]): Promise<void> {
    const target = this.oks + patterns.length;
    this.socket.write(Buffer.concat(patterns.map((p) => encodeSub(p))));
    await this.until(() => this.oks >= target, `${patterns.length} SUB answers`);
    this.minResult = Infinity; // SUB results are 0; only publishes should count
  }

  /**
   * Publishes `count` records of `size` bytes to `channel` (messages "1", "2", ... padded), with
   * at most `window` unacknowledged at a time; resolves when all are acknowledged.
   */
  async publishMany(channel: string, count: number, size: number, window: number): Promise<void> {
    const base = this.oks;
    const filler = Buffer.alloc(size, 0x2e);
    let sent = 0;
    while (sent < count) {
      await this.until(() => sent - (this.oks - base) < window, 'room in the publish window');
      const batch: Buffer[] = [];
      while (sent < count && sent - (this.oks - base) + batch.length < window) {
        const seq = String(sent + batch.length + 1);
        batch.push(
          encodeRecord(channel, Buffer.concat([Buffer.from(seq), filler.subarray(seq.length)])),
        );
      }
      sent += batch.length;
      this.socket.write(Buffer.concat(batch));
    }
    await this.until(() => this.oks - base >= count, `acks for ${count} publishes`);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves once `condition()` holds; rejects after `ms`, or when the connection closed. */
  until(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        if (condition()) finish();
        else if (this.closed)
          finish(new Error(`connection closed while waiting for ${what}: ${this.describe()}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${ms} ms waiting for ${what}: ${this.describe()}`)),
        ms,
      );
      this.waiters.add(check);
    });
  }

  describe(): string {
    return (
      `records=${this.records} oks=${this.oks} dropped=${this.dropped} ` +
      `errors=[${this.errors.slice(0, 3).join('; ')}] closed=${this.closed}`
    );
  }

  private notify(): void {
    for (const check of [...this.waiters]) check();
  }
}
