import { connect, Socket } from 'node:net';
import {
  encodeControl,
  encodeHello,
  encodeRecord,
  encodeSub,
  encodeUnsub,
  FrameDecoder,
  Opcode,
  PING_FRAME,
  PONG_FRAME,
  PREFIX_BYTES,
  type HelloPayload,
  type InfoPayload,
} from '../../../libs/hyps-transport/src/index.js';

/** A frame received from the broker, decoded; deliveries keep a private copy of their wire bytes. */
export type RawFrame =
  | { type: 'record'; raw: Buffer; channel: string; message: Buffer }
  | { type: 'group_msg'; raw: Buffer; group: string; channel: string; message: Buffer }
  | { type: 'ok'; results: number[] }
  | { type: 'err'; code: number; message: string }
  | { type: 'dropped'; count: number }
  | { type: 'info'; raw: Buffer; info: InfoPayload }
  | { type: 'ping' };

/** One command's answer, after flattening OK counts: what a client matches by position. */
export type Answer = { ok: true; result: number } | { ok: false; code: number; message: string };

type Bytes = string | Buffer;

interface Waiter {
  check(): boolean;
  resolve(): void;
  reject(error: Error): void;
}

const DEFAULT_WAIT_MS = 2000;

/**
 * A test client that speaks the wire protocol by hand over a raw TCP socket: it sends exactly the
 * bytes a test builds and records every frame the broker sends back. Every wait is bounded.
 */
export class RawClient {
  readonly frames: RawFrame[] = [];
  readonly answers: Answer[] = [];
  /** Number of record (plain delivery) frames received. */
  recordCount = 0;
  groupMsgCount = 0;
  /** Sum of the counts of every DROPPED frame received. */
  droppedTotal = 0;
  isClosed = false;
  /** Set when the broker sent bytes that do not decode (the broker broke the protocol). */
  decodeError: Error | undefined;
  socketError: Error | undefined;
  readonly closed: Promise<void>;
  /** Called as soon as a broker PING is decoded (e.g. to PONG without waiting for a poll). */
  onPing: (() => void) | undefined;

  private frameCursor = 0;
  private answerCursor = 0;
  private readonly waiters = new Set<Waiter>();
  private readonly decoder: FrameDecoder;

  private constructor(readonly socket: Socket) {
    this.decoder = new FrameDecoder(
      {
        onRecord: (buf, frameStart, channelEnd, frameEnd) => {
          this.recordCount++;
          this.frames.push({
            type: 'record',
            raw: Buffer.from(buf.subarray(frameStart, frameEnd)),
            channel: buf.toString('utf8', frameStart + PREFIX_BYTES, channelEnd),
            message: Buffer.from(buf.subarray(channelEnd + 1, frameEnd - 1)),
          });
        },
        onControl: (frame) => {
          switch (frame.type) {
            case 'group_msg': {
              this.groupMsgCount++;
              const groupStart = frame.group.byteOffset - frame.buf.byteOffset;
              this.frames.push({
                type: 'group_msg',
                raw: Buffer.from(
                  frame.buf.subarray(groupStart - 1 - PREFIX_BYTES, frame.messageEnd + 1),
                ),
                group: frame.group.toString('utf8'),
                channel: frame.buf.toString('utf8', frame.channelStart, frame.channelEnd),
                message: Buffer.from(frame.buf.subarray(frame.channelEnd + 1, frame.messageEnd)),
              });
              break;
            }
            case 'ok':
              for (const result of frame.results) this.answers.push({ ok: true, result });
              this.frames.push({ type: 'ok', results: frame.results });
              break;
            case 'err':
              this.answers.push({ ok: false, code: frame.code, message: frame.message });
              this.frames.push({ type: 'err', code: frame.code, message: frame.message });
              break;
            case 'dropped':
              this.droppedTotal += frame.count;
              this.frames.push({ type: 'dropped', count: frame.count });
              break;
            case 'info':
              this.frames.push({
                type: 'info',
                raw: Buffer.from(frame.body),
                info: JSON.parse(frame.body.toString('utf8')) as InfoPayload,
              });
              break;
            case 'ping':
              this.frames.push({ type: 'ping' });
              this.onPing?.();
              break;
            default:
              throw new Error(`the broker sent a client-only frame: ${frame.type}`);
          }
        },
      },
      // The test client accepts big frames so that a broker exceeding its own limit is visible.
      { from: 'broker', maxFrameBytes: 64 * 1024 * 1024 },
    );
    socket.on('data', (chunk: Buffer) => {
      if (this.decodeError) return;
      try {
        this.decoder.push(chunk);
      } catch (error) {
        this.decodeError = error as Error;
      }
      this.notify();
    });
    socket.on('error', (error) => {
      this.socketError = error;
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        this.notify();
        resolve();
      });
    });
  }

  /** Opens a TCP connection; resolves once connected (nothing sent or awaited yet). */
  static connect(
    port: number,
    host = '127.0.0.1',
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, noDelay: true });
      const client = new RawClient(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(client);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  // ---- sending --------------------------------------------------------------------------------

  /** Writes all given frames (or raw bytes) as ONE socket write. */
  send(...chunks: Buffer[]): void {
    if (this.socket.destroyed) return;
    this.socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  hello(payload: HelloPayload = { protocol: 1 }): void {
    this.send(encodeHello(payload));
  }

  /** HELLO with an arbitrary body (not necessarily JSON). */
  helloRaw(body: Bytes): void {
    this.send(encodeControl(Opcode.HELLO, body));
  }

  publish(channel: Bytes, message: Bytes = ''): void {
    this.send(encodeRecord(channel, message));
  }

  sub(pattern: Bytes, group?: Bytes): void {
    this.send(encodeSub(pattern, group));
  }

  unsub(pattern: Bytes, group?: Bytes): void {
    this.send(encodeUnsub(pattern, group));
  }

  ping(): void {
    this.send(PING_FRAME);
  }

  pong(): void {
    this.send(PONG_FRAME);
  }

  // ---- waiting --------------------------------------------------------------------------------

  /** Resolves once `condition()` is true; rejects after `timeoutMs`, or if it never can be. */
  waitUntil(
    condition: () => boolean,
    description: string,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check: condition,
        resolve: () => {
          clearTimeout(timer);
          clearInterval(poll);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          clearInterval(poll);
          reject(error);
        },
      };
      // Some conditions (socket buffers, other clients) change without a frame arriving here.
      const poll = setInterval(() => this.notify(), 10);
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        clearInterval(poll);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${description}; ${this.describe()}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
      this.notify();
    });
  }

  /** The first frame (from index `from`) that matches; rejects on timeout. */
  async waitFor(
    predicate: (frame: RawFrame) => boolean,
    description = 'a matching frame',
    timeoutMs = DEFAULT_WAIT_MS,
    from = 0,
  ): Promise<RawFrame> {
    let scanned = from;
    let found: RawFrame | undefined;
    await this.waitUntil(
      () => {
        for (; scanned < this.frames.length; scanned++) {
          if (predicate(this.frames[scanned]!)) {
            found = this.frames[scanned];
            return true;
          }
        }
        return false;
      },
      description,
      timeoutMs,
    );
    return found!;
  }

  async info(timeoutMs = DEFAULT_WAIT_MS): Promise<InfoPayload> {
    const frame = await this.waitFor((f) => f.type === 'info', 'INFO', timeoutMs);
    return (frame as Extract<RawFrame, { type: 'info' }>).info;
  }

  /** The ERR frame with this code. */
  async waitErr(
    code: number,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Extract<RawFrame, { type: 'err' }>> {
    const frame = await this.waitFor(
      (f) => f.type === 'err' && f.code === code,
      `ERR ${code}`,
      timeoutMs,
    );
    return frame as Extract<RawFrame, { type: 'err' }>;
  }

  /**
   * Expects a fatal ERR with `code`: it arrives, it is the last frame, and the broker closes the
   * connection. Returns the ERR frame.
   */
  async fatal(
    code: number,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Extract<RawFrame, { type: 'err' }>> {
    const err = await this.waitErr(code, timeoutMs);
    await this.waitClosed(timeoutMs);
    if (this.frames[this.frames.length - 1] !== err) {
      throw new Error(`frames followed the fatal ERR ${code}; ${this.describe()}`);
    }
    return err;
  }

  /** The next `n` frames after those already taken by nextFrames. */
  async nextFrames(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<RawFrame[]> {
    const end = this.frameCursor + n;
    await this.waitUntil(() => this.frames.length >= end, `${n} more frames`, timeoutMs);
    const taken = this.frames.slice(this.frameCursor, end);
    this.frameCursor = end;
    return taken;
  }

  /** The next `n` command answers (OK results flattened, ERRs as one each). */
  async nextAnswers(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Answer[]> {
    const end = this.answerCursor + n;
    await this.waitUntil(() => this.answers.length >= end, `${n} more answers`, timeoutMs);
    const taken = this.answers.slice(this.answerCursor, end);
    this.answerCursor = end;
    return taken;
  }

  /** Waits for `n` more answers and returns them compactly: result numbers, or 'ERR <code>'. */
  async nextAnswerSummary(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<(number | string)[]> {
    return summarize(await this.nextAnswers(n, timeoutMs));
  }

  /** INFO, then HELLO, then its answer; throws unless the HELLO was answered OK. */
  async handshake(
    payload: HelloPayload = { protocol: 1 },
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<InfoPayload> {
    const info = await this.info(timeoutMs);
    this.hello(payload);
    const [answer] = await this.nextAnswers(1, timeoutMs);
    if (!answer!.ok) throw new Error(`HELLO refused: ERR ${answer!.code} ${answer!.message}`);
    return info;
  }

  waitClosed(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    return this.waitUntil(() => this.isClosed, 'the broker to close the connection', timeoutMs);
  }

  waitRecords(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    return this.waitUntil(() => this.recordCount >= count, `${count} records`, timeoutMs);
  }

  waitGroupMsgs(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    return this.waitUntil(() => this.groupMsgCount >= count, `${count} GROUP_MSGs`, timeoutMs);
  }

  /** Resolves after `ms` unless the connection closes first (then rejects). For "stays open" checks. */
  async staysOpenFor(ms: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      void this.closed.then(() => {
        clearTimeout(timer);
        reject(new Error(`connection closed within ${ms} ms; ${this.describe()}`));
      });
    });
  }

  // ---- views ----------------------------------------------------------------------------------

  records(): Extract<RawFrame, { type: 'record' }>[] {
    return this.frames.filter(
      (f): f is Extract<RawFrame, { type: 'record' }> => f.type === 'record',
    );
  }

  groupMsgs(): Extract<RawFrame, { type: 'group_msg' }>[] {
    return this.frames.filter(
      (f): f is Extract<RawFrame, { type: 'group_msg' }> => f.type === 'group_msg',
    );
  }

  errs(): Extract<RawFrame, { type: 'err' }>[] {
    return this.frames.filter((f): f is Extract<RawFrame, { type: 'err' }> => f.type === 'err');
  }

  okFrames(): Extract<RawFrame, { type: 'ok' }>[] {
    return this.frames.filter((f): f is Extract<RawFrame, { type: 'ok' }> => f.type === 'ok');
  }

  types(): string[] {
    return this.frames.map((f) => (f.type === 'err' ? `err${f.code}` : f.type));
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
    for (const waiter of this.waiters) waiter.reject(new Error('client destroyed'));
    this.waiters.clear();
  }

  describe(): string {
    const tail = this.types().slice(-12).join(',');
    return (
      `frames=${this.frames.length} [..${tail}] answers=${this.answers.length} ` +
      `records=${this.recordCount} groupMsgs=${this.groupMsgCount} dropped=${this.droppedTotal} ` +
      `closed=${this.isClosed}${this.decodeError ? ` decodeError=${this.decodeError.message}` : ''}`
    );
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) {
      let done = false;
      try {
        done = waiter.check();
      } catch (error) {
        this.waiters.delete(waiter);
        waiter.reject(error as Error);
        continue;
      }
      if (done) {
        this.waiters.delete(waiter);
        waiter.resolve();
      } else if (this.decodeError || this.isClosed) {
        // Nothing more can arrive: fail now rather than at the timeout.
        this.waiters.delete(waiter);
        waiter.reject(new Error(`condition can no longer become true; ${this.describe()}`));
      }
    }
  }
}

/** Answers as numbers (OK results) and 'ERR <code>' strings, for compact expectations. */
export function summarize(answers: Answer[]): (number | string)[] {
  return answers.map((a) => (a.ok ? a.result : `ERR ${a.code}`));
}

/** A frame whose 4-byte prefix says `length` but whose body is exactly `body` (may disagree). */
export function rawFrame(length: number, body: Bytes = Buffer.alloc(0)): Buffer {
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const frame = Buffer.alloc(PREFIX_BYTES + bodyBytes.length);
  frame.writeUInt32BE(length, 0);
  bodyBytes.copy(frame, PREFIX_BYTES);
  return frame;
}

/** A well-formed frame (correct prefix) around an arbitrary body. */
export function frameOf(body: Bytes): Buffer {
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return rawFrame(bodyBytes.length, bodyBytes);
}

/** Sleeps, for tests that must let time pass (timeouts, "nothing more arrives"). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 10 ms until it holds; rejects after `timeoutMs`. For broker state. */
export async function until(
  condition: () => boolean,
  description: string,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await sleep(10);
  }
}
