// fast-check generators of frame sequences for the protocol fuzz test: valid frames, frames broken
// in every way PROTOCOL.md names, and whole sequences then mutated, truncated or split.
import fc from 'fast-check';
import type { FuzzLimits, HelloVariant } from './fuzz-model.js';

const NL = Buffer.from([0x0a]);
const text = (s: string): Buffer => Buffer.from(s, 'utf8');

/** A frame with a correct LEN prefix around `body`. */
export function frameOf(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(body.length, 0);
  return Buffer.concat([prefix, body]);
}

/** Byte strings that are not valid UTF-8: lone lead byte, 0xFF, a surrogate, overlong, > U+10FFFF. */
const BAD_UTF8 = [
  [0xc3],
  [0xff, 0xfe],
  [0xed, 0xa0, 0x80],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xf4, 0x90, 0x80, 0x80],
  [0x61, 0x80],
].map((bytes) => Buffer.from(bytes));

const token: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .constantFrom('chat', 'pub', 'admin', 'room', 'x', '1', 'a-b', 'é', '日本')
      .map(text),
  },
  { weight: 3, arbitrary: fc.constantFrom('*', '>').map(text) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', 'a b', '\x7f', 'tab\there', 'x\x00', 'a*', '>>').map(text),
  },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_UTF8) },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => Buffer.from(b)),
  },
);

const join = (tokens: Buffer[]): Buffer =>
  Buffer.concat(tokens.flatMap((t, i) => (i === 0 ? [t] : [text('.'), t])));

/** Channel, pattern or group names, biased towards the fuzz user's `chat` and `pub` prefixes. */
function nameArb(limits: FuzzLimits): fc.Arbitrary<Buffer> {
  return fc.oneof(
    {
      weight: 12,
      arbitrary: fc
        .tuple(
          fc.constantFrom('chat', 'chat', 'pub', 'admin').map(text),
          fc.array(token, { maxLength: 4 }),
        )
        .map(([first, rest]) => join([first, ...rest])),
    },
    { weight: 3, arbitrary: fc.array(token, { minLength: 1, maxLength: 4 }).map(join) },
    {
      // Around the name limit: at it (valid) and just over (ERR 3).
      weight: 1,
      arbitrary: fc
        .integer({ min: limits.maxChannelBytes - 2, max: limits.maxChannelBytes + 2 })
        .map((n) => text(`chat.${'x'.repeat(n - 5)}`)),
    },
  );
}

const message: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.constantFrom('', '\n', '\n\n', 'a\nb').map(text) },
);

const OPCODES_FOR_THE_BROKER_TO_SEND = [0x10, 0x11, 0x12, 0x13, 0x14];

/** One frame, valid or broken in one of the ways PROTOCOL.md sections 1-2 name. */
export function frameArb(limits: FuzzLimits): fc.Arbitrary<Buffer> {
  const name = nameArb(limits);
  const maxBody = limits.maxFrameBytes;
  return fc.oneof(
    // valid-shaped commands (their names may still be invalid or forbidden)
    { weight: 10, arbitrary: fc.tuple(name, message).map(([c, m]) => frameOf(c, NL, m, NL)) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom(0x02, 0x03), name, fc.option(name, { freq: 3 }))
        .map(([op, p, g]) => frameOf(Buffer.from([op]), p, ...(g === null ? [] : [NL, g]))),
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom(frameOf(Buffer.from([0x04])), frameOf(Buffer.from([0x05]))),
    },
    {
      // a burst of SUBs (and some UNSUBs) to reach the subscription limit: ERR 6
      weight: 2,
      arbitrary: fc
        .array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 11 }), fc.boolean()), {
          minLength: 3,
          maxLength: 12,
        })
        .map((subs) =>
          Buffer.concat(
            subs.map(([sub, n, grouped]) =>
              frameOf(
                Buffer.from([sub || n % 4 !== 0 ? 0x02 : 0x03]),
                text(`chat.s${n}${grouped ? '\ngroup' : ''}`),
              ),
            ),
          ),
        ),
    },
    // non-fatal mistakes
    { weight: 1, arbitrary: message.map((m) => frameOf(NL, m)) }, // the empty channel
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(0x02, 0x03), name)
        .map(([op, p]) => frameOf(Buffer.from([op]), p, NL)),
    }, // empty group
    {
      // a body exactly at the frame limit (valid) or one byte over (ERR 2)
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: 1 }).map((over) => {
        const head = text('chat.big\n');
        return frameOf(head, Buffer.alloc(maxBody + over - head.length - 1, 0x61), NL);
      }),
    },
    // fatal frames
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.integer({ min: 0, max: 0x1f }).filter((op) => op === 0 || op > 0x05),
          fc.uint8Array({ maxLength: 8 }),
        )
        .filter(([op]) => op !== 0x0a)
        .map(([op, b]) => frameOf(Buffer.from([op]), Buffer.from(b))),
    }, // unknown opcode
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...OPCODES_FOR_THE_BROKER_TO_SEND), fc.uint8Array({ maxLength: 12 }))
        .map(([op, b]) => frameOf(Buffer.from([op]), Buffer.from(b))),
    }, // misdirected: OK, ERR, DROPPED, INFO, GROUP_MSG sent by a client
    { weight: 1, arbitrary: fc.constant(frameOf(Buffer.from([0x01]), text('{"protocol":1}'))) },
    { weight: 1, arbitrary: fc.constant(Buffer.alloc(4)) }, // zero LEN
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: maxBody + 1, max: 0xffffffff }), fc.uint8Array({ maxLength: 16 }))
        .map(([len, b]) => {
          const prefix = Buffer.alloc(4);
          prefix.writeUInt32BE(len, 0);
          return Buffer.concat([prefix, Buffer.from(b)]);
        }),
    }, // oversized prefix
    {
      weight: 1,
      arbitrary: fc
        .tuple(name, fc.uint8Array({ minLength: 1, maxLength: 8 }))
        .map(([c, m]) => frameOf(c, NL, Buffer.from(m), text('x'))),
    }, // record without its final newline
    { weight: 1, arbitrary: name.map((c) => frameOf(c, NL)) }, // record with one newline only
    {
      weight: 1,
      arbitrary: fc.constantFrom(0x04, 0x05).map((op) => frameOf(Buffer.from([op, 0]))),
    },
  );
}

/** How a whole sequence is damaged after it is built. */
type Mutation =
  | { kind: 'none' }
  | { kind: 'flip'; at: [number, number][] }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 })
      .map((at): Mutation => ({ kind: 'flip', at })),
  },
  { weight: 2, arbitrary: fc.nat().map((at): Mutation => ({ kind: 'truncate', at })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }))
      .map(([at, bytes]): Mutation => ({ kind: 'insert', at, bytes })),
  },
);

function mutate(stream: Buffer, mutation: Mutation): Buffer {
  if (stream.length === 0 || mutation.kind === 'none') return stream;
  switch (mutation.kind) {
    case 'flip': {
      const copy = Buffer.from(stream);
      for (const [at, byte] of mutation.at) copy[at % copy.length] = byte;
      return copy;
    }
    case 'truncate':
      return stream.subarray(0, mutation.at % stream.length);
    case 'insert': {
      const at = mutation.at % (stream.length + 1);
      return Buffer.concat([
        stream.subarray(0, at),
        Buffer.from(mutation.bytes),
        stream.subarray(at),
      ]);
    }
  }
}

/** One generated connection: how it says HELLO, the bytes after it, and where writes split. */
export interface FuzzCase {
  hello: HelloVariant;
  stream: Buffer;
  mutation: Mutation['kind'];
  /** Offsets into HELLO + stream at which the bytes are cut into separate writes. */
  splits: number[];
}

const helloArb: fc.Arbitrary<HelloVariant> = fc.oneof(
  { weight: 60, arbitrary: fc.constant<HelloVariant>('good') },
  {
    weight: 1,
    arbitrary: fc.constantFrom<HelloVariant>(
      'wrong-signature',
      'unknown-user',
      'no-signature',
      'protocol-2',
      'protocol-string',
      'no-protocol',
      'not-json',
      'json-array',
      'ping-first',
      'record-first',
    ),
  },
);

export function fuzzCaseArb(limits: FuzzLimits): fc.Arbitrary<FuzzCase> {
  return fc
    .record({
      hello: fc.oneof(
        { weight: 400, arbitrary: helloArb },
        { weight: 1, arbitrary: fc.constant<HelloVariant>('silent') },
      ),
      frames: fc.array(frameArb(limits), { maxLength: 10 }),
      mutation: mutationArb,
      splits: fc.array(fc.nat(), { maxLength: 3 }),
    })
    .map(({ hello, frames, mutation, splits }) => ({
      hello,
      stream: mutate(Buffer.concat(frames), mutation),
      mutation: mutation.kind,
      splits,
    }));
}
