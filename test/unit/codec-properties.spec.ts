import fc from 'fast-check';
import {
  FrameDecoder,
  FrameDecoderOptions,
  FrameTooLargeError,
  HypsError,
  Opcode,
  PING_FRAME,
  PONG_FRAME,
  ProtocolError,
  channelProblem,
  encodeDropped,
  encodeErr,
  encodeGroupMsg,
  encodeGroupMsgHead,
  encodeHello,
  encodeInfo,
  encodeOk,
  encodeRecord,
  encodeSub,
  encodeUnsub,
  recordFrameLength,
  writeRecord,
} from '@hyps/transport';
import { describingSink, hex, type FrameEvent } from './helpers/frame-events.js';

const RUNS = { numRuns: 300 };

type Event = FrameEvent;

interface Outcome {
  events: Event[];
  /** Each record's buffer, to check slices against the chunk. */
  recordBuffers: Buffer[];
  error: string | null;
  partial: boolean;
}

/** Feeds `chunks` to a fresh decoder; stops at the first error and reports its class. */
function decode(chunks: Buffer[], options: FrameDecoderOptions): Outcome {
  const events: Event[] = [];
  const recordBuffers: Buffer[] = [];
  const decoder = new FrameDecoder(
    describingSink(events, (buf) => recordBuffers.push(buf)),
    options,
  );
  for (const chunk of chunks) {
    try {
      decoder.push(chunk);
    } catch (error) {
      if (!(error instanceof HypsError)) throw error;
      return { events, recordBuffers, error: error.constructor.name, partial: false };
    }
  }
  return { events, recordBuffers, error: null, partial: decoder.hasPartialFrame };
}

/** Cuts `data` at the given points (any numbers; reduced modulo its length). */
function cut(data: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of sorted) {
    chunks.push(data.subarray(from, point));
    from = point;
  }
  chunks.push(data.subarray(from));
  return chunks;
}

// Names: tokens of a few characters, multi-byte UTF-8 and '*'/'>' inside longer tokens included.
const tokenChar = fc.constantFrom('a', 'b', 'z', '0', '_', '-', '*', '>', 'é', '日', '🎉');
const token = fc
  .array(tokenChar, { minLength: 1, maxLength: 5 })
  .map((chars) => chars.join(''))
  .filter((t) => t !== '*' && t !== '>');
const channel = fc.array(token, { minLength: 1, maxLength: 4 }).map((tokens) => tokens.join('.'));
const pattern = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([tokens, tail]) => [...tokens, ...(tail ? ['>'] : [])].join('.'));
const message = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  // Newline-heavy messages, where a wrong split between channel and message would show.
  fc.array(fc.constantFrom(0x0a, 0x61), { maxLength: 20 }).map((b) => Uint8Array.from(b)),
);
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

interface Sample {
  frame: Buffer;
  event: Event;
}

const recordSample = fc.tuple(channel, message).map(([ch, msg]): Sample => ({
  frame: encodeRecord(ch, msg),
  event: {
    type: 'record',
    frame: hex(
      Buffer.concat([
        prefix(Buffer.byteLength(ch) + msg.length + 2),
        Buffer.from(`${ch}\n`),
        msg,
        Buffer.from('\n'),
      ]),
    ),
    channel: ch,
    message: hex(msg),
  },
}));

const subscription = (type: 'sub' | 'unsub') =>
  fc.tuple(pattern, fc.option(channel, { nil: undefined })).map(([p, group]): Sample => ({
    frame: type === 'sub' ? encodeSub(p, group) : encodeUnsub(p, group),
    event: { type, pattern: p, group },
  }));

const clientFrame: fc.Arbitrary<Sample> = fc.oneof(
  { arbitrary: recordSample, weight: 3 },
  fc.option(text, { nil: undefined }).map((name) => {
    const hello = name === undefined ? { protocol: 1 } : { protocol: 1, name };
    return { frame: encodeHello(hello), event: { type: 'hello', body: JSON.stringify(hello) } };
  }),
  subscription('sub'),
  subscription('unsub'),
  fc.constant({ frame: PING_FRAME, event: { type: 'ping' } }),
  fc.constant({ frame: PONG_FRAME, event: { type: 'pong' } }),
);

const brokerFrame: fc.Arbitrary<Sample> = fc.oneof(
  { arbitrary: recordSample, weight: 3 },
  fc.array(u32, { maxLength: 10 }).map((results) => ({
    frame: encodeOk(results),
    event: { type: 'ok', results },
  })),
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), text).map(([code, msg]) => ({
    frame: encodeErr(code, msg),
    event: { type: 'err', code, message: msg },
  })),
  u32.map((count) => ({ frame: encodeDropped(count), event: { type: 'dropped', count } })),
  text.map((version) => {
    const info = {
      protocol: 1,
      server: 'hyps',
      version,
      maxFrameBytes: 1048576,
      maxChannelBytes: 256,
      auth: 'none' as const,
    };
    return { frame: encodeInfo(info), event: { type: 'info', body: JSON.stringify(info) } };
  }),
  fc.constant({ frame: PING_FRAME, event: { type: 'ping' } }),
  {
    arbitrary: fc.tuple(channel, channel, message).map(([group, ch, msg]) => ({
      frame: encodeGroupMsg(group, ch, msg),
      event: { type: 'group_msg', group, channel: ch, message: hex(msg) },
    })),
    weight: 2,
  },
);

/** A copy in its own ArrayBuffer (small Buffers share Node's pool, which would hide a copy). */
function unpooled(data: Buffer): Buffer {
  const copy = Buffer.alloc(data.length);
  data.copy(copy);
  return copy;
}

function prefix(length: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(length, 0);
  return bytes;
}

describe('generated names', () => {
  it('are valid channels, patterns and groups per the channel rules', () => {
    fc.assert(
      fc.property(channel, pattern, (ch, p) => {
        const chBytes = Buffer.from(ch);
        const pBytes = Buffer.from(p);
        expect(channelProblem(chBytes, 0, chBytes.length, 'channel')).toBeNull();
        expect(channelProblem(chBytes, 0, chBytes.length, 'group')).toBeNull();
        expect(channelProblem(pBytes, 0, pBytes.length, 'pattern')).toBeNull();
      }),
      RUNS,
    );
  });
});

describe.each([
  ['client', clientFrame, { from: 'client' } as FrameDecoderOptions],
  ['broker', brokerFrame, { from: 'broker' } as FrameDecoderOptions],
])('round trip of frames from the %s', (_side, frameArb, options) => {
  it('decodes what was encoded, whole and split at random points', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (samples, points) => {
          const data = unpooled(Buffer.concat(samples.map((s) => s.frame)));
          const expected = samples.map((s) => s.event);

          const whole = decode([data], options);
          expect(whole).toMatchObject({ error: null, partial: false });
          expect(whole.events).toEqual(expected);
          // Whole records are slices of the chunk, not copies.
          for (const buf of whole.recordBuffers) expect(buf.buffer).toBe(data.buffer);

          const split = decode(cut(data, points), options);
          expect(split).toMatchObject({ error: null, partial: false });
          expect(split.events).toEqual(expected);
        },
      ),
      RUNS,
    );
  });
});

describe('decoder on arbitrary input', () => {
  // Frame-like bytes: a plausible first byte, a body, and a length prefix that is sometimes off.
  const firstByte = fc.oneof(
    { arbitrary: fc.constantFrom(...Object.values(Opcode)), weight: 2 },
    fc.constantFrom(0x00, 0x06, 0x0a, 0x1f, 0x20, 0x61, 0xff),
  );
  const roughFrame = fc
    .tuple(
      firstByte,
      fc.uint8Array({ maxLength: 80 }),
      fc.integer({ min: -2, max: 2 }),
      fc.integer({ min: 0, max: 3 }),
    )
    .map(([first, rest, skew, skewed]) => {
      const body = Buffer.concat([Buffer.from([first]), rest]);
      return Buffer.concat([prefix(Math.max(0, body.length + (skewed === 0 ? skew : 0))), body]);
    });
  // Good frames mixed in, so that errors also come mid-stream after frames were handed out.
  const input = (goodFrame: fc.Arbitrary<Sample>) =>
    fc.oneof(
      {
        arbitrary: fc
          .array(
            fc.oneof(
              goodFrame.map((s) => s.frame),
              roughFrame,
            ),
            { minLength: 1, maxLength: 6 },
          )
          .map((frames) => Buffer.concat(frames)),
        weight: 4,
      },
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    );

  it.each([
    ['client', clientFrame, { from: 'client', maxFrameBytes: 64 } as FrameDecoderOptions],
    [
      'broker',
      brokerFrame,
      { from: 'broker', maxFrameBytes: 64, maxChannelBytes: 8 } as FrameDecoderOptions,
    ],
  ])(
    'from the %s: only typed errors, and the same outcome however it is split',
    (_side, goodFrame, options) => {
      fc.assert(
        fc.property(input(goodFrame), fc.array(fc.nat(), { maxLength: 6 }), (data, points) => {
          const whole = decode([data], options);
          if (whole.error !== null) {
            expect([ProtocolError.name, FrameTooLargeError.name]).toContain(whole.error);
          }
          const split = decode(cut(data, points), options);
          expect(split.events).toEqual(whole.events);
          expect(split.error).toBe(whole.error);
          if (whole.error === null) expect(split.partial).toBe(whole.partial);
          const bytes = decode(cut(data, Array.from(data.keys())), options);
          expect(bytes.events).toEqual(whole.events);
          expect(bytes.error).toBe(whole.error);
        }),
        { numRuns: 400 },
      );
    },
  );
});

describe('record writers', () => {
  it('writeRecord into one buffer equals the concatenation of encodeRecord', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(channel, message), { minLength: 1, maxLength: 5 }),
        (records) => {
          const total = records.reduce(
            (sum, [ch, msg]) => sum + recordFrameLength(Buffer.byteLength(ch), msg.length),
            0,
          );
          const target = Buffer.alloc(total);
          let offset = 0;
          for (const [ch, msg] of records) offset = writeRecord(target, offset, ch, msg);
          expect(offset).toBe(total);
          expect(target).toEqual(Buffer.concat(records.map(([ch, msg]) => encodeRecord(ch, msg))));
        },
      ),
      RUNS,
    );
  });

  it('a GROUP_MSG head plus the record body equals encodeGroupMsg', () => {
    fc.assert(
      fc.property(channel, channel, message, (group, ch, msg) => {
        const body = encodeRecord(ch, msg).subarray(4);
        const head = encodeGroupMsgHead(Buffer.from(group), body.length);
        expect(Buffer.concat([head, body])).toEqual(encodeGroupMsg(group, ch, msg));
      }),
      RUNS,
    );
  });
});
