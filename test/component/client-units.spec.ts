import fc from 'fast-check';
import { channelProblem, encodeOk, encodeRecord, ProtocolError } from '@hyps/transport';
import { AckQueue } from '../../libs/hyps-transport/src/client/ack-queue.js';
import {
  Backoff,
  ClientConfigError,
  resolveClientOptions,
} from '../../libs/hyps-transport/src/client/index.js';
import { LocalRouter, LocalSubscriber } from '../../libs/hyps-transport/src/client/local-router.js';
import type { ReceivedMessage } from '../../libs/hyps-transport/src/client/message.js';
import {
  messageByteLength,
  writeRecordFrame,
} from '../../libs/hyps-transport/src/client/record-writer.js';
import { WriteBatcher } from '../../libs/hyps-transport/src/client/write-batcher.js';

describe('Backoff', () => {
  it('doubles up to the cap, with jitter between half and all of the base', () => {
    const low = new Backoff(100, 1000, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const high = new Backoff(100, 1000, () => 1);
    expect([1, 2, 3, 4, 5].map(() => high.next())).toEqual([100, 200, 400, 800, 1000]);
    high.reset();
    expect(high.next()).toBe(100);
    expect(high.attempts).toBe(1);
  });
});

/** Settles `queue` with an OK frame of `results`, as the connection does: read in place. */
function settle(queue: AckQueue, results: number[]): void {
  const frame = encodeOk(results);
  // u32be length, the opcode, u32be count, then the results.
  queue.settleOk(frame, 9, results.length);
}

describe('AckQueue', () => {
  it('settles by position across ring growth, OK counts and ERRs', () => {
    const queue = new AckQueue();
    const log: string[] = [];
    const total = 3000; // past the initial capacity, with the head moved first
    for (let i = 0; i < total; i++) {
      if (i % 3 === 0) {
        queue.pushCommand(
          (r) => log.push(`c${i}:${r}`),
          (e) => log.push(`c${i}!${e.message}`),
        );
      } else {
        queue.pushPublish(
          (r) => log.push(`p${i}:${r.receivers}`),
          (e) => log.push(`p${i}!${e.message}`),
        );
      }
      if (i === 10) settle(queue, [7, 7, 7, 7, 7]);
    }
    expect(queue.size).toBe(total - 5);
    queue.settleError(new Error('bad'));
    settle(
      queue,
      Array.from({ length: 1000 }, (_, k) => k),
    );
    queue.rejectAll(new Error('gone'));
    expect(queue.size).toBe(0);
    expect(queue.pendingPublishes).toBe(0);
    expect(log).toHaveLength(total);
    expect(log.slice(0, 7)).toEqual(['c0:7', 'p1:7', 'p2:7', 'c3:7', 'p4:7', 'p5!bad', 'c6:0']);
    expect(log[1005]).toBe('c1005:999');
    expect(log[1006]).toBe('p1006!gone');
    expect(log.at(-1)).toBe(`p${total - 1}!gone`);
  });

  it('treats an answer with nothing waiting as a protocol error', () => {
    const queue = new AckQueue();
    expect(() => settle(queue, [0])).toThrow(ProtocolError);
    expect(() => queue.settleError(new Error('x'))).toThrow(ProtocolError);
  });
});

describe('record writer', () => {
  it('writes the same bytes as the codec encodeRecord, from channel bytes or string', () => {
    const channel = fc.stringMatching(/^[a-z0-9]{1,40}(\.[a-z0-9]{1,10}){0,3}$/);
    const message = fc.oneof(
      fc.string({ maxLength: 100 }),
      fc.string({ unit: 'grapheme', maxLength: 80 }),
      fc.uint8Array({ maxLength: 100 }),
    );
    fc.assert(
      fc.property(channel, message, fc.nat(8), fc.boolean(), (ch, data, at, asString) => {
        // An ASCII channel may be passed as its string (the publish fast path) or as its bytes.
        const channelBytes = Buffer.from(ch, 'utf8');
        const messageBytes = messageByteLength(data);
        const target = Buffer.alloc(at + 4 + channelBytes.length + messageBytes + 2);
        const end = writeRecordFrame(target, at, asString ? ch : channelBytes, data, messageBytes);
        expect(end).toBe(target.length);
        expect(target.subarray(at)).toEqual(encodeRecord(ch, data));
      }),
    );
  });

  it('writes a string channel only when it is a valid channel of printable ASCII', () => {
    // What the publish fast path relies on: -1 exactly when the general path must decide.
    const char = fc.constantFrom('a', 'Z', '0', '.', '*', '>', ' ', '~', '\u007f', 'é', '\u0000');
    fc.assert(
      fc.property(fc.array(char, { maxLength: 12 }), (chars) => {
        const name = chars.join('');
        const bytes = Buffer.from(name, 'utf8');
        const ascii = bytes.length === name.length;
        const valid = ascii && channelProblem(bytes, 0, bytes.length, 'channel') === null;
        const target = Buffer.alloc(4 + name.length + 3);
        const end = writeRecordFrame(target, 0, name, 'm', 1);
        expect(end).toBe(valid ? target.length : -1);
        if (valid) expect(target).toEqual(encodeRecord(name, 'm'));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('WriteBatcher', () => {
  it('coalesces a tick into one write, with one early write past the threshold', async () => {
    const chunks: Buffer[] = [];
    const batcher = new WriteBatcher((chunk) => (chunks.push(Buffer.from(chunk)), true), 100);
    for (let i = 0; i < 10; i++) batcher.write(Buffer.from('0123456789'));
    expect(chunks).toHaveLength(0);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.length).toBe(100);

    for (let i = 0; i < 25; i++) batcher.write(Buffer.from('abcdefghij'));
    // The frame after the 100th byte triggers one early write of the first 100; the rest of the
    // tick is batched (up to 64 KiB) and goes out at its end.
    expect(chunks.map((c) => c.length)).toEqual([100, 100]);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 150]);
    expect(Buffer.concat(chunks.slice(1)).toString()).toBe('abcdefghij'.repeat(25));

    // A new tick may write early again.
    for (let i = 0; i < 11; i++) batcher.write(Buffer.from('klmnopqrst'));
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 150, 100]);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 150, 100, 10]);
  });

  it('takes back the last reservation and keeps the frames before it', async () => {
    const chunks: Buffer[] = [];
    const batcher = new WriteBatcher((chunk) => (chunks.push(Buffer.from(chunk)), true), 100);
    batcher.write(Buffer.from('kept'));
    const offset = batcher.reserve(6);
    batcher.buffer.write('broken', offset);
    batcher.unreserve(offset);
    expect(batcher.pendingBytes).toBe(4);
    batcher.write(Buffer.from('next'));
    await new Promise((resolve) => process.nextTick(resolve));
    expect(chunks.map((c) => c.toString())).toEqual(['keptnext']);
  });

  it('holds the batch while the socket applies backpressure, and keeps bytes intact on growth', async () => {
    const chunks: Buffer[] = [];
    let accept = false;
    const batcher = new WriteBatcher((chunk) => (chunks.push(chunk), accept), 16);
    batcher.write(Buffer.from('first'));
    batcher.flush();
    expect(chunks).toHaveLength(1);
    const big = Buffer.alloc(100_000, 7);
    batcher.write(big);
    for (let i = 0; i < 100; i++) batcher.write(Buffer.from([i]));
    await new Promise((resolve) => process.nextTick(resolve));
    expect(chunks).toHaveLength(1);
    accept = true;
    batcher.onDrain();
    expect(chunks).toHaveLength(2);
    expect(chunks[0]!.toString()).toBe('first');
    expect(chunks[1]!.subarray(0, 100_000).equals(big)).toBe(true);
    expect(Array.from(chunks[1]!.subarray(100_000))).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
  });
});

describe('LocalRouter', () => {
  function subscriber(patterns: string[], group: string | undefined, sink: string[], name: string) {
    return new LocalSubscriber(patterns, group, {
      next: (message: ReceivedMessage) => sink.push(`${name}:${message.channel}:${message.text()}`),
      error: () => undefined,
      complete: () => undefined,
    });
  }

  function deliver(router: LocalRouter, channel: string, text: string, group?: string): void {
    if (group === undefined) {
      // As on the wire: the channel bytes, a newline, the message.
      const buf = Buffer.from(`${channel}\n${text}`);
      const channelEnd = Buffer.byteLength(channel);
      router.routeRecord(buf, 0, channelEnd, channelEnd + 1, buf.length);
      return;
    }
    const buf = Buffer.from(text);
    router.routeGroup(group, channel, buf, 0, buf.length);
  }

  it('refcounts entries per pattern and group', () => {
    const router = new LocalRouter();
    const sink: string[] = [];
    const a = subscriber(['x', 'y.*'], undefined, sink, 'a');
    const b = subscriber(['x'], undefined, sink, 'b');
    const c = subscriber(['x'], 'g', sink, 'c');
    expect(router.add(a).map((e) => e.key)).toEqual(['x', 'y.*']);
    expect(router.add(b)).toEqual([]);
    expect(router.add(c).map((e) => e.key)).toEqual(['x\ng']);
    expect(router.remove(a).map((e) => e.key)).toEqual(['y.*']);
    expect(router.remove(a)).toEqual([]);
    expect(router.remove(b).map((e) => e.key)).toEqual(['x']);
    expect(router.remove(c).map((e) => e.key)).toEqual(['x\ng']);
    expect([...router.allEntries()]).toEqual([]);
  });

  it('delivers plain records once per subscriber and group records in rotation', () => {
    const router = new LocalRouter();
    const sink: string[] = [];
    router.add(subscriber(['a.b', 'a.*', '>'], undefined, sink, 'p'));
    router.add(subscriber(['a.b'], undefined, sink, 'q'));
    const g1 = subscriber(['a.*'], 'g', sink, 'g1');
    router.add(g1);
    router.add(subscriber(['other'], 'g', sink, 'g2'));
    router.add(subscriber(['a.>'], 'g', sink, 'g3'));
    deliver(router, 'a.b', '1');
    deliver(router, 'z', '2');
    for (let i = 0; i < 4; i++) deliver(router, 'a.c', `g${i}`, 'g');
    router.remove(g1);
    deliver(router, 'a.c', 'g4', 'g');
    deliver(router, 'a.c', 'nobody', 'h');
    expect(sink).toEqual([
      'p:a.b:1',
      'q:a.b:1',
      'p:z:2',
      // g2 does not match a.c and is skipped.
      'g1:a.c:g0',
      'g3:a.c:g1',
      'g1:a.c:g2',
      'g3:a.c:g3',
      'g3:a.c:g4',
    ]);
  });
});

describe('resolveClientOptions', () => {
  it('applies defaults and parses the url', () => {
    const options = resolveClientOptions({ url: 'hyps://[::1]:9000', token: undefined });
    expect(options).toMatchObject({
      host: '::1',
      port: 9000,
      reconnect: true,
      connectTimeoutMs: 5000,
    });
    expect(resolveClientOptions().port).toBe(8787);
    expect(resolveClientOptions({ url: 'tcp://broker' })).toMatchObject({
      host: 'broker',
      port: 8787,
    });
  });

  it('throws ClientConfigError for unusable values', () => {
    for (const bad of [
      { url: 'http://x:1' },
      { url: 'not a url' },
      { connectTimeoutMs: 0 },
      { pendingPublishLimit: -1 },
      { flushThresholdBytes: Number.NaN },
      { user: 'only-user' },
    ]) {
      expect(() => resolveClientOptions(bad)).toThrow(ClientConfigError);
    }
  });
});
