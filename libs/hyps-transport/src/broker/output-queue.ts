import type { Socket } from 'node:net';
import { Opcode, PREFIX_BYTES } from '../protocol/opcodes.js';

/**
 * Many small pieces are copied into one buffer (one write call beats one per piece); large
 * pieces are handed to the socket as they are, since copying them costs more than it saves.
 */
const CONCAT_MIN_PIECES = 8;
const CONCAT_MAX_AVERAGE_BYTES = 2048;

/** OK frame head: length prefix, opcode, result count. */
const OK_HEAD_BYTES = PREFIX_BYTES + 1 + 4;
const OK_INITIAL_RESULTS = 64;

/**
 * Bytes waiting to be written to one connection, flushed in one write per tick. Consecutive
 * deliveries that are adjacent in the same received chunk are kept as one range, so a run of
 * records forwarded from one publisher costs one slice, not one per record. OK results are
 * collected and written as a single OK frame at the next flush (or before any other answer).
 */
export class OutputQueue {
  private pieces: Buffer[] = [];
  private queuedBytes = 0;
  private runBuffer: Buffer | null = null;
  private runStart = 0;
  private runEnd = 0;
  /** The OK frame being built: results are written in place behind a reserved head. */
  private okFrame = Buffer.allocUnsafe(OK_HEAD_BYTES + 4 * OK_INITIAL_RESULTS);
  private okCount = 0;

  constructor(private readonly socket: Socket) {}

  /** Bytes queued here plus bytes the socket holds unwritten. */
  get backlog(): number {
    return this.queuedBytes + this.socket.writableLength;
  }

  get isEmpty(): boolean {
    return this.queuedBytes === 0 && this.okCount === 0;
  }

  /** Queues `buf[start..end)`; the caller has checked the bound. */
  pushRange(buf: Buffer, start: number, end: number): void {
    if (this.runBuffer === buf && this.runEnd === start) {
      this.runEnd = end;
    } else {
      this.closeRun();
      this.runBuffer = buf;
      this.runStart = start;
      this.runEnd = end;
    }
    this.queuedBytes += end - start;
  }

  pushFrame(frame: Buffer): void {
    this.closeRun();
    this.pieces.push(frame);
    this.queuedBytes += frame.length;
  }

  /** Records one command's success; answers keep command order. */
  pushOk(result: number): void {
    const offset = OK_HEAD_BYTES + 4 * this.okCount;
    if (offset + 4 > this.okFrame.length) {
      const larger = Buffer.allocUnsafe(OK_HEAD_BYTES + 8 * this.okCount);
      this.okFrame.copy(larger, 0, 0, offset);
      this.okFrame = larger;
    }
    this.okFrame.writeUInt32BE(result, offset);
    this.okCount++;
  }

  /** Turns collected OK results into a frame, so a following answer cannot overtake them. */
  settleOks(): void {
    const count = this.okCount;
    if (count === 0) return;
    const length = OK_HEAD_BYTES + 4 * count;
    const frame = this.okFrame;
    frame.writeUInt32BE(length - PREFIX_BYTES, 0);
    frame[PREFIX_BYTES] = Opcode.OK;
    frame.writeUInt32BE(count, PREFIX_BYTES + 1);
    // The frame now belongs to the socket; the next OK is built in a fresh buffer.
    this.okFrame = Buffer.allocUnsafe(Math.max(length, OK_HEAD_BYTES + 4 * OK_INITIAL_RESULTS));
    this.okCount = 0;
    this.pushFrame(frame.subarray(0, length));
  }

  /** Writes everything queued in one go; returns the bytes handed to the socket. */
  flush(): number {
    this.settleOks();
    this.closeRun();
    const pieces = this.pieces;
    if (pieces.length === 0) return 0;
    const total = this.queuedBytes;
    this.pieces = [];
    this.queuedBytes = 0;
    if (this.socket.destroyed) return 0;
    if (pieces.length === 1) {
      this.socket.write(pieces[0]!);
    } else if (
      pieces.length >= CONCAT_MIN_PIECES &&
      total <= pieces.length * CONCAT_MAX_AVERAGE_BYTES
    ) {
      this.socket.write(Buffer.concat(pieces, total));
    } else {
      this.socket.cork();
      for (const piece of pieces) this.socket.write(piece);
      this.socket.uncork();
    }
    return total;
  }

  private closeRun(): void {
    if (this.runBuffer === null) return;
    this.pieces.push(this.runBuffer.subarray(this.runStart, this.runEnd));
    this.runBuffer = null;
  }
}
