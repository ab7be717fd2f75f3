// A reference model of how the broker must answer a byte stream sent after a good HELLO, written
// from PROTOCOL.md alone (no broker or codec code), so the fuzz test compares the broker against
// an independent reading of the spec.

/** Limits of the broker under fuzz; the model must agree with the broker's options. */
export interface FuzzLimits {
  maxFrameBytes: number;
  maxChannelBytes: number;
  maxSubscriptions: number;
}

/** One command's expected answer: OK, or ERR with a code. */
export type Expected = 'ok' | number;

/** How the connection must end up once the broker has judged every byte. */
export type Ending =
  /** At a frame boundary and open. */
  | { kind: 'open' }
  /** Closed with this fatal ERR after the answers. */
  | { kind: 'fatal'; code: number; why: string }
  /** A frame left incomplete: ERR 7 once the frame timeout passes. */
  | { kind: 'incomplete' };

export interface Outcome {
  answers: Expected[];
  ending: Ending;
}

/**
 * The permissions of the fuzz user (PROTOCOL.md section 8):
 * `{"publish": ["chat.>", "pub.*"], "subscribe": ["chat.>"]}`.
 */
export const FUZZ_USER_PERMISSIONS = { publish: ['chat.>', 'pub.*'], subscribe: ['chat.>'] };

function canPublish(tokens: string[]): boolean {
  return (
    (tokens[0] === 'chat' && tokens.length >= 2) || (tokens[0] === 'pub' && tokens.length === 2)
  );
}

/** `chat.>` covers a pattern iff its first token is literally `chat` and it has 2+ tokens. */
function canSubscribe(tokens: string[]): boolean {
  return tokens[0] === 'chat' && tokens.length >= 2;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** PROTOCOL.md section 2, for `kind` = channel (published), pattern or group. */
export function isValidName(
  bytes: Buffer,
  kind: 'channel' | 'pattern' | 'group',
  max: number,
): boolean {
  if (bytes.length < 1 || bytes.length > max) return false;
  for (const byte of bytes) if (byte < 0x21 || byte === 0x7f) return false;
  try {
    utf8.decode(bytes);
  } catch {
    return false;
  }
  const tokens = bytes.toString('latin1').split('.');
  if (tokens.some((t) => t.length === 0)) return false;
  if (kind === 'pattern') return !tokens.slice(0, -1).includes('>');
  return !tokens.includes('*') && !tokens.includes('>');
}

const OP = { HELLO: 1, SUB: 2, UNSUB: 3, PING: 4, PONG: 5 } as const;

/**
 * What the broker must answer to `stream`, sent by an authenticated fuzz user with no
 * subscriptions yet. Stops at the first fatal frame: nothing after it is judged.
 */
export function expectOutcome(stream: Buffer, limits: FuzzLimits): Outcome {
  const answers: Expected[] = [];
  const subscriptions = new Set<string>();
  const fatal = (code: number, why: string): Outcome => ({
    answers,
    ending: { kind: 'fatal', code, why },
  });
  let offset = 0;
  for (;;) {
    const left = stream.length - offset;
    if (left === 0) return { answers, ending: { kind: 'open' } };
    if (left < 4) return { answers, ending: { kind: 'incomplete' } };
    const length = stream.readUInt32BE(offset);
    if (length === 0) return fatal(1, 'zero LEN');
    // Judged from the prefix alone, before the body arrives.
    if (length > limits.maxFrameBytes) return fatal(2, `LEN ${length} over the limit`);
    if (left < 4 + length) return { answers, ending: { kind: 'incomplete' } };
    const body = stream.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
    const first = body[0]!;

    if (first === 0x0a) {
      answers.push(3); // publish to the empty channel, whatever follows
      continue;
    }
    if (first < 0x20) {
      switch (first) {
        case OP.HELLO:
          return fatal(1, 'repeated HELLO');
        case OP.PING:
        case OP.PONG:
          if (body.length !== 1) return fatal(1, 'PING/PONG with a body');
          if (first === OP.PING) answers.push('ok');
          continue;
        case OP.SUB:
        case OP.UNSUB: {
          const rest = body.subarray(1);
          const newline = rest.indexOf(0x0a);
          const pattern = newline < 0 ? rest : rest.subarray(0, newline);
          const group = newline < 0 ? undefined : rest.subarray(newline + 1);
          const max = limits.maxChannelBytes;
          if (
            !isValidName(pattern, 'pattern', max) ||
            (group !== undefined && !isValidName(group, 'group', max))
          ) {
            answers.push(3);
            continue;
          }
          const key =
            group === undefined
              ? pattern.toString('latin1')
              : `${pattern.toString('latin1')}\n${group.toString('latin1')}`;
          if (first === OP.UNSUB) {
            subscriptions.delete(key);
            answers.push('ok');
          } else if (subscriptions.has(key)) {
            answers.push('ok'); // idempotent
          } else if (!canSubscribe(pattern.toString('latin1').split('.'))) {
            answers.push(5);
          } else if (subscriptions.size >= limits.maxSubscriptions) {
            answers.push(6);
          } else {
            subscriptions.add(key);
            answers.push('ok');
          }
          continue;
        }
        default:
          return fatal(1, `opcode 0x${first.toString(16)} is not for the broker`);
      }
    }
    // A record: channel \n message \n, the last byte a newline, two newlines at least.
    if (body[body.length - 1] !== 0x0a) return fatal(1, 'record without its final newline');
    const channelEnd = body.indexOf(0x0a);
    if (channelEnd === body.length - 1) return fatal(1, 'record without a channel newline');
    const channel = body.subarray(0, channelEnd);
    if (!isValidName(channel, 'channel', limits.maxChannelBytes)) answers.push(3);
    else if (!canPublish(channel.toString('latin1').split('.'))) answers.push(5);
    else answers.push('ok');
  }
}

/** The HELLO variants a fuzz case opens with, and what each must get. */
export type HelloVariant =
  | 'good'
  | 'wrong-signature'
  | 'unknown-user'
  | 'no-signature'
  | 'protocol-2'
  | 'protocol-string'
  | 'no-protocol'
  | 'not-json'
  | 'json-array'
  | 'ping-first'
  | 'record-first'
  | 'silent';

/** The fatal ERR code a failing HELLO variant must get (`good` has none). */
export const HELLO_FATAL: Record<Exclude<HelloVariant, 'good'>, number> = {
  'wrong-signature': 4,
  'unknown-user': 4,
  'no-signature': 4,
  'protocol-2': 9,
  'protocol-string': 9,
  'no-protocol': 1,
  'not-json': 1,
  'json-array': 1,
  'ping-first': 1,
  'record-first': 1,
  silent: 7,
};
