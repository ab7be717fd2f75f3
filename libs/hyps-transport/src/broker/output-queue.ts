import type { Socket } from 'node:net';
import { encodeOk } from '../protocol/encode.js';

/** Above this many pieces a flush copies them into one buffer instead of one write call each. */
const CONCAT_THRESHOLD = 8;

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
  private okResults: number[] = [];

  constructor(private readonly socket: Socket) {}

  /** Bytes queued here plus bytes the socket holds unwritten. */
  get backlog(): number {
    return this.queuedBytes + this.socket.writableLength;
  }

  get isEmpty(): boolean {
    return this.queuedBytes === 0 && this.okResults.length === 0;
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
    this.okResults.push(result);
  }

  /** Turns collected OK results into a frame, so a following answer cannot overtake them. */
  settleOks(): void {
    if (this.okResults.length === 0) return;
    const frame = encodeOk(this.okResults);
    this.okResults = [];
    this.pushFrame(frame);
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
    } else if (pieces.length > CONCAT_THRESHOLD) {
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
