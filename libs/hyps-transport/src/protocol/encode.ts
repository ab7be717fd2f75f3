import { NEWLINE, Opcode, PREFIX_BYTES } from './opcodes.js';

/** HELLO payload (PROTOCOL.md section 5). */
export interface HelloPayload {
  protocol: number;
  name?: string;
  token?: string;
  user?: string;
  signature?: string;
}

/** INFO payload, the broker's first frame. */
export interface InfoPayload {
  protocol: number;
  server: string;
  version: string;
  maxFrameBytes: number;
  maxChannelBytes: number;
  auth: 'none' | 'token' | 'hmac';
  nonce?: string;
}

type Bytes = string | Uint8Array;

function byteLength(value: Bytes): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
}

function put(target: Buffer, offset: number, value: Bytes): number {
  if (typeof value === 'string') return offset + target.write(value, offset, 'utf8');
  target.set(value, offset);
  return offset + value.length;
}

/** Bytes a record for this channel and message takes on the wire, prefix included. */
export function recordFrameLength(channelBytes: number, messageBytes: number): number {
  return PREFIX_BYTES + channelBytes + 1 + messageBytes + 1;
}

/**
 * Writes a record frame at `offset` and returns the offset after it. Callers that batch many
 * records write them into one buffer with this.
 */
export function writeRecord(
  target: Buffer,
  offset: number,
  channel: Bytes,
  message: Bytes,
): number {
  const start = offset;
  offset = put(target, offset + PREFIX_BYTES, channel);
  target[offset++] = NEWLINE;
  offset = put(target, offset, message);
  target[offset++] = NEWLINE;
  target.writeUInt32BE(offset - start - PREFIX_BYTES, start);
  return offset;
}

/** A record frame: publish from a client, delivery from the broker. */
export function encodeRecord(channel: Bytes, message: Bytes): Buffer {
  const frame = Buffer.allocUnsafe(recordFrameLength(byteLength(channel), byteLength(message)));
  writeRecord(frame, 0, channel, message);
  return frame;
}

/** A control frame with the given opcode and body parts, concatenated. */
export function encodeControl(opcode: number, ...parts: Bytes[]): Buffer {
  let bodyLength = 1;
  for (const part of parts) bodyLength += byteLength(part);
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + bodyLength);
  frame.writeUInt32BE(bodyLength, 0);
  frame[PREFIX_BYTES] = opcode;
  let offset = PREFIX_BYTES + 1;
  for (const part of parts) offset = put(frame, offset, part);
  return frame;
}

const NEWLINE_BYTES = Buffer.from([NEWLINE]);

export function encodeHello(hello: HelloPayload): Buffer {
  return encodeControl(Opcode.HELLO, JSON.stringify(hello));
}

function subscriptionBody(opcode: number, pattern: Bytes, group?: Bytes): Buffer {
  return group === undefined
    ? encodeControl(opcode, pattern)
    : encodeControl(opcode, pattern, NEWLINE_BYTES, group);
}

export function encodeSub(pattern: Bytes, group?: Bytes): Buffer {
  return subscriptionBody(Opcode.SUB, pattern, group);
}

export function encodeUnsub(pattern: Bytes, group?: Bytes): Buffer {
  return subscriptionBody(Opcode.UNSUB, pattern, group);
}

/** PING and PONG have empty bodies, so one shared frame each is enough (never mutate them). */
export const PING_FRAME: Buffer = encodeControl(Opcode.PING);
export const PONG_FRAME: Buffer = encodeControl(Opcode.PONG);

/** OK for the oldest `count` unanswered commands, with their results. */
export function encodeOk(results: ArrayLike<number>, count: number = results.length): Buffer {
  const bodyLength = 1 + 4 + 4 * count;
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + bodyLength);
  frame.writeUInt32BE(bodyLength, 0);
  frame[PREFIX_BYTES] = Opcode.OK;
  frame.writeUInt32BE(count, PREFIX_BYTES + 1);
  let offset = PREFIX_BYTES + 5;
  for (let i = 0; i < count; i++, offset += 4) frame.writeUInt32BE(results[i]!, offset);
  return frame;
}

export function encodeErr(code: number, message: string): Buffer {
  const codeBytes = Buffer.allocUnsafe(2);
  codeBytes.writeUInt16BE(code, 0);
  return encodeControl(Opcode.ERR, codeBytes, message);
}

export function encodeDropped(count: number): Buffer {
  const countBytes = Buffer.allocUnsafe(4);
  countBytes.writeUInt32BE(Math.min(count, 0xffffffff), 0);
  return encodeControl(Opcode.DROPPED, countBytes);
}

export function encodeInfo(info: InfoPayload): Buffer {
  return encodeControl(Opcode.INFO, JSON.stringify(info));
}

/**
 * The head of a GROUP_MSG whose tail is a record body (`channel\nmessage\n`) of `recordBodyLength`
 * bytes: the broker writes this head, then the publisher's record body unchanged.
 */
export function encodeGroupMsgHead(group: Uint8Array, recordBodyLength: number): Buffer {
  const head = Buffer.allocUnsafe(PREFIX_BYTES + 1 + group.length + 1);
  head.writeUInt32BE(1 + group.length + 1 + recordBodyLength, 0);
  head[PREFIX_BYTES] = Opcode.GROUP_MSG;
  head.set(group, PREFIX_BYTES + 1);
  head[head.length - 1] = NEWLINE;
  return head;
}

/** A whole GROUP_MSG frame (tests and tools; the broker uses encodeGroupMsgHead). */
export function encodeGroupMsg(group: Bytes, channel: Bytes, message: Bytes): Buffer {
  return encodeControl(
    Opcode.GROUP_MSG,
    group,
    NEWLINE_BYTES,
    channel,
    NEWLINE_BYTES,
    message,
    NEWLINE_BYTES,
  );
}
