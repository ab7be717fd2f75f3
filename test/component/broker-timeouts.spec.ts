// PROTOCOL.md section 5.3: keepalive PINGs and the frame timeout (ERR 7).
import { encodeRecord, PING_FRAME } from '../../libs/hyps-transport/src/index.js';
import { useBrokers } from './helpers/broker-fixture.js';
import { RawClient, sleep } from './helpers/raw-client.js';

function pingCount(c: RawClient): number {
  return c.frames.filter((f) => f.type === 'ping').length;
}

/** Answers every broker PING with `answer` as it arrives, for `ms`; returns the PINGs seen. */
async function answerPingsFor(c: RawClient, ms: number, answer: () => void): Promise<number> {
  c.onPing = answer;
  await sleep(ms);
  c.onPing = undefined;
  return pingCount(c);
}

describe('broker frame timeout', () => {
  const brokers = useBrokers();

  it('closes with ERR 7 when half a frame stays incomplete past frameTimeoutMs', async () => {
    const b = await brokers.start({ frameTimeoutMs: 200 });
    const c = await b.client();
    const frame = encodeRecord('half.x', 'the rest never comes');
    c.send(PING_FRAME, frame.subarray(0, frame.length >> 1));
    expect(await c.nextAnswerSummary(1)).toEqual([0]); // the command before it is answered
    await c.fatal(7);
  });

  it('closes with ERR 7 when only part of the length prefix arrived', async () => {
    const b = await brokers.start({ frameTimeoutMs: 200 });
    const c = await b.client();
    c.send(Buffer.from([0x00, 0x00]));
    await c.fatal(7);
  });

  it('times a frame from its first byte: a trickle of bytes does not extend it', async () => {
    const b = await brokers.start({ frameTimeoutMs: 300 });
    const c = await b.client();
    const frame = encodeRecord('slow.x', 'y'.repeat(100)); // 40 ms per byte: ~4.5 s to complete
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < frame.length && !c.isClosed) c.send(frame.subarray(sent, ++sent));
    }, 40);
    try {
      await c.fatal(7, 2000);
      expect(sent).toBeLessThan(frame.length);
    } finally {
      clearInterval(trickle);
    }
  });

  it('accepts a frame split in two parts that completes within frameTimeoutMs', async () => {
    const b = await brokers.start({ frameTimeoutMs: 1000 });
    const c = await b.client();
    const frame = encodeRecord('split.x', 'two parts');
    c.send(frame.subarray(0, 5));
    await sleep(100);
    c.send(frame.subarray(5));
    expect(await c.nextAnswerSummary(1)).toEqual([0]);
    await c.staysOpenFor(300);
  });
});

describe('broker keepalive', () => {
  const brokers = useBrokers();

  it('sends PINGs every pingIntervalMs and keeps a client that answers PONG; PONG is not a command', async () => {
    const b = await brokers.start({ pingIntervalMs: 100 });
    const c = await b.client();
    const pings = await answerPingsFor(c, 900, () => c.pong());
    expect(c.isClosed).toBe(false);
    expect(pings).toBeGreaterThanOrEqual(4);
    c.send(PING_FRAME);
    expect(await c.nextAnswerSummary(1)).toEqual([0]);
    await sleep(50);
    expect(c.answers.length).toBe(2); // HELLO and the PING command; no answers to PONGs
    expect(c.errs()).toEqual([]);
  });

  it('treats any frame from the client as an answer to outstanding PINGs', async () => {
    const b = await brokers.start({ pingIntervalMs: 100 });
    const c = await b.client();
    const pings = await answerPingsFor(c, 900, () => c.publish('keepalive.x', 'still here'));
    expect(c.isClosed).toBe(false);
    expect(pings).toBeGreaterThanOrEqual(4);
    expect(c.errs()).toEqual([]);
  });

  it('closes with ERR 7 after two unanswered PINGs', async () => {
    const b = await brokers.start({ pingIntervalMs: 100 });
    const c = await b.client();
    await c.fatal(7, 2000);
    expect(c.types()).toEqual(['info', 'ok', 'ping', 'ping', 'err7']);
  });

  it('does not ping before HELLO', async () => {
    const b = await brokers.start({ pingIntervalMs: 50, helloTimeoutMs: 2000 });
    const c = await b.connect();
    await c.info();
    await sleep(300);
    expect(c.types()).toEqual(['info']);
    c.hello();
    expect(await c.nextAnswerSummary(1)).toEqual([0]);
  });
});
