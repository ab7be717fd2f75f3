// Slow consumers (issue 6, item 3; PROTOCOL.md section 6): 100 subscriber connections stop
// reading while publishers flood. The BUILT broker (`npm run build`) runs as a child process so
// its RSS can be read from /proc: it must stay under connections x max-buffered-bytes + a fixed
// margin, while fast subscribers get every message and publishers are never slowed into failure.
import { spawnBroker, type SpawnedBroker } from '../e2e/helpers/spawn-broker.js';
import { Canary, expectHealthyCanary } from './helpers/canary.js';
import { CountingClient } from './helpers/counting-client.js';
import { mib, MiB, readRssBytes, RssSampler } from './helpers/memory.js';

const MAX_BUFFERED_BYTES = 256 * 1024;
const MAX_FRAME_BYTES = 64 * 1024;
const SLOW = 100;
const FAST = 4;
const PUBLISHERS = 4;
const PER_PUBLISHER = 8_000;
const MESSAGE_BYTES = 1_024;
/** Unacknowledged publishes each publisher keeps in flight. */
const WINDOW = 32;
/**
 * The fixed margin: an idle broker (Node + Nest) is ~95 MiB RSS on this machine; the rest covers
 * V8 heap headroom (read chunks and routing garbage awaiting collection) and allocator slack.
 */
const MARGIN = 150 * MiB;

describe('slow consumers', () => {
  let broker: SpawnedBroker | undefined;
  const clients: CountingClient[] = [];
  let canary: Canary | undefined;
  afterEach(async () => {
    await canary?.stop();
    for (const c of clients.splice(0)) c.destroy();
    await broker?.kill();
  });

  it('drops for 100 stalled subscribers only, within the memory bound, losing nothing for fast ones', async () => {
    broker = await spawnBroker([
      '--max-buffered-bytes',
      String(MAX_BUFFERED_BYTES),
      '--max-frame-bytes',
      String(MAX_FRAME_BYTES),
    ]);
    const { port } = broker;
    const pid = broker.process.pid!;
    const connect = async (): Promise<CountingClient> => {
      const c = await CountingClient.connect(port);
      clients.push(c);
      return c;
    };
    const slow = await Promise.all(Array.from({ length: SLOW }, connect));
    await Promise.all(slow.map((c) => c.subscribe('flood.>')));
    for (const c of slow) c.pause(); // they stop reading: the broker's writes to them back up
    const fast = await Promise.all(Array.from({ length: FAST }, connect));
    await Promise.all(fast.map((c) => c.subscribe('flood.>')));
    const publishers = await Promise.all(Array.from({ length: PUBLISHERS }, connect));
    canary = await Canary.start({ port });
    const connections = SLOW + FAST + PUBLISHERS + 1;
    const baseline = readRssBytes(pid);
    const sampler = new RssSampler(pid, 10);

    await Promise.all(
      publishers.map((p, i) => p.publishMany(`flood.p${i}`, PER_PUBLISHER, MESSAGE_BYTES, WINDOW)),
    );
    const total = PUBLISHERS * PER_PUBLISHER;
    await Promise.all(fast.map((c) => c.until(() => c.records >= total, `${total} records`)));
    const peak = sampler.stop();
    await canary.proveAlive();
    const report = await canary.stop();
    canary = undefined;

    const bound = connections * MAX_BUFFERED_BYTES + MARGIN;
    const publishedBytes = total * (MESSAGE_BYTES + 'flood.p0'.length + 6);
    console.log(
      `slow consumers: ${SLOW} stalled + ${FAST} fast subscribers, ${PUBLISHERS} publishers x ` +
        `${PER_PUBLISHER} x ${MESSAGE_BYTES} B (${mib(publishedBytes)} published, ` +
        `${mib(publishedBytes * (SLOW + FAST))} offered for delivery); broker RSS baseline ` +
        `${mib(baseline)}, peak ${mib(peak)} over ${sampler.samples} samples; bound ` +
        `${connections} x ${MAX_BUFFERED_BYTES / 1024} KiB + ${mib(MARGIN)} = ${mib(bound)}`,
    );

    // Fast subscribers got every message, in each publisher's order, and nothing was dropped.
    for (const c of fast) {
      expect({ records: c.records, outOfOrder: c.outOfOrder, dropped: c.dropped }).toEqual({
        records: total,
        outOfOrder: 0,
        dropped: 0,
      });
      expect(c.errors).toEqual([]);
    }
    // Every publish was acknowledged, and reached at least every fast subscriber.
    for (const p of publishers) {
      expect(p.errors).toEqual([]);
      expect(p.oks).toBe(PER_PUBLISHER);
      expect(p.minResult).toBeGreaterThanOrEqual(FAST);
    }
    expect(peak).toBeLessThan(bound);
    expectHealthyCanary(report);

    // The stalled ones lost records but never their place: once they read again, each gets what
    // was queued for it and a DROPPED count for the rest, adding up to everything published.
    for (const c of slow) c.resume();
    await Promise.all(
      slow.map((c) =>
        c.until(() => c.records + c.dropped >= total, 'records + DROPPED to add up', 20_000),
      ),
    );
    let droppedTotal = 0;
    for (const c of slow) {
      expect(c.records + c.dropped).toBe(total);
      expect(c.dropped).toBeGreaterThan(0);
      expect(c.outOfOrder).toBe(0);
      expect(c.errors).toEqual([]);
      droppedTotal += c.dropped;
    }
    console.log(
      `slow consumers: the stalled subscribers received ${slow.reduce((n, c) => n + c.records, 0)} ` +
        `records and were told of ${droppedTotal} drops`,
    );
  }, 90_000);
});
