// PROTOCOL.md section 5.5 (shutdown, ERR 8) and section 4 (answers before a fatal ERR).
import { encodeRecord } from '../../libs/hyps-transport/src/index.js';
import { useBrokers } from './helpers/broker-fixture.js';
import { RawClient, until } from './helpers/raw-client.js';

/** Resolves within `ms` or rejects, so a hung drain fails the test instead of the suite. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}

describe('broker drain', () => {
  const brokers = useBrokers();

  it('sends every client its queued deliveries, then ERR 8, then closes', async () => {
    const b = await brokers.start({ shutdownTimeoutMs: 10_000 });
    const sub = await b.client();
    const idle = await b.client();
    const pub = await b.client();
    sub.sub('drain.>');
    await sub.nextAnswers(1);
    sub.pause(); // let deliveries pile up in the broker's queue for it
    const count = 3000;
    const message = 'd'.repeat(1000);
    pub.send(
      ...Array.from({ length: count }, (_, i) => encodeRecord('drain.x', `${i}:${message}`)),
    );
    expect(await pub.nextAnswerSummary(count, 5000)).toEqual(
      Array.from({ length: count }, () => 1),
    );

    const drained = b.broker.drain();
    sub.resume();
    await sub.fatal(8, 5000);
    expect(sub.recordCount).toBe(count);
    expect(sub.records().map((r) => Number(r.message.toString().split(':')[0]))).toEqual(
      Array.from({ length: count }, (_, i) => i),
    );
    await idle.fatal(8);
    await pub.fatal(8);
    await within(drained, 3000, 'drain()');
  });

  it('sends ERR 8 also to a connection that has not sent HELLO yet', async () => {
    const b = await brokers.start();
    const c = await b.connect();
    await c.info();
    const drained = b.broker.drain();
    await c.fatal(8);
    expect(c.types()).toEqual(['info', 'err8']);
    await within(drained, 3000, 'drain()');
  });

  it('refuses new connections once drain starts', async () => {
    const b = await brokers.start({ shutdownTimeoutMs: 10_000 });
    const stuck = await b.client();
    stuck.sub('x');
    await stuck.nextAnswers(1);
    const drained = b.broker.drain();
    let late: RawClient | undefined;
    try {
      late = await RawClient.connect(b.port);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    }
    if (late) {
      // accepted by the kernel backlog at most: it must never be greeted with INFO
      await late.waitClosed(3000);
      expect(late.frames.some((f) => f.type === 'info')).toBe(false);
      late.destroy();
    }
    await stuck.fatal(8);
    await within(drained, 3000, 'drain()');
    await expect(RawClient.connect(b.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('answers the commands it already received before ERR 8; only the rest stay unanswered', async () => {
    const b = await brokers.start();
    const sub = await b.client();
    sub.sub('pipe.>');
    await sub.nextAnswers(1);
    const pub = await b.client();
    const count = 5000;
    pub.send(
      Buffer.concat(Array.from({ length: count }, (_, i) => encodeRecord('pipe.x', `${i}`))),
    );
    await sub.waitRecords(1); // the broker has read at least part of the pipeline
    const drained = b.broker.drain();
    await pub.fatal(8, 5000);
    await sub.fatal(8, 5000);
    await within(drained, 3000, 'drain()');

    const answers = pub.answers.slice(1); // after the HELLO
    const last = answers.pop()!;
    expect(last).toMatchObject({ ok: false, code: 8 });
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.length).toBeLessThanOrEqual(count);
    expect(answers.every((a) => a.ok)).toBe(true);
    // every delivery a publish was credited with reached the subscriber before its ERR 8
    const credited = answers.reduce((n, a) => n + (a.ok ? a.result : 0), 0);
    expect(sub.recordCount).toBe(credited);
    expect(sub.records().map((r) => Number(r.message.toString()))).toEqual(
      Array.from({ length: credited }, (_, i) => i),
    );
  });

  it('gives up on a client that does not read after shutdownTimeoutMs', async () => {
    const b = await brokers.start({ shutdownTimeoutMs: 300 });
    const deaf = await b.client();
    deaf.sub('deaf');
    await deaf.nextAnswers(1);
    deaf.pause();
    const pub = await b.client();
    const message = 'z'.repeat(16 * 1024);
    // ~8 MB queued for the paused reader: more than the socket buffers can absorb
    for (let i = 0; i < 500; i++) pub.publish('deaf', message);
    await pub.nextAnswers(500, 5000);
    await within(b.broker.drain(), 3000, 'drain()');
    // the socket close events may land a tick after drain() resolves
    await until(() => b.broker.stats().connections === 0, 'no open connection', 500);
    await pub.fatal(8);
  });
});
