import { readFileSync } from 'node:fs';
import {
  NEWLINE,
  Opcode,
  PING_FRAME,
  PONG_FRAME,
  PREFIX_BYTES,
  PROTOCOL_VERSION,
  encodeControl,
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

/** Hex written with spaces, as in PROTOCOL.md, to compare byte for byte. */
const bytes = (spaced: string): Buffer => Buffer.from(spaced.replace(/\s+/g, ''), 'hex');
const ascii = (text: string): string => Buffer.from(text, 'utf8').toString('hex');

describe('wire constants', () => {
  it('match PROTOCOL.md section 1', () => {
    expect(Opcode).toEqual({
      HELLO: 0x01,
      SUB: 0x02,
      UNSUB: 0x03,
      PING: 0x04,
      PONG: 0x05,
      OK: 0x10,
      ERR: 0x11,
      DROPPED: 0x12,
      INFO: 0x13,
      GROUP_MSG: 0x14,
    });
    expect(NEWLINE).toBe(0x0a);
    expect(PREFIX_BYTES).toBe(4);
    expect(PROTOCOL_VERSION).toBe(1);
  });
});

describe('records', () => {
  const EXAMPLE = bytes('00 00 00 0F 66 6F 6F 5F 63 68 0A 66 6F 6F 5F 6D 73 67 0A');

  it('encode the PROTOCOL.md example exactly, from strings or bytes', () => {
    expect(encodeRecord('foo_ch', 'foo_msg')).toEqual(EXAMPLE);
    expect(encodeRecord(Buffer.from('foo_ch'), Uint8Array.from(Buffer.from('foo_msg')))).toEqual(
      EXAMPLE,
    );
  });

  it('encode an empty message as two newlines in a row', () => {
    expect(encodeRecord('a', '')).toEqual(bytes('00 00 00 03 61 0A 0A'));
  });

  it('keep newlines and any other byte inside the message', () => {
    expect(encodeRecord('c', Buffer.from([0x0a, 0x00, 0xff]))).toEqual(
      bytes('00 00 00 06 63 0A 0A 00 FF 0A'),
    );
  });

  it('count multi-byte UTF-8 in bytes, not characters', () => {
    // 'é' is C3 A9, '€' is E2 82 AC.
    expect(encodeRecord('é', '€')).toEqual(bytes('00 00 00 07 C3 A9 0A E2 82 AC 0A'));
  });

  it('writeRecord packs several records into one buffer and returns the next offset', () => {
    const length = recordFrameLength(6, 7) + recordFrameLength(1, 0);
    expect(recordFrameLength(6, 7)).toBe(19);
    const target = Buffer.alloc(length + 2, 0xee);
    let offset = writeRecord(target, 1, 'foo_ch', Buffer.from('foo_msg'));
    expect(offset).toBe(20);
    offset = writeRecord(target, offset, Buffer.from('a'), '');
    expect(offset).toBe(length + 1);
    expect(target).toEqual(
      Buffer.concat([
        bytes('EE'),
        encodeRecord('foo_ch', 'foo_msg'),
        encodeRecord('a', ''),
        bytes('EE'),
      ]),
    );
  });
});

describe('control frames', () => {
  it('HELLO carries its payload as JSON', () => {
    expect(encodeHello({ protocol: 1 }).toString('hex')).toBe(
      '0000000f' + '01' + ascii('{"protocol":1}'),
    );
    const full = { protocol: 1, name: 'n', token: 't', user: 'u', signature: 's' };
    const frame = encodeHello(full);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    expect(frame[4]).toBe(0x01);
    expect(JSON.parse(frame.toString('utf8', 5))).toEqual(full);
  });

  it('SUB and UNSUB carry the pattern, then 0x0A and the group when there is one', () => {
    expect(encodeSub('orders.*')).toEqual(bytes('00 00 00 09 02' + ascii('orders.*')));
    expect(encodeSub('orders.*', 'workers')).toEqual(
      bytes('00 00 00 11 02' + ascii('orders.*') + '0A' + ascii('workers')),
    );
    expect(encodeUnsub('orders.*')).toEqual(bytes('00 00 00 09 03' + ascii('orders.*')));
    expect(encodeUnsub(Buffer.from('a.>'), Buffer.from('g'))).toEqual(
      bytes('00 00 00 06 03 61 2E 3E 0A 67'),
    );
  });

  it('PING and PONG are five fixed bytes', () => {
    expect(PING_FRAME).toEqual(bytes('00 00 00 01 04'));
    expect(PONG_FRAME).toEqual(bytes('00 00 00 01 05'));
  });

  it('OK carries a count and one u32 result per command', () => {
    expect(encodeOk([2, 0, 1])).toEqual(
      bytes('00 00 00 11 10 00 00 00 03 00 00 00 02 00 00 00 00 00 00 00 01'),
    );
    expect(encodeOk([])).toEqual(bytes('00 00 00 05 10 00 00 00 00'));
    expect(encodeOk([0xffffffff])).toEqual(bytes('00 00 00 09 10 00 00 00 01 FF FF FF FF'));
  });

  it('OK takes only the first `count` results when given a count', () => {
    expect(encodeOk(Uint32Array.of(5, 6, 7), 2)).toEqual(
      bytes('00 00 00 0D 10 00 00 00 02 00 00 00 05 00 00 00 06'),
    );
  });

  it('ERR carries a u16 code and UTF-8 text', () => {
    expect(encodeErr(3, 'bad')).toEqual(bytes('00 00 00 06 11 00 03 62 61 64'));
    expect(encodeErr(258, '')).toEqual(bytes('00 00 00 03 11 01 02'));
    expect(encodeErr(1, 'é')).toEqual(bytes('00 00 00 05 11 00 01 C3 A9'));
  });

  it('DROPPED carries a u32 count, saturating at its largest value', () => {
    expect(encodeDropped(258)).toEqual(bytes('00 00 00 05 12 00 00 01 02'));
    expect(encodeDropped(0)).toEqual(bytes('00 00 00 05 12 00 00 00 00'));
    expect(encodeDropped(2 ** 40)).toEqual(bytes('00 00 00 05 12 FF FF FF FF'));
  });

  it('INFO carries its payload as JSON', () => {
    const info = {
      protocol: 1,
      server: 'hyps',
      version: '1.2.3',
      maxFrameBytes: 1048576,
      maxChannelBytes: 256,
      auth: 'hmac' as const,
      nonce: 'bm9uY2U=',
    };
    const frame = encodeInfo(info);
    const json = JSON.stringify(info);
    expect(frame).toEqual(
      Buffer.concat([
        bytes((json.length + 1).toString(16).padStart(8, '0')),
        bytes('13'),
        Buffer.from(json),
      ]),
    );
  });

  it('GROUP_MSG is the group, 0x0A, then a record body', () => {
    expect(encodeGroupMsg('g', 'c', 'm')).toEqual(bytes('00 00 00 07 14 67 0A 63 0A 6D 0A'));
    expect(encodeGroupMsg('g', 'c', '')).toEqual(bytes('00 00 00 06 14 67 0A 63 0A 0A'));
  });

  it('a GROUP_MSG head followed by a record body is the whole GROUP_MSG', () => {
    const record = encodeRecord('orders.eu', 'payload\n');
    const body = record.subarray(PREFIX_BYTES);
    const head = encodeGroupMsgHead(Buffer.from('workers'), body.length);
    expect(head).toEqual(bytes('00 00 00 1C 14' + ascii('workers') + '0A'));
    expect(Buffer.concat([head, body])).toEqual(
      encodeGroupMsg('workers', 'orders.eu', 'payload\n'),
    );
  });

  it('encodeControl concatenates string and byte parts after the opcode', () => {
    expect(encodeControl(0x02, 'a', Buffer.from([0x0a]), 'é')).toEqual(
      bytes('00 00 00 05 02 61 0A C3 A9'),
    );
    expect(encodeControl(0x04)).toEqual(PING_FRAME);
  });
});

describe('docs/protocol.md', () => {
  const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const record = encodeRecord('orders.eu', '{"id":7}');
  const EXAMPLES: Record<string, Buffer> = {
    record,
    hello: encodeHello({ protocol: 1, token: 's3cret' }),
    sub: encodeSub('orders.*', 'billing'),
    ok: encodeOk([0, 2, 1]),
    err: encodeErr(3, 'bad channel'),
    dropped: encodeDropped(12),
    info: encodeInfo({
      protocol: 1,
      server: 'hyps',
      version: '0.1.0',
      maxFrameBytes: 1048576,
      maxChannelBytes: 256,
      auth: 'none',
    }),
    group_msg: encodeGroupMsg('billing', 'orders.eu', '{"id":7}'),
  };

  /** Each `<!-- hex: name -->` block: the hex column of every line (annotations follow 2+ spaces). */
  const blocks = new Map<string, string>();
  for (const match of doc.matchAll(/<!-- hex: (\w+) -->\s*```\n([\s\S]*?)```/g)) {
    const lines = match[2]!.trimEnd().split('\n');
    blocks.set(match[1]!, lines.map((line) => line.split(/\s{2,}/)[0]!.trim()).join(' '));
  }

  it('has a hex block for every example, and no other', () => {
    expect([...blocks.keys()].sort()).toEqual(Object.keys(EXAMPLES).sort());
  });

  it.each(Object.entries(EXAMPLES))('shows the bytes the codec encodes for %s', (name, frame) => {
    const shown = blocks.get(name)!;
    expect(shown).toMatch(/^[0-9A-F]{2}( [0-9A-F]{2})*$/);
    expect(bytes(shown).toString('hex')).toBe(frame.toString('hex'));
  });

  it('shows the PING and PONG bytes inline', () => {
    expect(doc).toContain('`00 00 00 01 04`');
    expect(doc).toContain('`00 00 00 01 05`');
    expect(PING_FRAME).toEqual(bytes('00 00 00 01 04'));
    expect(PONG_FRAME).toEqual(bytes('00 00 00 01 05'));
  });
});
