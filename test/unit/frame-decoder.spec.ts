import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  FrameDecoderOptions,
  FrameTooLargeError,
  HypsError,
  Opcode,
  PING_FRAME,
  PONG_FRAME,
  ProtocolError,
  decodeFrames,
  encodeControl,
  encodeDropped,
  encodeErr,
  encodeGroupMsg,
  encodeHello,
  encodeInfo,
  encodeOk,
  encodeRecord,
  encodeSub,
  encodeUnsub,
} from '@hyps/transport';
import { describeControl, describingSink, hex, type FrameEvent } from './helpers/frame-events.js';

type Event = FrameEvent;

interface RecordCall {
  buf: Buffer;
  frameStart: number;
  channelEnd: number;
  frameEnd: number;
}

/** A sink that keeps every frame, in order, plus the raw arguments of each onRecord call. */
function collector() {
  const events: Event[] = [];
  const records: RecordCall[] = [];
  return {
    events,
    records,
    sink: describingSink(events, (buf, frameStart, channelEnd, frameEnd) =>
      records.push({ buf, frameStart, channelEnd, frameEnd }),
    ),
  };
}

function decodeInChunks(chunks: Buffer[], options: FrameDecoderOptions) {
  const out = collector();
  const decoder = new FrameDecoder(out.sink, options);
  for (const chunk of chunks) decoder.push(chunk);
  expect(decoder.hasPartialFrame).toBe(false);
  expect(decoder.bufferedBytes).toBe(0);
  return out;
}

function recordEvent(channel: string, message: Uint8Array | string): Event {
  return {
    type: 'record',
    frame: hex(encodeRecord(channel, message)),
    channel,
    message: hex(Buffer.from(message)),
  };
}

interface Case {
  frame: Buffer;
  event: Event;
}

const record = (channel: string, message: Uint8Array | string): Case => ({
  frame: encodeRecord(channel, message),
  event: recordEvent(channel, message),
});

const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);

/** Frames a client sends: every client opcode and records of every awkward shape. */
const FROM_CLIENT: Case[] = [
  {
    frame: encodeHello({ protocol: 1, name: 'api' }),
    event: { type: 'hello', body: '{"protocol":1,"name":"api"}' },
  },
  record('foo_ch', 'foo_msg'),
  record('orders.eu', ''),
  record('lines', 'one\ntwo\n\nthree'),
  record('nl', '\n'),
  record('bin.ü', allBytes),
  { frame: encodeSub('orders.*'), event: { type: 'sub', pattern: 'orders.*', group: undefined } },
  {
    frame: encodeSub('orders.>', 'workers'),
    event: { type: 'sub', pattern: 'orders.>', group: 'workers' },
  },
  {
    frame: encodeUnsub('orders.*'),
    event: { type: 'unsub', pattern: 'orders.*', group: undefined },
  },
  {
    frame: encodeUnsub('orders.>', 'workers'),
    event: { type: 'unsub', pattern: 'orders.>', group: 'workers' },
  },
  { frame: PING_FRAME, event: { type: 'ping' } },
  { frame: PONG_FRAME, event: { type: 'pong' } },
  record('a.b*', 'x'),
];

/** Small limits so frames at and over them stay short. */
const SMALL = { maxFrameBytes: 128, maxChannelBytes: 16 };
const LONG_GROUP = 'g'.repeat(SMALL.maxChannelBytes);
// A record body of exactly maxFrameBytes: 'big\n' + 123 bytes + '\n'.
const FULL_MESSAGE = Buffer.alloc(SMALL.maxFrameBytes - 5, 0x0a);

/** Frames a broker sends, including a GROUP_MSG over maxFrameBytes by its whole group prefix. */
const FROM_BROKER: Case[] = [
  {
    frame: encodeInfo({
      protocol: 1,
      server: 'hyps',
      version: '0.1.0',
      maxFrameBytes: 128,
      maxChannelBytes: 16,
      auth: 'none',
    }),
    event: {
      type: 'info',
      body: '{"protocol":1,"server":"hyps","version":"0.1.0","maxFrameBytes":128,"maxChannelBytes":16,"auth":"none"}',
    },
  },
  { frame: encodeOk([0]), event: { type: 'ok', results: [0] } },
  { frame: encodeOk([3, 0, 70000]), event: { type: 'ok', results: [3, 0, 70000] } },
  { frame: encodeOk([]), event: { type: 'ok', results: [] } },
  record('foo_ch', 'foo_msg'),
  record('empty', ''),
  record('nl', 'a\nb'),
  {
    frame: encodeErr(3, 'invalid channel'),
    event: { type: 'err', code: 3, message: 'invalid channel' },
  },
  { frame: encodeErr(8, ''), event: { type: 'err', code: 8, message: '' } },
  { frame: encodeDropped(7), event: { type: 'dropped', count: 7 } },
  { frame: PING_FRAME, event: { type: 'ping' } },
  {
    frame: encodeGroupMsg('workers', 'orders.eu', 'x\ny'),
    event: {
      type: 'group_msg',
      group: 'workers',
      channel: 'orders.eu',
      message: hex(Buffer.from('x\ny')),
    },
  },
  record('big', FULL_MESSAGE),
  {
    frame: encodeGroupMsg(LONG_GROUP, 'big', FULL_MESSAGE),
    event: { type: 'group_msg', group: LONG_GROUP, channel: 'big', message: hex(FULL_MESSAGE) },
  },
  {
    frame: encodeGroupMsg('w', 'e', ''),
    event: { type: 'group_msg', group: 'w', channel: 'e', message: '' },
  },
];

describe.each([
  ['client', FROM_CLIENT, { from: 'client' } as FrameDecoderOptions],
  ['broker', FROM_BROKER, { from: 'broker', ...SMALL } as FrameDecoderOptions],
])('FrameDecoder on frames from the %s', (_side, cases, options) => {
  const data = Buffer.concat(cases.map((c) => c.frame));
  const expected = cases.map((c) => c.event);

  it('uses the frames it is meant to (the oversized GROUP_MSG really is over the limit)', () => {
    if (options.from === 'broker') {
      const oversized = cases[cases.length - 2]!.frame;
      expect(oversized.readUInt32BE(0)).toBe(SMALL.maxFrameBytes + SMALL.maxChannelBytes + 2);
    }
    expect(cases.length).toBeGreaterThan(10);
  });

  it('decodes the whole buffer at once', () => {
    expect(decodeInChunks([data], options).events).toEqual(expected);
  });

  it('decodes one byte at a time', () => {
    const bytes = Array.from({ length: data.length }, (_, i) => data.subarray(i, i + 1));
    expect(decodeInChunks(bytes, options).events).toEqual(expected);
  });

  it('decodes the data split in two at every boundary', () => {
    for (let split = 0; split <= data.length; split++) {
      const { events } = decodeInChunks([data.subarray(0, split), data.subarray(split)], options);
      if (events.length !== expected.length)
        throw new Error(`split at ${split}: wrong frame count`);
      expect(events).toEqual(expected);
    }
  });

  it('hands out whole records as slices of the received chunk, bytes unchanged', () => {
    // Buffer.alloc never uses Node's shared pool, so a copy could not share this ArrayBuffer.
    const chunk = Buffer.alloc(data.length);
    data.copy(chunk);
    const { records } = decodeInChunks([chunk], options);
    const frames = cases.filter((c) => c.event.type === 'record').map((c) => c.frame);
    const frameOffsets: number[] = [];
    let offset = 0;
    for (const c of cases) {
      if (c.event.type === 'record') frameOffsets.push(offset);
      offset += c.frame.length;
    }
    expect(records).toHaveLength(frames.length);
    records.forEach((call, i) => {
      expect(call.buf.buffer).toBe(chunk.buffer);
      expect(call.buf.byteOffset + call.frameStart).toBe(chunk.byteOffset + frameOffsets[i]!);
      expect(call.buf.subarray(call.frameStart, call.frameEnd).equals(frames[i]!)).toBe(true);
    });
  });

  it('copies a record split across chunks into one buffer of exactly its size', () => {
    const frame = encodeRecord('split', 'across chunks');
    const { records } = decodeInChunks([frame.subarray(0, 6), frame.subarray(6)], options);
    expect(records).toHaveLength(1);
    const [call] = records;
    expect(call!.frameStart).toBe(0);
    expect(call!.frameEnd).toBe(call!.buf.length);
    expect(call!.buf.equals(frame)).toBe(true);
  });

  it('decodeFrames gives the same frames', () => {
    const frames = decodeFrames(data, options).map((frame) =>
      frame.type === 'record'
        ? {
            type: 'record',
            frame: hex(frame.frame),
            channel: frame.channel.toString('utf8'),
            message: hex(frame.message),
          }
        : describeControl(frame),
    );
    expect(frames).toEqual(expected);
  });
});

describe('FrameDecoder details', () => {
  const EXAMPLE = Buffer.from('0000000F666F6F5F63680A666F6F5F6D73670A', 'hex');

  it('decodes the PROTOCOL.md example record, and encodeRecord produces it', () => {
    const [frame] = decodeFrames(EXAMPLE, { from: 'client' });
    expect(frame).toMatchObject({ type: 'record' });
    if (frame?.type !== 'record') throw new Error('not a record');
    expect(frame.channel.toString()).toBe('foo_ch');
    expect(frame.message.toString()).toBe('foo_msg');
    expect(frame.frame.equals(EXAMPLE)).toBe(true);
    expect(encodeRecord('foo_ch', 'foo_msg').equals(EXAMPLE)).toBe(true);
  });

  it('passes a record to the empty channel on, whatever follows the 0x0A', () => {
    for (const body of ['\nmsg\n', '\n', '\nno newline at the end']) {
      const out = collector();
      const frame = Buffer.concat([Buffer.alloc(4), Buffer.from(body)]);
      frame.writeUInt32BE(body.length, 0);
      new FrameDecoder(out.sink, { from: 'client' }).push(frame);
      expect(out.records).toHaveLength(1);
      expect(out.records[0]!.channelEnd).toBe(out.records[0]!.frameStart + 4);
      expect(out.records[0]!.frameEnd).toBe(frame.length);
    }
  });

  it('hands OK results in place to a sink with onOk, and checks the count first', () => {
    const oks: number[][] = [];
    const controls: string[] = [];
    const sink = {
      onRecord: () => controls.push('record'),
      onControl: (frame: { type: string }) => controls.push(frame.type),
      onOk(buf: Buffer, resultsStart: number, count: number) {
        oks.push(Array.from({ length: count }, (_, i) => buf.readUInt32BE(resultsStart + 4 * i)));
      },
    };
    const decoder = new FrameDecoder(sink, { from: 'broker' });
    decoder.push(
      Buffer.concat([encodeOk([3, 0, 70000]), PING_FRAME, encodeOk([]), encodeOk([0xffffffff])]),
    );
    expect(oks).toEqual([[3, 0, 70000], [], [0xffffffff]]);
    expect(controls).toEqual(['ping']);
    for (const bad of [
      rawFrame([Opcode.OK, 0, 0, 0]),
      rawFrame([Opcode.OK, 0, 0, 0, 2, 0, 0, 0, 1]),
      rawFrame([Opcode.OK, 0, 0, 0, 0, 0, 0, 0, 1]),
    ]) {
      expect(() => new FrameDecoder(sink, { from: 'broker' }).push(bad)).toThrow(ProtocolError);
    }
    expect(oks).toHaveLength(3);
    // A broker never receives OK, whether or not its sink has onOk.
    expect(() => new FrameDecoder(sink, { from: 'client' }).push(encodeOk([1]))).toThrow(
      ProtocolError,
    );
    expect(oks).toHaveLength(3);
  });

  it('treats a body starting at 0x20 or above as a record, not a control frame', () => {
    const frames = decodeFrames(encodeRecord(' x', 'm'), { from: 'client' });
    expect(frames).toMatchObject([{ type: 'record' }]);
  });

  it('reports a partial frame and the bytes it holds', () => {
    const out = collector();
    const decoder = new FrameDecoder(out.sink, { from: 'client' });
    const frame = encodeRecord('abc', 'hello');
    expect(decoder.hasPartialFrame).toBe(false);
    decoder.push(frame.subarray(0, 2));
    expect(decoder.hasPartialFrame).toBe(true);
    expect(decoder.bufferedBytes).toBe(2);
    decoder.push(frame.subarray(2, 7));
    expect(decoder.hasPartialFrame).toBe(true);
    expect(decoder.bufferedBytes).toBe(frame.length);
    decoder.push(frame.subarray(7));
    expect(decoder.hasPartialFrame).toBe(false);
    expect(decoder.bufferedBytes).toBe(0);
    expect(out.events).toEqual([recordEvent('abc', 'hello')]);
  });

  it('accepts a frame of exactly maxFrameBytes and uses 1 MiB by default', () => {
    expect(DEFAULT_MAX_FRAME_BYTES).toBe(1024 * 1024);
    const body = Buffer.alloc(DEFAULT_MAX_FRAME_BYTES - 3, 0x61);
    const frames = decodeFrames(encodeRecord('a', body), { from: 'client' });
    expect(frames).toHaveLength(1);
    expect(() => decodeFrames(encodeRecord('ab', body), { from: 'client' })).toThrow(
      FrameTooLargeError,
    );
  });

  it('decodeFrames rejects data that ends inside a frame', () => {
    expect(() => decodeFrames(PING_FRAME.subarray(0, 3), { from: 'client' })).toThrow(
      ProtocolError,
    );
    expect(() => decodeFrames(encodeRecord('a', 'b').subarray(0, 6), { from: 'client' })).toThrow(
      ProtocolError,
    );
  });
});

/** A frame with this exact body, whatever it holds. */
function rawFrame(body: Buffer | string | number[]): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : Buffer.from(body);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([prefix, bytes]);
}

function prefixOnly(length: number): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(length, 0);
  return prefix;
}

type ErrorClass = new (message: string) => HypsError;

const MALFORMED: Array<[string, FrameDecoderOptions, Buffer, ErrorClass]> = [
  ['zero LEN from a client', { from: 'client' }, prefixOnly(0), ProtocolError],
  ['zero LEN from a broker', { from: 'broker' }, prefixOnly(0), ProtocolError],
  [
    'LEN above maxFrameBytes',
    { from: 'client', maxFrameBytes: 16 },
    prefixOnly(17),
    FrameTooLargeError,
  ],
  ['LEN 0x7FFFFFF0', { from: 'client' }, prefixOnly(0x7ffffff0), FrameTooLargeError],
  ['LEN 0xFFFFFFFF from a broker', { from: 'broker' }, prefixOnly(0xffffffff), FrameTooLargeError],
  [
    'GROUP_MSG one byte over its allowance',
    { from: 'broker', ...SMALL },
    encodeGroupMsg(LONG_GROUP, 'big', Buffer.concat([FULL_MESSAGE, Buffer.from('x')])),
    FrameTooLargeError,
  ],
  [
    'a record within the GROUP_MSG allowance',
    { from: 'broker', ...SMALL },
    encodeRecord('big', Buffer.concat([FULL_MESSAGE, Buffer.from('x')])),
    FrameTooLargeError,
  ],
  [
    'a GROUP_MSG over maxFrameBytes sent by a client',
    { from: 'client', maxFrameBytes: 128 },
    encodeGroupMsg('g', 'big', FULL_MESSAGE),
    FrameTooLargeError,
  ],
  ['record without any newline', { from: 'client' }, rawFrame('channel'), ProtocolError],
  ['record without trailing newline', { from: 'client' }, rawFrame('ch\nmsg'), ProtocolError],
  ['record with only one newline', { from: 'client' }, rawFrame('chmsg\n'), ProtocolError],
  ['one-byte record', { from: 'broker' }, rawFrame('a'), ProtocolError],
  ['opcode 0x00', { from: 'client' }, rawFrame([0x00]), ProtocolError],
  ['unknown opcode 0x06', { from: 'client' }, rawFrame([0x06]), ProtocolError],
  ['unknown opcode 0x09 (tab)', { from: 'broker' }, rawFrame([0x09, 0x61]), ProtocolError],
  ['unknown opcode 0x1F', { from: 'broker' }, rawFrame([0x1f]), ProtocolError],
  ['OK sent by a client', { from: 'client' }, encodeOk([1]), ProtocolError],
  ['ERR sent by a client', { from: 'client' }, encodeErr(1, 'x'), ProtocolError],
  ['DROPPED sent by a client', { from: 'client' }, encodeDropped(1), ProtocolError],
  ['INFO sent by a client', { from: 'client' }, encodeControl(Opcode.INFO, '{}'), ProtocolError],
  ['GROUP_MSG sent by a client', { from: 'client' }, encodeGroupMsg('g', 'c', 'm'), ProtocolError],
  ['HELLO sent by a broker', { from: 'broker' }, encodeHello({ protocol: 1 }), ProtocolError],
  ['SUB sent by a broker', { from: 'broker' }, encodeSub('a'), ProtocolError],
  ['UNSUB sent by a broker', { from: 'broker' }, encodeUnsub('a'), ProtocolError],
  ['PONG sent by a broker', { from: 'broker' }, PONG_FRAME, ProtocolError],
  ['PING with a body', { from: 'client' }, rawFrame([Opcode.PING, 0]), ProtocolError],
  ['PING with a body from a broker', { from: 'broker' }, rawFrame([Opcode.PING, 0]), ProtocolError],
  ['PONG with a body', { from: 'client' }, rawFrame([Opcode.PONG, 0x0a]), ProtocolError],
  ['OK without a count', { from: 'broker' }, rawFrame([Opcode.OK, 0, 0, 0]), ProtocolError],
  [
    'OK with fewer results than its count',
    { from: 'broker' },
    rawFrame([Opcode.OK, 0, 0, 0, 2, 0, 0, 0, 1]),
    ProtocolError,
  ],
  [
    'OK with more results than its count',
    { from: 'broker' },
    rawFrame([Opcode.OK, 0, 0, 0, 0, 0, 0, 0, 1]),
    ProtocolError,
  ],
  [
    'OK with a ragged result',
    { from: 'broker' },
    rawFrame([Opcode.OK, 0, 0, 0, 1, 0, 0, 1]),
    ProtocolError,
  ],
  ['DROPPED of 3 bytes', { from: 'broker' }, rawFrame([Opcode.DROPPED, 0, 0, 1]), ProtocolError],
  [
    'DROPPED of 5 bytes',
    { from: 'broker' },
    rawFrame([Opcode.DROPPED, 0, 0, 0, 1, 0]),
    ProtocolError,
  ],
  ['DROPPED without a body', { from: 'broker' }, rawFrame([Opcode.DROPPED]), ProtocolError],
  ['ERR without a body', { from: 'broker' }, rawFrame([Opcode.ERR]), ProtocolError],
  ['ERR with half a code', { from: 'broker' }, rawFrame([Opcode.ERR, 0]), ProtocolError],
  ['GROUP_MSG without a body', { from: 'broker' }, rawFrame([Opcode.GROUP_MSG]), ProtocolError],
  ['GROUP_MSG without newlines', { from: 'broker' }, rawFrame('\x14group'), ProtocolError],
  ['GROUP_MSG with only a group', { from: 'broker' }, rawFrame('\x14group\n'), ProtocolError],
  [
    'GROUP_MSG whose record has one newline',
    { from: 'broker' },
    rawFrame('\x14group\nchannel\n'),
    ProtocolError,
  ],
  [
    'GROUP_MSG whose record lacks a trailing newline',
    { from: 'broker' },
    rawFrame('\x14group\nchannel\nmessage'),
    ProtocolError,
  ],
];

describe('FrameDecoder on malformed input', () => {
  const NEXT_GOOD = { client: PING_FRAME, broker: encodeOk([0]) };

  it.each(MALFORMED)('%s: whole', (_name, options, bad, ErrorType) => {
    const out = collector();
    const decoder = new FrameDecoder(out.sink, options);
    // A good frame first, so the error is raised mid-stream and not only at offset 0.
    const data = Buffer.concat([NEXT_GOOD[options.from], bad]);
    const error = catchError(() => decoder.push(data));
    expect(error).toBeInstanceOf(ErrorType);
    expect((error as HypsError).wireCode).toBe(
      (ErrorType as unknown as { wireCode: number }).wireCode,
    );
    expect(out.events).toHaveLength(1);
    // The decoder is unusable afterwards, even for a good frame.
    expect(() => decoder.push(NEXT_GOOD[options.from])).toThrow(ProtocolError);
    expect(out.events).toHaveLength(1);
    expect(decoder.hasPartialFrame).toBe(false);
  });

  it.each(MALFORMED)('%s: one byte at a time', (_name, options, bad, ErrorType) => {
    const decoder = new FrameDecoder(collector().sink, options);
    let error: unknown;
    let pushed = 0;
    for (; pushed < bad.length && error === undefined; pushed++) {
      error = catchError(() => decoder.push(bad.subarray(pushed, pushed + 1)));
    }
    expect(error).toBeInstanceOf(ErrorType);
    expect(() => decoder.push(NEXT_GOOD[options.from])).toThrow(ProtocolError);
  });

  it('rejects an oversized LEN from the 4-byte prefix alone, before any body byte', () => {
    for (const from of ['client', 'broker'] as const) {
      const decoder = new FrameDecoder(collector().sink, { from, maxFrameBytes: 1000 });
      expect(() => decoder.push(prefixOnly(1001 + 258))).toThrow(FrameTooLargeError);
    }
    const client = new FrameDecoder(collector().sink, { from: 'client', maxFrameBytes: 1000 });
    expect(() => client.push(prefixOnly(1001))).toThrow(FrameTooLargeError);
  });

  it('rejects a 0x7FFFFFF0 prefix byte by byte without buffering more than the prefix', () => {
    for (const from of ['client', 'broker'] as const) {
      const decoder = new FrameDecoder(collector().sink, { from });
      const prefix = prefixOnly(0x7ffffff0);
      for (let i = 0; i < 3; i++) {
        decoder.push(prefix.subarray(i, i + 1));
        expect(decoder.bufferedBytes).toBe(i + 1);
      }
      expect(() => decoder.push(prefix.subarray(3))).toThrow(FrameTooLargeError);
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(4);
      expect(decoder.hasPartialFrame).toBe(false);
    }
  });

  it('on the client side waits for the opcode when LEN is within the GROUP_MSG allowance', () => {
    const length = SMALL.maxFrameBytes + 1;
    const decoder = new FrameDecoder(collector().sink, { from: 'broker', ...SMALL });
    decoder.push(prefixOnly(length));
    expect(decoder.bufferedBytes).toBe(4);
    expect(() => decoder.push(Buffer.from([Opcode.OK]))).toThrow(FrameTooLargeError);

    const groupMsg = encodeGroupMsg('g', 'c', Buffer.alloc(length - 6, 0x41));
    expect(groupMsg.readUInt32BE(0)).toBe(length);
    const out = collector();
    const accepting = new FrameDecoder(out.sink, { from: 'broker', ...SMALL });
    accepting.push(groupMsg.subarray(0, 4));
    accepting.push(groupMsg.subarray(4, 5));
    expect(accepting.bufferedBytes).toBe(groupMsg.length);
    accepting.push(groupMsg.subarray(5));
    expect(out.events).toMatchObject([{ type: 'group_msg', group: 'g', channel: 'c' }]);
  });
});

function catchError(action: () => void): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}
