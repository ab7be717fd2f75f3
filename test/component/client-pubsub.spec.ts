import type { Subscription } from 'rxjs';
import { Broker, FrameTooLargeError, InvalidChannelError } from '@hyps/transport';
import {
  HypsClient,
  type HypsClientOptions,
  type HypsMessage,
  type HypsSubscription,
} from '../../libs/hyps-transport/src/client/index.js';
import { waitFor } from './helpers/wait.js';

const brokers: Broker[] = [];
const clients: HypsClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

async function startBroker(options: ConstructorParameters<typeof Broker>[0] = {}) {
  const broker = new Broker({ host: '127.0.0.1', port: 0, auth: { mode: 'none' }, ...options });
  const { port } = await broker.listen();
  brokers.push(broker);
  return { broker, url: `hyps://127.0.0.1:${port}` };
}

async function connected(url: string, options: HypsClientOptions = {}): Promise<HypsClient> {
  const client = new HypsClient({ url, reconnect: false, ...options });
  clients.push(client);
  await client.connect();
  return client;
}

interface Collected {
  messages: HypsMessage[];
  errors: unknown[];
  completed: boolean;
  subscription: Subscription;
}

function collect(source: HypsSubscription): Collected {
  const collected: Collected = {
    messages: [],
    errors: [],
    completed: false,
    subscription: undefined as unknown as Subscription,
  };
  collected.subscription = source.subscribe({
    next: (message) => collected.messages.push(message),
    error: (error: unknown) => collected.errors.push(error),
    complete: () => {
      collected.completed = true;
    },
  });
  return collected;
}

const texts = (collected: Collected): string[] => collected.messages.map((m) => m.text());

describe('HypsClient publish/subscribe', () => {
  it('delivers a publish to an Observable subscriber on another client', async () => {
    const { url } = await startBroker();
    const subscriber = await connected(url, { name: 'sub' });
    const publisher = await connected(url, { name: 'pub' });
    const orders = subscriber.subscribe('orders.eu');
    const got = collect(orders);
    await orders.ready;

    await expect(publisher.publish('orders.eu', '{"id":1}')).resolves.toEqual({ receivers: 1 });
    await expect(publisher.publish('orders.us', 'nobody')).resolves.toEqual({ receivers: 0 });
    await waitFor(() => got.messages.length === 1);
    const [message] = got.messages;
    expect(message!.channel).toBe('orders.eu');
    expect(message!.group).toBeUndefined();
    expect(message!.json()).toEqual({ id: 1 });
    expect(Buffer.from(message!.data).toString()).toBe('{"id":1}');
  });

  it('publishes on ASCII, non-ASCII and star-in-token channels alike, and refuses invalid ones', async () => {
    const { url, broker } = await startBroker();
    const subscriber = await connected(url);
    const publisher = await connected(url);
    // ASCII, non-ASCII, and '*' or '>' inside a token (allowed in a channel).
    const channels = ['plain.ascii', 'prix.€.zürich', 'a*b.c>d', 'plain.ascii', 'x.y'];
    const sources = [...new Set(channels)].map((channel) => subscriber.subscribe(channel));
    const got = sources.map(collect);
    await Promise.all(sources.map((source) => source.ready));

    // Interleaved and repeated: cached channels are reused, and a repeat follows a change.
    for (let round = 0; round < 3; round++) {
      for (const channel of channels) {
        await expect(publisher.publish(channel, `${round}`)).resolves.toEqual({ receivers: 1 });
      }
    }
    await waitFor(() => got.reduce((sum, c) => sum + c.messages.length, 0) === 15);
    expect(got.map((c) => c.messages.map((m) => m.channel))).toEqual([
      Array(6).fill('plain.ascii'),
      Array(3).fill('prix.€.zürich'),
      Array(3).fill('a*b.c>d'),
      Array(3).fill('x.y'),
    ]);
    for (const bad of ['a..b', 'a.*', 'has space', '', 'a'.repeat(300)]) {
      await expect(publisher.publish(bad, 'x')).rejects.toBeInstanceOf(InvalidChannelError);
    }
    expect(broker.stats().published).toBe(15);
  });

  it('delivers its own publish once ready has resolved, with binary data intact', async () => {
    const { url } = await startBroker();
    const client = await connected(url);
    const source = client.subscribe('self.echo');
    const got = collect(source);
    await source.ready;
    const bytes = Uint8Array.from([0, 10, 255, 10, 13]);
    await expect(client.publish('self.echo', bytes)).resolves.toEqual({ receivers: 1 });
    await expect(client.publish('self.echo', '')).resolves.toEqual({ receivers: 1 });
    await waitFor(() => got.messages.length === 2);
    expect(Array.from(got.messages[0]!.data)).toEqual([0, 10, 255, 10, 13]);
    expect(got.messages[1]!.data.length).toBe(0);
  });

  it('matches wildcard patterns the way the broker does', async () => {
    const { url } = await startBroker();
    const client = await connected(url);
    const star = client.subscribe('orders.*');
    const tail = client.subscribe('orders.>');
    const starGot = collect(star);
    const tailGot = collect(tail);
    await Promise.all([star.ready, tail.ready]);
    for (const channel of ['orders', 'orders.eu', 'orders.eu.1', 'other.eu']) {
      await client.publish(channel, channel);
    }
    await client.publish('end.marker', 'x');
    await waitFor(() => tailGot.messages.length === 2);
    expect(texts(starGot)).toEqual(['orders.eu']);
    expect(texts(tailGot)).toEqual(['orders.eu', 'orders.eu.1']);
  });

  it('hands a record to each matching local subscriber once, over one broker delivery', async () => {
    const { url } = await startBroker();
    const client = await connected(url);
    const publisher = await connected(url);
    const many = client.subscribe(['a.b', 'a.*', 'a.>', 'a.b']);
    const star = client.subscribe('a.*');
    const exact = client.subscribe('a.b');
    const unrelated = client.subscribe('z.>');
    const got = [many, star, exact, unrelated].map(collect);
    await Promise.all([many.ready, star.ready, exact.ready, unrelated.ready]);

    // One connection holds the subscriptions, so the broker delivers once.
    await expect(publisher.publish('a.b', 'one')).resolves.toEqual({ receivers: 1 });
    await expect(publisher.publish('a.c', 'two')).resolves.toEqual({ receivers: 1 });
    await waitFor(() => got[0]!.messages.length === 2 && got[1]!.messages.length === 2);
    await publisher.publish('z.end', 'marker');
    await waitFor(() => got[3]!.messages.length === 1);
    expect(texts(got[0]!)).toEqual(['one', 'two']);
    expect(texts(got[1]!)).toEqual(['one', 'two']);
    expect(texts(got[2]!)).toEqual(['one']);
  });

  it('refcounts SUB/UNSUB per pattern: the broker stops delivering after the last unsubscribe', async () => {
    const { broker, url } = await startBroker();
    const client = await connected(url);
    const other = await connected(url);
    const source = client.subscribe('ref.x');
    const first = collect(source);
    const second = collect(source);
    const third = collect(client.subscribe('ref.x'));
    await source.ready;
    expect(broker.stats().subscriptions).toBe(1);

    first.subscription.unsubscribe();
    second.subscription.unsubscribe();
    await expect(other.publish('ref.x', 'still')).resolves.toEqual({ receivers: 1 });
    await waitFor(() => third.messages.length === 1);
    expect(first.messages).toHaveLength(0);
    expect(broker.stats().subscriptions).toBe(1);

    third.subscription.unsubscribe();
    // The UNSUB goes out in the same batch as this publish, so the broker sees it first.
    await expect(client.publish('ref.x', 'gone')).resolves.toEqual({ receivers: 0 });
    expect(broker.stats().subscriptions).toBe(0);
    await expect(other.publish('ref.x', 'gone')).resolves.toEqual({ receivers: 0 });

    // Subscribing again sends a fresh SUB.
    const again = client.subscribe('ref.x');
    const againGot = collect(again);
    await again.ready;
    await expect(other.publish('ref.x', 'back')).resolves.toEqual({ receivers: 1 });
    await waitFor(() => againGot.messages.length === 1);
    expect(third.messages.map((m) => m.text())).toEqual(['still']);
  });

  it('rotates group deliveries among local members, beside plain subscribers', async () => {
    const { broker, url } = await startBroker();
    const client = await connected(url);
    const publisher = await connected(url);
    const workers = client.subscribe('jobs.*', { group: 'workers' });
    const members = [collect(workers), collect(workers), collect(workers)];
    const plainSource = client.subscribe('jobs.>');
    const plain = collect(plainSource);
    await Promise.all([workers.ready, plainSource.ready]);
    expect(broker.stats().subscriptions).toBe(2);

    for (let i = 0; i < 6; i++) {
      // One plain delivery plus one GROUP_MSG, both to the same connection.
      await expect(publisher.publish('jobs.build', `job-${i}`)).resolves.toEqual({ receivers: 2 });
    }
    await waitFor(
      () => plain.messages.length === 6 && members.every((m) => m.messages.length === 2),
    );
    const all = members.flatMap((member) => texts(member)).sort();
    expect(all).toEqual(['job-0', 'job-1', 'job-2', 'job-3', 'job-4', 'job-5']);
    for (const member of members) {
      expect(
        member.messages.every((m) => m.group === 'workers' && m.channel === 'jobs.build'),
      ).toBe(true);
    }
    // Members leave; the remaining one gets every group delivery.
    members[0]!.subscription.unsubscribe();
    members[1]!.subscription.unsubscribe();
    for (let i = 6; i < 9; i++) await publisher.publish('jobs.build', `job-${i}`);
    await waitFor(() => members[2]!.messages.length === 5);
    expect(texts(members[2]!).slice(2)).toEqual(['job-6', 'job-7', 'job-8']);
  });

  it('counts receivers across connections and groups', async () => {
    const { broker, url } = await startBroker();
    const [a, b, c, publisher] = await Promise.all([url, url, url, url].map((u) => connected(u)));
    const sources = [
      a!.subscribe('news.*'),
      b!.subscribe('news.>'),
      b!.subscribe('news.*', { group: 'g' }),
      c!.subscribe('news.*', { group: 'g' }),
    ];
    // `ready` settles once an observer subscribed.
    const subscriptions = sources.map(collect);
    await Promise.all(sources.map((source) => source.ready));
    // a and b plain, plus one member of group g.
    await expect(publisher!.publish('news.today', 'x')).resolves.toEqual({ receivers: 3 });
    await waitFor(() => subscriptions[0]!.messages.length === 1);
    await waitFor(() => subscriptions[1]!.messages.length === 1);
    await waitFor(
      () => subscriptions[2]!.messages.length + subscriptions[3]!.messages.length === 1,
    );
    subscriptions.forEach((s) => s.subscription.unsubscribe());
    await waitFor(() => broker.stats().subscriptions === 0);
    await expect(publisher!.publish('news.today', 'x')).resolves.toEqual({ receivers: 0 });
  });

  it('reports invalid patterns and groups to the observer as InvalidChannelError', async () => {
    const { url } = await startBroker();
    const client = await connected(url);
    for (const [patterns, group] of [
      ['a..b', undefined],
      ['a.>.b', undefined],
      [[], undefined],
      ['ok', 'g.*'],
      ['ok', ''],
    ] as Array<[string | string[], string | undefined]>) {
      const source = client.subscribe(patterns, group === undefined ? {} : { group });
      await expect(source.ready).rejects.toBeInstanceOf(InvalidChannelError);
      const got = collect(source);
      expect(got.errors).toHaveLength(1);
      expect(got.errors[0]).toBeInstanceOf(InvalidChannelError);
    }
    // The connection is unaffected.
    await expect(client.publish('fine', 'x')).resolves.toEqual({ receivers: 0 });
  });

  it('rejects a publish to an invalid channel without touching the connection', async () => {
    const { url } = await startBroker();
    const client = await connected(url);
    for (const channel of ['', 'a.*', 'a.>', 'a b', 'a..b', 'x'.repeat(257)]) {
      await expect(client.publish(channel, 'x')).rejects.toBeInstanceOf(InvalidChannelError);
    }
    await expect(client.publish('fine', 'x')).resolves.toEqual({ receivers: 0 });
  });

  it('rejects a record over the broker maxFrameBytes client-side and keeps the connection', async () => {
    const { url } = await startBroker({ maxFrameBytes: 1024, maxBufferedBytes: 64 * 1024 });
    const client = await connected(url);
    expect(client.info?.maxFrameBytes).toBe(1024);
    await expect(client.publish('big', 'x'.repeat(2000))).rejects.toBeInstanceOf(
      FrameTooLargeError,
    );
    await expect(client.publish('big', 'x'.repeat(1000))).resolves.toEqual({ receivers: 0 });
    expect(client.status).toBe('connected');
  });

  it('acknowledges many publishes made in one tick in order, with their own results', async () => {
    const { url } = await startBroker();
    const client = await connected(url, { flushThresholdBytes: 4096 });
    const source = client.subscribe('batch.a');
    const got = collect(source);
    await source.ready;

    const count = 3000;
    const settled: number[] = [];
    const promises: Array<Promise<{ receivers: number }>> = [];
    for (let i = 0; i < count; i++) {
      // Alternate a subscribed channel and an empty one so results differ by position; a few
      // large records force the batch buffer to grow past the flush threshold.
      const channel = i % 2 === 0 ? 'batch.a' : 'batch.none';
      const data = i % 500 === 0 ? `${i}:`.padEnd(20_000, 'y') : String(i);
      promises.push(client.publish(channel, data).then((result) => (settled.push(i), result)));
    }
    const results = await Promise.all(promises);
    expect(results.map((r) => r.receivers)).toEqual(
      Array.from({ length: count }, (_, i) => (i % 2 === 0 ? 1 : 0)),
    );
    expect(settled).toEqual(Array.from({ length: count }, (_, i) => i));
    await waitFor(() => got.messages.length === count / 2);
    expect(got.messages.map((m) => m.text().split(':')[0])).toEqual(
      Array.from({ length: count / 2 }, (_, i) => String(i * 2)),
    );
  });

  it('counts DROPPED notices when the broker sheds deliveries to this connection', async () => {
    const { url } = await startBroker({ maxFrameBytes: 1024, maxBufferedBytes: 4096 });
    const subscriber = await connected(url);
    const publisher = await connected(url);
    const source = subscriber.subscribe('flood');
    const got = collect(source);
    await source.ready;
    const events: Array<[number, number]> = [];
    subscriber.on('dropped', (count, total) => events.push([count, total]));

    // 200 records of ~500 bytes in one tick: far more than 4 KiB queued at once at the broker.
    const results = await Promise.all(
      Array.from({ length: 200 }, () => publisher.publish('flood', 'z'.repeat(500))),
    );
    const delivered = results.reduce((sum, r) => sum + r.receivers, 0);
    expect(delivered).toBeLessThan(200);
    await waitFor(
      () => got.messages.length === delivered && subscriber.dropped === 200 - delivered,
    );
    expect(events.length).toBeGreaterThan(0);
    expect(events.at(-1)![1]).toBe(subscriber.dropped);
    expect(events.reduce((sum, [count]) => sum + count, 0)).toBe(subscriber.dropped);
  });

  it('answers broker PINGs, so an idle connection stays up', async () => {
    const { broker, url } = await startBroker({ pingIntervalMs: 20 });
    const client = await connected(url);
    const statuses: string[] = [];
    client.on('status', (status) => statuses.push(status));
    // Several ping intervals; two unanswered PINGs would close the connection.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(statuses).toEqual([]);
    expect(client.status).toBe('connected');
    expect(broker.stats().connections).toBe(1);
    await expect(client.publish('still.here', 'x')).resolves.toEqual({ receivers: 0 });
  });
});
