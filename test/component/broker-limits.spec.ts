// PROTOCOL.md section 1 (frame rules), 4 (answers before a fatal ERR), 5.4 (maxConnections),
// 7 (ERR 1, 2, 6, 10) and isolation between connections.
import {
  Broker,
  BrokerConfigError,
  encodeControl,
  encodeRecord,
  encodeSub,
  encodeUnsub,
  Opcode,
  PING_FRAME,
} from '../../libs/hyps-transport/src/index.js';
import { useBrokers } from './helpers/broker-fixture.js';
import { frameOf, RawClient, rawFrame, sleep } from './helpers/raw-client.js';

describe('broker frame limits', () => {
  const brokers = useBrokers();

  it('refuses a huge LEN from the prefix alone with ERR 2, without buffering the body', async () => {
    const b = await brokers.start();
    const c = await b.client();
    const before = process.memoryUsage();
    c.send(rawFrame(0x7ffffff0)); // the prefix only: no body byte is ever sent
    await c.fatal(2);
    const after = process.memoryUsage();
    const limit = 64 * 1024 * 1024; // the frame claims ~2 GiB
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(limit);
    expect(after.rss - before.rss).toBeLessThan(limit);
  });

  it('refuses LEN = maxFrameBytes + 1 (default 1 MiB) from the prefix alone with ERR 2', async () => {
    const b = await brokers.start();
    const c = await b.client();
    c.send(rawFrame(1024 * 1024 + 1, Buffer.from([0x61])));
    await c.fatal(2);
  });

  it('accepts a frame of exactly maxFrameBytes and refuses one byte more', async () => {
    const b = await brokers.start({ maxFrameBytes: 1024 });
    const sub = await b.client();
    sub.sub('big');
    await sub.nextAnswers(1);
    const c = await b.client();
    const exact = encodeRecord('big', 'm'.repeat(1024 - 'big\n\n'.length));
    expect(exact.length - 4).toBe(1024);
    c.send(exact);
    expect(await c.nextAnswerSummary(1)).toEqual([1]);
    await sub.waitRecords(1);
    expect(sub.records()[0]!.raw.equals(exact)).toBe(true);
    c.send(encodeRecord('big', 'm'.repeat(1025 - 'big\n\n'.length)));
    await c.fatal(2);
  });

  it('answers the commands before an oversized frame, then sends ERR 2', async () => {
    const b = await brokers.start({ maxFrameBytes: 1024 });
    const c = await b.client();
    c.send(PING_FRAME, encodeSub('q'), encodeRecord('q', 'x'), rawFrame(5000));
    expect(await c.nextAnswerSummary(3)).toEqual([0, 0, 1]);
    await c.fatal(2);
  });

  it('lets a GROUP_MSG exceed maxFrameBytes by its group prefix', async () => {
    const b = await brokers.start({ maxFrameBytes: 1024, maxChannelBytes: 16 });
    const member = await b.client();
    const group = 'g'.repeat(16);
    member.sub('big', group);
    await member.nextAnswers(1);
    const pub = await b.client();
    pub.send(encodeRecord('big', 'm'.repeat(1024 - 'big\n\n'.length)));
    expect(await pub.nextAnswerSummary(1)).toEqual([1]);
    await member.waitGroupMsgs(1);
    expect(member.groupMsgs()[0]!.raw.length - 4).toBe(1024 + 1 + 16 + 1);
  });

  it('closes with ERR 1 on a zero LEN, after answering the commands received before it', async () => {
    const b = await brokers.start();
    const c = await b.client();
    c.send(PING_FRAME, encodeSub('z'), encodeRecord('z', 'self'), rawFrame(0), PING_FRAME);
    expect(await c.nextAnswerSummary(3)).toEqual([0, 0, 1]);
    await c.fatal(1);
    expect(c.answers.length).toBe(1 + 3 + 1); // HELLO, three commands, the fatal ERR
  });

  it.each([
    ['unknown opcode 0x00', frameOf(Buffer.from([0x00]))],
    ['unknown opcode 0x06', frameOf(Buffer.from([0x06]))],
    ['unknown opcode 0x0F', frameOf(Buffer.from([0x0f, 0x61]))],
    ['unknown opcode 0x15', frameOf(Buffer.from([0x15]))],
    ['unknown opcode 0x1F', frameOf(Buffer.from([0x1f]))],
    ['misdirected OK 0x10', encodeControl(Opcode.OK, Buffer.from([0, 0, 0, 0]))],
    ['misdirected ERR 0x11', encodeControl(Opcode.ERR, Buffer.from([0, 1]), 'x')],
    ['misdirected DROPPED 0x12', encodeControl(Opcode.DROPPED, Buffer.from([0, 0, 0, 1]))],
    ['misdirected INFO 0x13', encodeControl(Opcode.INFO, '{"protocol":1}')],
    ['misdirected GROUP_MSG 0x14', encodeControl(Opcode.GROUP_MSG, 'g\nc\nm\n')],
    ['a record without the final 0x0A', frameOf('chan\nmsg')],
    ['a record with a single 0x0A', frameOf('chan\n')],
    ['a record with no 0x0A at all', frameOf('chan')],
    ['PING with a body', encodeControl(Opcode.PING, 'x')],
    ['PONG with a body', encodeControl(Opcode.PONG, 'x')],
  ])('closes with ERR 1 on %s', async (_name, frame) => {
    const b = await brokers.start();
    const c = await b.client();
    c.send(PING_FRAME, frame);
    expect(await c.nextAnswerSummary(1)).toEqual([0]);
    await c.fatal(1);
  });

  it('lets a malformed frame from one client disturb no other client', async () => {
    const b = await brokers.start();
    const sub = await b.client();
    sub.sub('calm.>');
    await sub.nextAnswers(1);
    const pub = await b.client();
    const bad = await b.client();
    for (let i = 0; i < 50; i++) pub.publish('calm.x', `${i}`);
    bad.send(frameOf(Buffer.from([0x13, 0x7b, 0x7d])), rawFrame(0));
    for (let i = 50; i < 100; i++) pub.publish('calm.x', `${i}`);
    await bad.fatal(1);
    for (let i = 100; i < 150; i++) pub.publish('calm.x', `${i}`);
    expect(await pub.nextAnswerSummary(150)).toEqual(Array.from({ length: 150 }, () => 1));
    await sub.waitRecords(150);
    expect(sub.records().map((r) => Number(r.message.toString()))).toEqual(
      Array.from({ length: 150 }, (_, i) => i),
    );
  });
});

describe('broker subscription and connection limits', () => {
  const brokers = useBrokers();

  it('refuses the SUB over maxSubscriptions with ERR 6, not fatal', async () => {
    const b = await brokers.start({ maxSubscriptions: 5 });
    const c = await b.client();
    for (let i = 0; i < 5; i++) c.sub(`lim.${i}`);
    c.sub('lim.5');
    c.sub('lim.0', 'g'); // a new (pattern, group) counts as another subscription
    c.sub('lim.0'); // already held: idempotent, not a new one
    c.send(PING_FRAME);
    expect(await c.nextAnswerSummary(9)).toEqual([0, 0, 0, 0, 0, 'ERR 6', 'ERR 6', 0, 0]);
    c.send(encodeUnsub('lim.4'), encodeSub('lim.5'), encodeRecord('lim.5', 'now subscribed'));
    expect(await c.nextAnswerSummary(3)).toEqual([0, 0, 1]);
    // the limit is per connection
    const other = await b.client();
    for (let i = 0; i < 5; i++) other.sub(`other.${i}`);
    expect(await other.nextAnswerSummary(5)).toEqual([0, 0, 0, 0, 0]);
  });

  it('holds 10,000 subscriptions on one connection, pipelined, and routes to them', async () => {
    const b = await brokers.start();
    const c = await b.client();
    const count = 10_000;
    const frames = Array.from({ length: count }, (_, i) => encodeSub(`many.${i}`));
    c.send(Buffer.concat(frames.slice(0, count / 2)));
    c.send(Buffer.concat(frames.slice(count / 2)));
    const answers = await c.nextAnswers(count, 5000);
    expect(answers.every((a) => a.ok && a.result === 0)).toBe(true);
    const pub = await b.client();
    pub.publish('many.7777', 'found');
    pub.publish('many.10000', 'not subscribed');
    expect(await pub.nextAnswerSummary(2)).toEqual([1, 0]);
    await c.waitRecords(1);
    expect(c.records()[0]!.channel).toBe('many.7777');
  });

  it('sends ERR 10 instead of INFO over maxConnections, and accepts again once one closes', async () => {
    const b = await brokers.start({ maxConnections: 3 });
    const open: RawClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await b.connect();
      await c.info();
      open.push(c);
    }
    const extra = await b.connect();
    await extra.fatal(10);
    expect(extra.types()).toEqual(['err10']);

    open[0]!.destroy();
    // the broker notices the close asynchronously: retry a bounded number of times
    let accepted: RawClient | undefined;
    for (let attempt = 0; attempt < 40 && !accepted; attempt++) {
      const c = await b.connect();
      await c.waitUntil(() => c.frames.length > 0, 'a first frame');
      if (c.frames[0]!.type === 'info') accepted = c;
      else await Promise.all([c.waitClosed(), sleep(25)]);
    }
    expect(accepted).toBeDefined();
    accepted!.hello();
    expect(await accepted!.nextAnswerSummary(1)).toEqual([0]);
  });
});

describe('broker configuration', () => {
  it('refuses to start when maxFrameBytes exceeds maxBufferedBytes (section 6)', () => {
    expect(() => new Broker({ port: 0, maxFrameBytes: 2048, maxBufferedBytes: 1024 })).toThrow(
      BrokerConfigError,
    );
    expect(
      () => new Broker({ port: 0, maxFrameBytes: 1024, maxBufferedBytes: 1024 }),
    ).not.toThrow();
  });
});
