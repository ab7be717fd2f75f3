import { isUtf8 as bufferIsUtf8 } from 'node:buffer';
import { InvalidChannelError } from './errors.js';

/** Default bound on a channel, pattern or group, in bytes. */
export const DEFAULT_MAX_CHANNEL_BYTES = 256;

/** What a name is used as; each kind has its own token rules (PROTOCOL.md section 2). */
export type NameKind = 'channel' | 'pattern' | 'group';

/** The byte that splits a name into tokens (`.`), and the two wildcard tokens (`*`, `>`). */
export const DOT_BYTE = 0x2e;
export const STAR_BYTE = 0x2a;
export const GT_BYTE = 0x3e;

/**
 * Checks `bytes[start..end)` against the rules for `kind`. Returns null when valid, or a reason an
 * operator can read. Works on bytes so the broker never decodes an invalid name.
 */
export function channelProblem(
  bytes: Uint8Array,
  start: number,
  end: number,
  kind: NameKind,
  maxBytes: number = DEFAULT_MAX_CHANNEL_BYTES,
): string | null {
  const length = end - start;
  if (length <= 0) return `empty ${kind}`;
  if (length > maxBytes) return `${kind} is ${length} bytes, over the limit of ${maxBytes}`;
  let tokenStart = start;
  let nonAscii = false;
  for (let i = start; i <= end; i++) {
    const byte = i < end ? bytes[i]! : DOT_BYTE;
    if (byte === DOT_BYTE) {
      const tokenLength = i - tokenStart;
      if (tokenLength === 0) return `${kind} has an empty token`;
      if (tokenLength === 1) {
        const only = bytes[tokenStart];
        if (only === STAR_BYTE || only === GT_BYTE) {
          if (kind !== 'pattern')
            return `${kind} may not have a '${String.fromCharCode(only)}' token`;
          if (only === GT_BYTE && i !== end) return `'>' may only be the last token of a pattern`;
        }
      }
      tokenStart = i + 1;
    } else if (byte < 0x21 || byte === 0x7f) {
      return `${kind} contains a control or space byte 0x${byte.toString(16).padStart(2, '0')}`;
    } else if (byte >= 0x80) {
      nonAscii = true;
    }
  }
  if (nonAscii && !isUtf8(bytes, start, end)) return `${kind} is not valid UTF-8`;
  return null;
}

function isUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
  return bufferIsUtf8(view);
}

/** Throws InvalidChannelError unless `name` is valid for `kind`. Returns its UTF-8 bytes. */
export function assertValidName(
  name: string,
  kind: NameKind,
  maxBytes: number = DEFAULT_MAX_CHANNEL_BYTES,
): Buffer {
  if (typeof name !== 'string') throw new InvalidChannelError(`${kind} must be a string`);
  const bytes = Buffer.from(name, 'utf8');
  const problem = channelProblem(bytes, 0, bytes.length, kind, maxBytes);
  if (problem !== null) throw new InvalidChannelError(`invalid ${kind} '${name}': ${problem}`);
  return bytes;
}

/** True when `pattern` contains a wildcard token, so it is not an exact channel. */
export function isWildcardPattern(tokens: readonly string[]): boolean {
  for (const token of tokens) if (token === '*' || token === '>') return true;
  return false;
}
