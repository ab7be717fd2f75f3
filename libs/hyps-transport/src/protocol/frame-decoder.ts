import { FrameTooLargeError, ProtocolError } from './errors.js';
import { BROKER_TO_CLIENT, CLIENT_TO_BROKER, NEWLINE, Opcode, PREFIX_BYTES } from './opcodes.js';
import { DEFAULT_MAX_CHANNEL_BYTES } from './channel.js';

/** Default bound on a frame's body, in bytes (1 MiB). */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** A control frame, parsed. Byte fields are slices of the received data (no copies). */
export type ControlFrame =
  | { type: 'hello'; body: Buffer }
  | { type: 'sub' | 'unsub'; pattern: Buffer; group: Buffer | undefined }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'ok'; results: number[] }
  | { type: 'err'; code: number; message: string }
  | { type: 'dropped'; count: number }
  | { type: 'info'; body: Buffer }
  | {
      type: 'group_msg';
      group: Buffer;
      /** The record body (`channel\nmessage\n`) inside the frame. */
      buf: Buffer;
      channelStart: number;
      channelEnd: number;
      messageEnd: number;
    };

/** Receives decoded frames, in order, synchronously from `FrameDecoder.push`. */
export interface FrameSink {
  /**
   * A record. `buf[frameStart..frameEnd)` is the whole frame including its length prefix, ready to
   * forward unchanged; the channel is `buf[frameStart + 4..channelEnd)` and the message
   * `buf[channelEnd + 1..frameEnd - 1)`. A record whose body starts with 0x0A (the empty channel)
   * is passed on as is, with `channelEnd === frameStart + 4`, for the receiver to reject.
   */
  onRecord(buf: Buffer, frameStart: number, channelEnd: number, frameEnd: number): void;
  onControl(frame: ControlFrame): void;
  /**
   * An OK frame, if the sink takes it this way (else it comes to onControl with its results in an
   * array): `count` u32be results from `buf[resultsStart]`, all of them inside the frame.
   */
  onOk?(buf: Buffer, resultsStart: number, count: number): void;
}

export interface FrameDecoderOptions {
  /** Which peer sends the frames: decides which opcodes are allowed. */
  from: 'client' | 'broker';
  /** Largest body accepted, judged from the length prefix before any body byte is buffered. */
  maxFrameBytes?: number;
  /** Bound on a group name; a GROUP_MSG may exceed maxFrameBytes by maxChannelBytes + 2. */
  maxChannelBytes?: number;
}

/**
 * Incremental decoder for Hyps frames (PROTOCOL.md section 1). Pure: no sockets, no timers. Frames
 * that arrive whole inside a chunk are handed out as slices of that chunk; only a frame split
 * across chunks is copied, into one buffer of exactly its size, allocated after its prefix passed
 * the size check. Throws a typed error on the first malformed frame; the decoder is then unusable.
 */
export class FrameDecoder {
  private readonly allowed: ReadonlySet<number>;
  private readonly maxFrameBytes: number;
  private readonly groupAllowance: number;
  /** Up to 5 bytes of a frame head that arrived split (prefix, then maybe the opcode). */
  private head: Buffer | null = null;
  private headFill = 0;
  /** A split frame being completed: the whole frame, prefix included. */
  private frame: Buffer | null = null;
  private frameFill = 0;
  private failed = false;
  /** The sink takes OK frames through onOk (only frames from the broker carry OK). */
  private readonly okInPlace: boolean;

  constructor(
    private readonly sink: FrameSink,
    options: FrameDecoderOptions,
  ) {
    this.allowed = options.from === 'client' ? CLIENT_TO_BROKER : BROKER_TO_CLIENT;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.groupAllowance =
      options.from === 'broker' ? (options.maxChannelBytes ?? DEFAULT_MAX_CHANNEL_BYTES) + 2 : 0;
    this.okInPlace = options.from === 'broker' && sink.onOk !== undefined;
  }

  /** True while part of a frame has arrived and the rest has not (for the frame timeout). */
  get hasPartialFrame(): boolean {
    return this.head !== null || this.frame !== null;
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    // headFill is not reset when a head is done with, so only count it while a head is held.
    return this.frame ? this.frame.length : this.head ? this.headFill : 0;
  }

  push(chunk: Buffer): void {
    if (this.failed) throw new ProtocolError('decoder used after a malformed frame');
    try {
      this.consume(chunk);
    } catch (error) {
      this.failed = true;
      this.head = null;
      this.frame = null;
      throw error;
    }
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    if (this.head) offset = this.continueHead(chunk);
    if (this.frame) {
      offset = this.continueFrame(chunk, offset);
      if (this.frame) return;
    }
    const length = chunk.length;
    while (offset < length) {
      const available = length - offset;
      if (available < PREFIX_BYTES) {
        this.keepHead(chunk, offset);
        return;
      }
      const bodyLength =
        chunk[offset]! * 0x1000000 +
        ((chunk[offset + 1]! << 16) | (chunk[offset + 2]! << 8) | chunk[offset + 3]!);
      if (
        bodyLength > this.maxFrameBytes &&
        available === PREFIX_BYTES &&
        this.inAllowance(bodyLength)
      ) {
        this.keepHead(chunk, offset); // the opcode decides whether this length is allowed
        return;
      }
      this.checkLength(bodyLength, available > PREFIX_BYTES ? chunk[offset + PREFIX_BYTES]! : -1);
      const frameEnd = offset + PREFIX_BYTES + bodyLength;
      if (frameEnd > length) {
        this.frame = Buffer.allocUnsafe(PREFIX_BYTES + bodyLength);
        this.frameFill = chunk.copy(this.frame, 0, offset);
        return;
      }
      this.dispatch(chunk, offset, frameEnd);
      offset = frameEnd;
    }
  }

  private inAllowance(bodyLength: number): boolean {
    return bodyLength <= this.maxFrameBytes + this.groupAllowance;
  }

  /** Rejects a length before any body byte is kept. `firstByte` is -1 when not yet known. */
  private checkLength(bodyLength: number, firstByte: number): void {
    if (bodyLength === 0) throw new ProtocolError('zero-length frame');
    if (bodyLength <= this.maxFrameBytes) return;
    if (firstByte === Opcode.GROUP_MSG && this.inAllowance(bodyLength)) return;
    throw new FrameTooLargeError(
      `frame of ${bodyLength} bytes is over the limit of ${this.maxFrameBytes} bytes`,
    );
  }

  private keepHead(chunk: Buffer, offset: number): void {
    this.head = Buffer.allocUnsafe(PREFIX_BYTES + 1);
    this.headFill = chunk.copy(this.head, 0, offset);
  }

  /** Completes a split head; returns the offset in `chunk` after the bytes it took. */
  private continueHead(chunk: Buffer): number {
    const head = this.head!;
    let offset = 0;
    while (this.headFill < PREFIX_BYTES && offset < chunk.length)
      head[this.headFill++] = chunk[offset++]!;
    if (this.headFill < PREFIX_BYTES) return offset;
    const bodyLength = head.readUInt32BE(0);
    if (
      bodyLength > this.maxFrameBytes &&
      this.inAllowance(bodyLength) &&
      this.headFill === PREFIX_BYTES
    ) {
      if (offset === chunk.length) return offset;
      head[this.headFill++] = chunk[offset++]!;
    }
    this.checkLength(bodyLength, this.headFill > PREFIX_BYTES ? head[PREFIX_BYTES]! : -1);
    this.head = null;
    this.frame = Buffer.allocUnsafe(PREFIX_BYTES + bodyLength);
    this.frameFill = head.copy(this.frame, 0, 0, this.headFill);
    return offset;
  }

  private continueFrame(chunk: Buffer, offset: number): number {
    const frame = this.frame!;
    const taken = chunk.copy(frame, this.frameFill, offset);
    this.frameFill += taken;
    if (this.frameFill < frame.length) return offset + taken;
    this.frame = null;
    this.dispatch(frame, 0, frame.length);
    return offset + taken;
  }

  private dispatch(buf: Buffer, start: number, end: number): void {
    const bodyStart = start + PREFIX_BYTES;
    const first = buf[bodyStart]!;
    if (first >= 0x20 || first === NEWLINE) {
      this.sink.onRecord(
        buf,
        start,
        first === NEWLINE ? bodyStart : recordChannelEnd(buf, bodyStart, end),
        end,
      );
    } else if (first === Opcode.OK && this.okInPlace) {
      // The results follow the opcode and the u32be count.
      this.sink.onOk!(buf, bodyStart + 5, okResultCount(buf, bodyStart + 1, end));
    } else {
      this.sink.onControl(this.parseControl(first, buf, bodyStart + 1, end));
    }
  }

  private parseControl(opcode: number, buf: Buffer, start: number, end: number): ControlFrame {
    if (!this.allowed.has(opcode)) {
      throw new ProtocolError(`unexpected opcode 0x${opcode.toString(16).padStart(2, '0')}`);
    }
    switch (opcode) {
      case Opcode.HELLO:
        return { type: 'hello', body: buf.subarray(start, end) };
      case Opcode.INFO:
        return { type: 'info', body: buf.subarray(start, end) };
      case Opcode.SUB:
      case Opcode.UNSUB:
        return parseSubscription(opcode === Opcode.SUB ? 'sub' : 'unsub', buf, start, end);
      case Opcode.PING:
      case Opcode.PONG:
        if (end !== start) throw new ProtocolError('PING and PONG take no body');
        return { type: opcode === Opcode.PING ? 'ping' : 'pong' };
      case Opcode.OK:
        return parseOk(buf, start, end);
      case Opcode.ERR:
        if (end - start < 2) throw new ProtocolError('ERR body shorter than its code');
        return {
          type: 'err',
          code: buf.readUInt16BE(start),
          message: buf.toString('utf8', start + 2, end),
        };
      case Opcode.DROPPED:
        if (end - start !== 4) throw new ProtocolError('DROPPED body must be 4 bytes');
        return { type: 'dropped', count: buf.readUInt32BE(start) };
      default:
        return parseGroupMsg(buf, start, end);
    }
  }
}

/** The end of a record's channel; throws unless the body is `channel\n...\n`. */
function recordChannelEnd(buf: Buffer, bodyStart: number, end: number): number {
  if (buf[end - 1] !== NEWLINE) throw new ProtocolError('record does not end with a newline');
  // The last byte is a newline, so this scan always stops inside the frame.
  let i = bodyStart;
  while (buf[i] !== NEWLINE) i++;
  if (i === end - 1) throw new ProtocolError('record has no newline after its channel');
  return i;
}

/** The first newline in `buf[start..end)`, or -1; never scans past the frame. */
function newlineWithin(buf: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) if (buf[i] === NEWLINE) return i;
  return -1;
}

function parseSubscription(
  type: 'sub' | 'unsub',
  buf: Buffer,
  start: number,
  end: number,
): ControlFrame {
  const newline = newlineWithin(buf, start, end);
  if (newline === -1) return { type, pattern: buf.subarray(start, end), group: undefined };
  return { type, pattern: buf.subarray(start, newline), group: buf.subarray(newline + 1, end) };
}

/** The result count of an OK body `buf[start..end)`; throws unless the body holds exactly that. */
function okResultCount(buf: Buffer, start: number, end: number): number {
  if (end - start < 4) throw new ProtocolError('OK body shorter than its count');
  const count = buf.readUInt32BE(start);
  if (end - start !== 4 + 4 * count)
    throw new ProtocolError(`OK body does not hold ${count} results`);
  return count;
}

function parseOk(buf: Buffer, start: number, end: number): ControlFrame {
  const count = okResultCount(buf, start, end);
  const results = new Array<number>(count);
  for (let i = 0, offset = start + 4; i < count; i++, offset += 4)
    results[i] = buf.readUInt32BE(offset);
  return { type: 'ok', results };
}

function parseGroupMsg(buf: Buffer, start: number, end: number): ControlFrame {
  const groupEnd = newlineWithin(buf, start, end);
  if (groupEnd === -1 || groupEnd >= end - 1) throw new ProtocolError('GROUP_MSG without a group');
  const channelStart = groupEnd + 1;
  const channelEnd = recordChannelEnd(buf, channelStart, end);
  return {
    type: 'group_msg',
    group: buf.subarray(start, groupEnd),
    buf,
    channelStart,
    channelEnd,
    messageEnd: end - 1,
  };
}

/** A decoded frame as a plain object; what `decodeFrames` returns. */
export type DecodedFrame =
  { type: 'record'; frame: Buffer; channel: Buffer; message: Buffer } | ControlFrame;

/** Decodes every whole frame of `data` at once (tools and tests; connections use FrameDecoder). */
export function decodeFrames(data: Buffer, options: FrameDecoderOptions): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  const decoder = new FrameDecoder(
    {
      onRecord(buf, frameStart, channelEnd, frameEnd) {
        frames.push({
          type: 'record',
          frame: buf.subarray(frameStart, frameEnd),
          channel: buf.subarray(frameStart + PREFIX_BYTES, channelEnd),
          message: buf.subarray(
            Math.min(channelEnd + 1, frameEnd),
            Math.max(frameEnd - 1, channelEnd + 1),
          ),
        });
      },
      onControl(frame) {
        frames.push(frame);
      },
    },
    options,
  );
  decoder.push(data);
  if (decoder.hasPartialFrame) throw new ProtocolError('data ends inside a frame');
  return frames;
}
