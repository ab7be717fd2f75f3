// PROTOCOL.md sections 1 (records), 2 (names), 3 (receivers), 4 (acknowledgements), 6 (order).
import {
  encodeRecord,
  encodeSub,
  encodeUnsub,
  PING_FRAME,
} from '../../libs/hyps-transport/src/index.js';
import { useBrokers } from './helpers/broker-fixture.js';
import { frameOf } from './helpers/raw-client.js';

describe('broker acknowledgements (section 4)', () => {
  const brokers = useBrokers();

  it('answers a pipelined mix of publish, SUB, UNSUB and PING by position, ERRs in place', async () => {
    const b = await brokers.start();
    const c = await b.client();
    c.send(
      encodeSub('a'), //                 0
      encodeRecord('a', 'one'), //       1: the publisher is subscribed itself
      PING_FRAME, //                     0
      encodeRecord('b', 'nobody'), //    0
      encodeSub('a..b'), //              ERR 3
      encodeRecord('a', 'two'), //       1
      encodeUnsub('a'), //               0
      encodeRecord('a', 'three'), //     0
      encodeUnsub('never.subscribed'), // 0
      encodeRecord('*', 'bad'), //       ERR 3
      PING_FRAME, //                     0
    );
    expect(await c.nextAnswerSummary(11)).toEqual([0, 1, 0, 0, 'ERR 3', 1, 0, 0, 0, 'ERR 3', 0]);
    await c.waitRecords(2);
    expect(c.records().map((r) => r.message.toString())).toEqual(['one', 'two']);
    expect(c.isClosed).toBe(false);
  });

  it('batches: many pipelined commands in one write get few OK frames whose counts add up', async () => {
    const b = await brokers.start();
    const c = await b.client();
    const before = c.okFrames().length;
    const commands = 1000;
    c.send(Buffer.concat(Array.from({ length: commands }, () => PING_FRAME)));
    const answers = await c.nextAnswers(commands);
    expect(answers.every((a) => a.ok && a.result === 0)).toBe(true);
    const okFrames = c.okFrames().slice(before);
    expect(okFrames.reduce((n, f) => n + f.results.length, 0)).toBe(commands);
    expect(okFrames.length).toBeLessThanOrEqual(20);
  });

  it('answers every command exactly once (no extra answers for a pipelined burst)', async () => {
    const b = await brokers.start();
    const c = await b.client();
    const frames = [];
    for (let i = 0; i < 300; i++) {
      frames.push(encodeSub(`t.${i % 7}`), encodeRecord(`t.${i % 5}`, `${i}`), PING_FRAME);
    }
    c.send(Buffer.concat(frames));
    await c.nextAnswers(900);
    await c.staysOpenFor(100);
    expect(c.answers.length).toBe(1 + 900); // HELLO + the burst
  });

  it('registers a SUB before answering it: a publish routed after the OK reaches it', async () => {
    const b = await brokers.start();
    const sub = await b.client();
    const pub = await b.client();
    for (let round = 0; round < 20; round++) {
      sub.sub(`after.${round}`);
      await sub.nextAnswers(1);
      pub.publish(`after.${round}`, `${round}`);
      expect(await pub.nextAnswerSummary(1)).toEqual([1]);
    }
    await sub.waitRecords(20);
  });

  it('is idempotent per connection: SUB twice is one subscription; one UNSUB removes it', async () => {
    const b = await brokers.start();
    const sub = await b.client();
    const pub = await b.client();
    sub.sub('idem.x');
    sub.sub('idem.x');
    sub.sub('idem.x', 'g');
    sub.sub('idem.x', 'g');
    expect(await sub.nextAnswerSummary(4)).toEqual([0, 0, 0, 0]);
    pub.publish('idem.x', 'both');
    expect(await pub.nextAnswerSummary(1)).toEqual([2]); // one plain + one group delivery
    sub.unsub('idem.x');
    expect(await sub.nextAnswerSummary(1)).toEqual([0]);
    pub.publish('idem.x', 'group only');
    expect(await pub.nextAnswerSummary(1)).toEqual([1]);
    sub.unsub('idem.x', 'g');
    expect(await sub.nextAnswerSummary(1)).toEqual([0]);
    pub.publish('idem.x', 'nobody');
    expect(await pub.nextAnswerSummary(1)).toEqual([0]);
    await sub.waitGroupMsgs(2);
    expect(sub.records().map((r) => r.message.toString())).toEqual(['both']);
    expect(sub.groupMsgs().map((r) => r.message.toString())).toEqual(['both', 'group only']);
  });

  it('succeeds on UNSUB of something not subscribed', async () => {
    const b = await brokers.start();
    const c = await b.client();
    c.unsub('never');
    c.unsub('never.*');
    c.unsub('never.>', 'g');
    c.sub('x');
    c.unsub('x', 'g'); // same pattern, but the group subscription does not exist
    expect(await c.nextAnswerSummary(5)).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('broker receivers (section 3)', () => {
  const brokers = useBrokers();

  it('returns the number of deliveries: 0, 1, several connections', async () => {
    const b = await brokers.start();
    const pub = await b.client();
    pub.publish('count.x', 'nobody');
    expect(await pub.nextAnswerSummary(1)).toEqual([0]);

    const subs = [await b.client(), await b.client(), await b.client()];
    subs[0]!.sub('count.x');
    await subs[0]!.nextAnswers(1);
    pub.publish('count.x', 'one');
    expect(await pub.nextAnswerSummary(1)).toEqual([1]);

    for (const s of subs.slice(1)) {
      s.sub('count.*');
      await s.nextAnswers(1);
    }
    pub.publish('count.x', 'three');
    expect(await pub.nextAnswerSummary(1)).toEqual([3]);
    for (const s of subs) await s.waitRecords(s === subs[0] ? 2 : 1);
  });

  it('counts plain and group deliveries together', async () => {
    const b = await brokers.start();
    const plain = await b.client();
    const member1 = await b.client();
    const member2 = await b.client();
    const pub = await b.client();
    plain.sub('mix.x');
    member1.sub('mix.x', 'workers');
    member2.sub('mix.*', 'workers');
    await Promise.all([plain.nextAnswers(1), member1.nextAnswers(1), member2.nextAnswers(1)]);
    pub.publish('mix.x', 'm');
    expect(await pub.nextAnswerSummary(1)).toEqual([2]);
    await plain.waitRecords(1);
    await member1.waitUntil(
      () => member1.groupMsgCount + member2.groupMsgCount === 1,
      'one GROUP_MSG in the group',
    );
  });

  it('forwards the publisher’s record bytes unchanged (newlines, empty and binary messages)', async () => {
    const b = await brokers.start();
    const sub = await b.client();
    const pub = await b.client();
    sub.sub('>');
    await sub.nextAnswers(1);
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const frames = [
      encodeRecord('foo_ch', 'foo_msg'),
      encodeRecord('bytes.test', 'line1\nline2\n\n'),
      encodeRecord('bytes.test', ''),
      encodeRecord('bytes.test', '\n'),
      encodeRecord('bytes.bin', binary),
      encodeRecord('café.☕', 'ünïcødé'),
      encodeRecord('a.b*', 'ordinary channel with a star'),
      encodeRecord('!~.x>', 'edge bytes 0x21 and 0x7E'),
    ];
    expect(frames[0]!.toString('hex')).toBe('0000000f666f6f5f63680a666f6f5f6d73670a');
    pub.send(...frames);
    expect(await pub.nextAnswerSummary(frames.length)).toEqual(frames.map(() => 1));
    await sub.waitRecords(frames.length);
    const received = sub.records();
    frames.forEach((frame, i) => expect(received[i]!.raw.equals(frame)).toBe(true));
    expect(received[1]!.message.toString()).toBe('line1\nline2\n\n');
  });

  it('matches * as exactly one token and > as one or more trailing tokens', async () => {
    const b = await brokers.start();
    const patterns = ['orders.*', 'orders.>', '>', '*', 'orders', '*.eu', 'orders.*.1', 'a.b*'];
    const subs = await Promise.all(patterns.map(() => b.client()));
    for (const [i, pattern] of patterns.entries()) {
      subs[i]!.sub(pattern);
      expect(await subs[i]!.nextAnswerSummary(1)).toEqual([0]);
    }
    const pub = await b.client();
    const expected: Record<string, string[]> = {
      orders: ['>', '*', 'orders'],
      'orders.eu': ['orders.*', 'orders.>', '>', '*.eu'],
      'orders.eu.1': ['orders.>', '>', 'orders.*.1'],
      'orders.us.2': ['orders.>', '>'],
      other: ['>', '*'],
      'a.b*': ['>', 'a.b*'],
      'a.bc': ['>'],
    };
    for (const channel of Object.keys(expected)) pub.publish(channel, channel);
    const counts = await pub.nextAnswerSummary(Object.keys(expected).length);
    expect(counts).toEqual(Object.values(expected).map((list) => list.length));
    const total = Object.values(expected).reduce((n, l) => n + l.length, 0);
    await pub.waitUntil(
      () => subs.reduce((n, s) => n + s.recordCount, 0) === total,
      `${total} deliveries`,
    );
    for (const [i, pattern] of patterns.entries()) {
      const want = Object.keys(expected).filter((ch) => expected[ch]!.includes(pattern));
      expect([pattern, subs[i]!.records().map((r) => r.channel)]).toEqual([pattern, want]);
    }
  });

  it('sends one copy to a connection with several matching subscriptions', async () => {
    const b = await brokers.start();
    const sub = await b.client();
    const pub = await b.client();
    for (const p of ['dup.x', 'dup.*', 'dup.>', '>', '*.x']) sub.sub(p);
    await sub.nextAnswers(5);
    pub.publish('dup.x', 'once');
    pub.publish('dup.y', 'once too');
    expect(await pub.nextAnswerSummary(2)).toEqual([1, 1]);
    await sub.waitRecords(2);
    await sub.staysOpenFor(100);
    expect(sub.records().map((r) => r.message.toString())).toEqual(['once', 'once too']);
  });

  it('delivers a publisher’s own records to it when it is subscribed', async () => {
    const b = await brokers.start();
    const c = await b.client();
    c.sub('self.>');
    c.publish('self.a', 'mine');
    expect(await c.nextAnswerSummary(2)).toEqual([0, 1]);
    await c.waitRecords(1);
    expect(c.records()[0]!.raw.equals(encodeRecord('self.a', 'mine'))).toBe(true);
  });

  it('reaches only connections subscribed when the publish is routed', async () => {
    const b = await brokers.start();
    const sub = await b.client();
    const pub = await b.client();
    pub.publish('late.x', 'before');
    expect(await pub.nextAnswerSummary(1)).toEqual([0]);
    sub.sub('late.x');
    await sub.nextAnswers(1);
    pub.publish('late.x', 'during');
    expect(await pub.nextAnswerSummary(1)).toEqual([1]);
    sub.unsub('late.x');
    await sub.nextAnswers(1);
    pub.publish('late.x', 'after');
    expect(await pub.nextAnswerSummary(1)).toEqual([0]);
    await sub.staysOpenFor(100);
    expect(sub.records().map((r) => r.message.toString())).toEqual(['during']);
  });

  it('keeps one publisher’s order at every receiving connection (section 6)', async () => {
    const b = await brokers.start();
    const subs = [await b.client(), await b.client()];
    subs[0]!.sub('seq.>');
    subs[1]!.sub('seq.*');
    await Promise.all(subs.map((s) => s.nextAnswers(1)));
    const pub = await b.client();
    const count = 2000;
    // several writes of many records, over two channels
    for (let start = 0; start < count; start += 250) {
      const batch = [];
      for (let i = start; i < start + 250; i++) batch.push(encodeRecord(`seq.${i % 2}`, `${i}`));
      pub.send(Buffer.concat(batch));
    }
    await pub.nextAnswers(count, 5000);
    for (const s of subs) {
      await s.waitRecords(count, 5000);
      const seqs = s.records().map((r) => Number(r.message.toString()));
      expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i));
    }
  });
});

describe('broker channel, pattern and group rules (section 2)', () => {
  const brokers = useBrokers();

  const invalidPublishes: [string, Buffer][] = [
    ['the empty channel (body starts with 0x0A)', frameOf('\nmsg\n')],
    ['the empty channel, body a lone 0x0A', frameOf('\n')],
    ['the empty channel, whatever follows', frameOf('\nno trailing newline')],
    ['an empty token', encodeRecord('a..b', 'm')],
    ['a leading dot', encodeRecord('.a', 'm')],
    ['a trailing dot', encodeRecord('a.', 'm')],
    ['a space', encodeRecord('a b', 'm')],
    ['a leading space (0x20 is not a control opcode)', encodeRecord(' a', 'm')],
    ['a control byte inside', encodeRecord('a\x01b', 'm')],
    ['a tab', encodeRecord('a\tb', 'm')],
    ['byte 0x7F', encodeRecord('a\x7fb', 'm')],
    ['invalid UTF-8', encodeRecord(Buffer.from([0x61, 0xff, 0x62]), 'm')],
    ['a truncated UTF-8 sequence', encodeRecord(Buffer.from([0x61, 0xc3]), 'm')],
    ['a * token', encodeRecord('a.*', 'm')],
    ['a > token', encodeRecord('a.>', 'm')],
    ['the channel *', encodeRecord('*', 'm')],
    ['the channel >', encodeRecord('>', 'm')],
    ['a * token in the middle', encodeRecord('a.*.b', 'm')],
    ['257 bytes', encodeRecord('x'.repeat(257), 'm')],
  ];

  it.each(invalidPublishes)(
    'refuses a publish to %s with ERR 3, not fatal',
    async (_name, frame) => {
      const b = await brokers.start();
      const c = await b.client();
      c.send(frame, PING_FRAME);
      expect(await c.nextAnswerSummary(2)).toEqual(['ERR 3', 0]);
    },
  );

  const invalidSubs: [string, Buffer][] = [
    ['an empty pattern', encodeSub('')],
    ['an empty token', encodeSub('a..b')],
    ['> not last', encodeSub('a.>.b')],
    ['> first of two', encodeSub('>.a')],
    ['a space', encodeSub('a b')],
    ['byte 0x7F', encodeSub('a\x7f')],
    ['invalid UTF-8', encodeSub(Buffer.from([0x61, 0xfe]))],
    ['257 bytes', encodeSub('x'.repeat(257))],
    ['an empty group after 0x0A', encodeSub('a', '')],
    ['a group with a * token', encodeSub('a', 'g.*')],
    ['a group >', encodeSub('a', '>')],
    ['a group with an empty token', encodeSub('a', 'g..h')],
    ['a group with a space', encodeSub('a', 'g h')],
    ['a group of 257 bytes', encodeSub('a', 'g'.repeat(257))],
    ['a valid group but invalid pattern', encodeSub('a..b', 'g')],
  ];

  it.each(invalidSubs)('refuses SUB with %s with ERR 3, not fatal', async (_name, frame) => {
    const b = await brokers.start();
    const c = await b.client();
    c.send(frame, PING_FRAME);
    expect(await c.nextAnswerSummary(2)).toEqual(['ERR 3', 0]);
  });

  it.each([
    ['an invalid pattern', encodeUnsub('a..b')],
    ['> not last', encodeUnsub('a.>.b')],
    ['an empty pattern', encodeUnsub('')],
    ['an empty group', encodeUnsub('a', '')],
    ['a group with a * token', encodeUnsub('a', '*')],
  ])('refuses UNSUB with %s with ERR 3, not fatal', async (_name, frame) => {
    const b = await brokers.start();
    const c = await b.client();
    c.send(frame, PING_FRAME);
    expect(await c.nextAnswerSummary(2)).toEqual(['ERR 3', 0]);
  });

  it('accepts channels, patterns and groups at the edges of the rules', async () => {
    const b = await brokers.start();
    const c = await b.client();
    c.send(
      encodeSub('x'.repeat(256)),
      encodeSub('a.*b'), // `*b` is an ordinary token
      encodeSub('*.*.>'),
      encodeSub('a', 'g.h-1_2'),
      encodeSub('a', 'g'.repeat(256)),
      encodeRecord('x'.repeat(256), 'max'),
      encodeRecord('a.*b', 'literal'),
      encodeRecord('a.b.c', 'three tokens'),
      encodeRecord('é'.repeat(128), '256 bytes of UTF-8'),
    );
    expect(await c.nextAnswerSummary(9)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 0]);
  });

  it('judges name length in bytes against maxChannelBytes', async () => {
    const b = await brokers.start({ maxChannelBytes: 16 });
    const c = await b.client();
    c.send(
      encodeRecord('x'.repeat(16), 'ok'),
      encodeRecord('x'.repeat(17), 'too long'),
      encodeRecord('é'.repeat(8), 'ok: 16 bytes'),
      encodeRecord('é'.repeat(8) + 'a', 'too long: 17 bytes in 9 characters'),
      encodeSub('y'.repeat(16)),
      encodeSub('y'.repeat(17)),
      encodeSub('y', 'g'.repeat(16)),
      encodeSub('y', 'g'.repeat(17)),
      encodeUnsub('y'.repeat(17)),
      PING_FRAME,
    );
    expect(await c.nextAnswerSummary(10)).toEqual([
      0,
      'ERR 3',
      0,
      'ERR 3',
      0,
      'ERR 3',
      0,
      'ERR 3',
      'ERR 3',
      0,
    ]);
  });
});
