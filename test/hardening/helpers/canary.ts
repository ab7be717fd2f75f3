// The well-behaved client every adversarial test keeps running: it publishes to a channel only it
// subscribes to, one round trip at a time, and records whether each publish was acknowledged and
// delivered back. A test asserts at the end that every round trip completed.
import { createHmac, randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import {
  encodeHello,
  encodeRecord,
  encodeSub,
  FrameDecoder,
  PONG_FRAME,
  type HelloPayload,
  type InfoPayload,
} from '../../../libs/hyps-transport/src/index.js';

export interface CanaryOptions {
  port: number;
  host?: string;
  /** Connect with TLS using these options (host and port are filled in). */
  tls?: ConnectionOptions;
  /** Builds HELLO from INFO; defaults to `{protocol: 1}`. See `hmacHello`. */
  hello?: (info: InfoPayload) => HelloPayload;
  /** Pause between round trips. */
  intervalMs?: number;
  /** A round trip (ack and delivery) slower than this counts as a failure. */
  roundTripTimeoutMs?: number;
}

export interface CanaryReport {
  published: number;
  acked: number;
  received: number;
  /** Everything that went wrong, in order; empty for a healthy canary. */
  failures: string[];
  maxRoundTripMs: number;
}

/** HELLO for hmac auth: signature = base64 HMAC-SHA256(secret, INFO.nonce). */
export function hmacHello(user: string, secret: string): (info: InfoPayload) => HelloPayload {
  return (info) => ({
    protocol: 1,
    user,
    signature: createHmac('sha256', secret)
      .update(info.nonce ?? '')
      .digest('base64'),
  });
}

const CONNECT_TIMEOUT_MS = 10_000;

export class Canary {
  private readonly report: CanaryReport = {
    published: 0,
    acked: 0,
    received: 0,
    failures: [],
    maxRoundTripMs: 0,
  };
  private readonly channel = `canary.${randomBytes(6).toString('hex')}`;
  private readonly decoder: FrameDecoder;
  private info: InfoPayload | undefined;
  /** Answers seen so far (OK results and ERRs), to tell the HELLO and SUB answers apart. */
  private answers = 0;
  private oks = 0;
  private stopping = false;
  private closed = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly wakers = new Set<() => void>();

  private constructor(
    private readonly socket: Socket,
    private readonly options: CanaryOptions,
  ) {
    this.decoder = new FrameDecoder(
      {
        onRecord: (buf, _start, channelEnd, frameEnd) => {
          const seq = Number(buf.toString('latin1', channelEnd + 1, frameEnd - 1));
          if (seq !== this.report.received + 1) {
            this.fail(`delivery ${seq} arrived when ${this.report.received + 1} was expected`);
          }
          this.report.received++;
          this.notify();
        },
        onControl: (frame) => {
          switch (frame.type) {
            case 'info':
              this.info = JSON.parse(frame.body.toString('utf8')) as InfoPayload;
              break;
            case 'ok':
              this.answers += frame.results.length;
              this.oks += frame.results.length;
              break;
            case 'err':
              this.answers++;
              this.fail(`ERR ${frame.code} ${frame.message}`);
              break;
            case 'ping':
              this.socket.write(PONG_FRAME);
              break;
            case 'dropped':
              this.fail(`the broker dropped ${frame.count} deliveries to the canary`);
              break;
            default:
              this.fail(`unexpected ${frame.type} frame`);
          }
          this.notify();
        },
      },
      { from: 'broker', maxFrameBytes: 16 * 1024 * 1024 },
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk);
      } catch (error) {
        this.fail(`undecodable bytes from the broker: ${(error as Error).message}`);
        socket.destroy();
      }
    });
    socket.on('error', (error) => this.fail(`socket error: ${error.message}`));
    socket.on('close', () => {
      this.closed = true;
      if (!this.stopping) this.fail('the broker closed the canary connection');
      this.notify();
    });
  }

  /** Connects, authenticates, subscribes to its channel and starts the round-trip loop. */
  static async start(options: CanaryOptions): Promise<Canary> {
    const host = options.host ?? '127.0.0.1';
    const socket = options.tls
      ? tlsConnect({ ...options.tls, host, port: options.port })
      : netConnect({ host, port: options.port, noDelay: true });
    const canary = new Canary(socket, options);
    await canary.until(() => canary.info !== undefined, CONNECT_TIMEOUT_MS, 'INFO');
    const hello = options.hello?.(canary.info!) ?? { protocol: 1 };
    socket.write(Buffer.concat([encodeHello(hello), encodeSub(canary.channel)]));
    await canary.until(() => canary.answers >= 2, CONNECT_TIMEOUT_MS, 'HELLO and SUB answers');
    if (canary.report.failures.length > 0) {
      socket.destroy();
      throw new Error(`canary could not start: ${canary.report.failures.join('; ')}`);
    }
    canary.answers = 0;
    canary.oks = 0;
    canary.loop = canary.run();
    return canary;
  }

  /** Round trips completed so far. */
  get rounds(): number {
    return Math.min(this.report.acked, this.report.received);
  }

  get failures(): readonly string[] {
    return this.report.failures;
  }

  /** Waits until at least `n` more round trips completed (proof that it is still alive). */
  async proveAlive(n = 3, ms = 10_000): Promise<void> {
    const target = this.rounds + n;
    await this.until(() => this.rounds >= target, ms, `${n} more canary round trips`);
  }

  /** Stops after the round trip in progress, closes the connection and reports. */
  async stop(): Promise<CanaryReport> {
    this.stopping = true;
    this.notify();
    await this.loop;
    this.socket.destroy();
    return { ...this.report, failures: [...this.report.failures] };
  }

  private async run(): Promise<void> {
    const timeoutMs = this.options.roundTripTimeoutMs ?? 10_000;
    const intervalMs = this.options.intervalMs ?? 5;
    while (!this.stopping && !this.closed) {
      const seq = ++this.report.published;
      const started = performance.now();
      this.socket.write(encodeRecord(this.channel, String(seq)));
      try {
        await this.until(
          () => this.answers >= seq && this.report.received >= seq,
          timeoutMs,
          `round trip ${seq}`,
        );
      } catch (error) {
        this.fail((error as Error).message);
        return;
      }
      this.report.acked = this.oks;
      const took = performance.now() - started;
      if (took > this.report.maxRoundTripMs) this.report.maxRoundTripMs = took;
      if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  private fail(why: string): void {
    if (this.report.failures.length < 20) this.report.failures.push(why);
  }

  private notify(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /** Resolves once `condition()` holds; rejects after `ms` or once the socket has closed. */
  private async until(condition: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = performance.now() + ms;
    while (!condition()) {
      if (this.closed) throw new Error(`canary connection closed while waiting for ${what}`);
      if (this.stopping && this.report.published === 0) return;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`canary: no ${what} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 100));
        this.wakers.add(wake);
      });
    }
  }
}

/** The jest assertion every adversarial test ends with. */
export function expectHealthyCanary(report: CanaryReport, minRounds = 5): void {
  expect(report.failures).toEqual([]);
  expect(report.acked).toBe(report.published);
  expect(report.received).toBe(report.published);
  expect(report.published).toBeGreaterThanOrEqual(minRounds);
}
