import { DOT_BYTE as DOT, GT_BYTE as GT, STAR_BYTE as STAR } from '../protocol/channel.js';
import { NEWLINE, PREFIX_BYTES } from '../protocol/opcodes.js';

/**
 * Strings up to this many UTF-16 units are handled in JS: for the small messages that dominate a
 * busy publisher, a char loop beats the native UTF-8 calls (Buffer.byteLength, buf.write).
 */
const SHORT_STRING = 64;
/** Channels up to this many bytes are copied with a loop rather than TypedArray.set. */
const SHORT_BYTES = 32;

/**
 * A channel for the wire: its validated UTF-8 bytes, or a string (at most maxChannelBytes long)
 * that writeRecordFrame checks while it copies it.
 */
export type WireChannel = Buffer | string;

/** UTF-8 byte length of a message. */
export function messageByteLength(data: string | Uint8Array): number {
  if (typeof data !== 'string') return data.length;
  const length = data.length;
  if (length <= SHORT_STRING) {
    let i = 0;
    while (i < length && data.charCodeAt(i) < 0x80) i++;
    if (i === length) return length;
  }
  return Buffer.byteLength(data, 'utf8');
}

/**
 * Writes a record frame (`u32be LEN | channel \n message \n`) at `offset`, the same bytes as the
 * codec's writeRecord, with fast paths for short channels and short ASCII messages.
 * `messageBytes` is messageByteLength(data). Returns the offset after the frame, or -1 when
 * `channel` is a string that is not a valid channel of printable ASCII (one byte per char): the
 * bytes written are then garbage for the caller to discard, and the general path says what is
 * wrong. Checking while copying reads the string once; a check before the copy, or a map from
 * string to bytes, costs a busy publisher about a fifth more per publish.
 */
export function writeRecordFrame(
  target: Buffer,
  offset: number,
  channel: WireChannel,
  data: string | Uint8Array,
  messageBytes: number,
): number {
  const bodyBytes = channel.length + messageBytes + 2;
  target[offset] = bodyBytes >>> 24;
  target[offset + 1] = (bodyBytes >>> 16) & 0xff;
  target[offset + 2] = (bodyBytes >>> 8) & 0xff;
  target[offset + 3] = bodyBytes & 0xff;
  let at = offset + PREFIX_BYTES;
  const channelLength = channel.length;
  if (typeof channel === 'string') {
    if (!copyPrintableChannel(target, at, channel)) return -1;
  } else if (channelLength <= SHORT_BYTES) {
    for (let i = 0; i < channelLength; i++) target[at + i] = channel[i]!;
  } else {
    target.set(channel, at);
  }
  at += channelLength;
  target[at++] = NEWLINE;
  if (typeof data !== 'string') {
    if (messageBytes <= SHORT_BYTES)
      for (let i = 0; i < messageBytes; i++) target[at + i] = data[i]!;
    else target.set(data, at);
  } else if (messageBytes === data.length && messageBytes <= SHORT_STRING) {
    // ASCII, as messageByteLength found.
    for (let i = 0; i < messageBytes; i++) target[at + i] = data.charCodeAt(i);
  } else {
    target.write(data, at, messageBytes, 'utf8');
  }
  at += messageBytes;
  target[at++] = NEWLINE;
  return at;
}

/**
 * Copies a string channel's chars to `target` at `at`; false unless it is a valid published
 * channel of printable ASCII: no empty token, no `*` or `>` token (PROTOCOL.md section 2).
 */
function copyPrintableChannel(target: Buffer, at: number, channel: string): boolean {
  const length = channel.length;
  if (length === 0) return false;
  let tokenStart = 0;
  for (let i = 0; i < length; i++) {
    const char = channel.charCodeAt(i);
    target[at + i] = char;
    if (char === DOT) {
      if (!isValidToken(target, at + tokenStart, i - tokenStart)) return false;
      tokenStart = i + 1;
    } else if (char < 0x21 || char >= 0x7f) {
      return false;
    }
  }
  return isValidToken(target, at + tokenStart, length - tokenStart);
}

/** A published channel's token (already copied to `target[at..at + length)`) is valid. */
function isValidToken(target: Buffer, at: number, length: number): boolean {
  if (length === 0) return false;
  return length !== 1 || (target[at] !== STAR && target[at] !== GT);
}
