// PROTOCOL.md section 5 (connection life 1-2): INFO first, HELLO rules, hello timeout.
import {
  encodeHello,
  encodeRecord,
  encodeSub,
  PING_FRAME,
} from '../../libs/hyps-transport/src/index.js';
import { useBrokers } from './helpers/broker-fixture.js';

describe('broker handshake', () => {
  const brokers = useBrokers();

  it('sends INFO at once, before the client sends anything, with every field', async () => {
    const b = await brokers.start({
      version: '9.8.7-test',
      maxFrameBytes: 4096,
      maxChannelBytes: 64,
    });
    const c = await b.connect();
    const info = await c.info();
    expect(c.frames[0]!.type).toBe('info');
    expect(info).toMatchObject({
      protocol: 1,
      server: 'hyps',
      version: '9.8.7-test',
      maxFrameBytes: 4096,
      maxChannelBytes: 64,
      auth: 'none',
    });
  });

  it('reports the default limits in INFO', async () => {
    const b = await brokers.start();
    const info = await (await b.connect()).info();
    expect(info.maxFrameBytes).toBe(1024 * 1024);
    expect(info.maxChannelBytes).toBe(256);
    expect(typeof info.version).toBe('string');
  });

  it('answers a good HELLO with OK, result 0', async () => {
    const b = await brokers.start();
    const c = await b.connect();
    await c.info();
    c.hello({ protocol: 1, name: 'handshake-test' });
    expect(await c.nextAnswers(1)).toEqual([{ ok: true, result: 0 }]);
    // and the connection is usable
    c.send(PING_FRAME);
    expect(await c.nextAnswerSummary(1)).toEqual([0]);
  });

  it.each([
    ['PING', PING_FRAME],
    ['SUB', encodeSub('a.b')],
    ['a publish', encodeRecord('a.b', 'hi')],
  ])('closes with ERR 1 when the first frame is %s, not HELLO', async (_name, frame) => {
    const b = await brokers.start();
    const c = await b.connect();
    await c.info();
    c.send(frame);
    await c.fatal(1);
    expect(c.types()).toEqual(['info', 'err1']);
  });

  it('closes with ERR 1 on a second HELLO, after answering the first', async () => {
    const b = await brokers.start();
    const c = await b.connect();
    await c.info();
    c.hello();
    c.hello();
    await c.fatal(1);
    expect(c.types()).toEqual(['info', 'ok', 'err1']);
    expect(c.answers[0]).toEqual({ ok: true, result: 0 });
  });

  it.each([
    ['not JSON', 'protocol=1'],
    ['truncated JSON', '{"protocol":1'],
    ['a JSON array', '[1]'],
    ['a JSON number', '1'],
    ['JSON null', 'null'],
    ['a JSON string', '"protocol"'],
    ['an object without protocol', '{"name":"x"}'],
    ['an empty body', ''],
  ])('closes with ERR 1 when HELLO is %s', async (_name, body) => {
    const b = await brokers.start();
    const c = await b.connect();
    await c.info();
    c.helloRaw(body);
    await c.fatal(1);
    expect(c.types()).toEqual(['info', 'err1']);
  });

  it.each([2, 0, 100])('closes with ERR 9 when HELLO asks for protocol %i', async (protocol) => {
    const b = await brokers.start();
    const c = await b.connect();
    await c.info();
    c.hello({ protocol });
    await c.fatal(9);
    expect(c.types()).toEqual(['info', 'err9']);
  });

  it('closes with ERR 7 when no HELLO arrives within helloTimeoutMs', async () => {
    const b = await brokers.start({ helloTimeoutMs: 200 });
    const c = await b.connect();
    await c.info();
    await c.fatal(7, 3000);
    expect(c.types()).toEqual(['info', 'err7']);
  });

  it('does not time out a connection that sent HELLO in time', async () => {
    const b = await brokers.start({ helloTimeoutMs: 200 });
    const c = await b.client();
    await c.staysOpenFor(500);
    c.send(PING_FRAME);
    expect(await c.nextAnswerSummary(1)).toEqual([0]);
    expect(c.errs()).toEqual([]);
  });

  it('answers HELLO pipelined with commands in one write, in order', async () => {
    const b = await brokers.start();
    const c = await b.connect();
    await c.info();
    c.send(
      Buffer.concat([
        encodeHello({ protocol: 1 }),
        encodeSub('pipe.x'),
        encodeRecord('pipe.x', 'm'),
        PING_FRAME,
      ]),
    );
    expect(await c.nextAnswerSummary(4)).toEqual([0, 0, 1, 0]);
    await c.waitRecords(1);
    expect(c.records()[0]!.channel).toBe('pipe.x');
  });
});
