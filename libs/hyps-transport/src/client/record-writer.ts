import { NEWLINE, PREFIX_BYTES } from '../protocol/opcodes.js';

/**
 * Strings up to this many UTF-16 units are handled in JS: for the small messages that dominate a
 * busy publisher, a char loop beats the native UTF-8 calls (Buffer.byteLength, buf.write).
 */
const SHORT_STRING = 64;
/** Channels up to this many bytes are copied with a loop rather than TypedArray.set. */
const SHORT_BYTES = 32;

/**
 * A channel ready for the wire: its UTF-8 bytes, or a string already checked to be printable
 * ASCII (printableAsciiChannelLength), whose chars are its bytes.
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
 * `messageBytes` is messageByteLength(data). Returns the offset after the frame.
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
    for (let i = 0; i < channelLength; i++) target[at + i] = channel.charCodeAt(i);
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
