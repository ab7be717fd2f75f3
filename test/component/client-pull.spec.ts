import { Broker, InvalidChannelError } from '@hyps/transport';
import {
  HypsClient,
  IDLE,
  type HypsMessage,
  type HypsPullSubscription,
} from '../../libs/hyps-transport/src/client/index.js';

const brokers: Broker[] = [];
const clients: HypsClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

async function setup(): Promise<{ broker: Broker; client: HypsClient; publisher: HypsClient }> {
  const broker = new Broker({ host: '127.0.0.1', port: 0, auth: { mode: 'none' } });
  const { port } = await broker.listen();
  brokers.push(broker);
  const client = new HypsClient({ url: `hyps://127.0.0.1:${port}`, reconnect: false });
  const publisher = new HypsClient({ url: `hyps://127.0.0.1:${port}`, reconnect: false });
  clients.push(client, publisher);
  await Promise.all([client.connect(), publisher.connect()]);
  return { broker, client, publisher };
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function nextMessage(pull: HypsPullSubscription): Promise<HypsMessage> {
  const result = await pull[Symbol.asyncIterator]().next();
  if (result.done || result.value === IDLE) throw new Error('expected a message');
  return result.value;
}

describe('HypsClient pull API (iterate)', () => {
  it('yields messages in order to for-await and unsubscribes on break', async () => {
    const { broker, client, publisher } = await setup();
    const pull = client.iterate('feed.*');
    await pull.ready;
    expect(broker.stats().subscriptions).toBe(1);
    for (let i = 0; i < 5; i++) await publisher.publish(`feed.${i}`, `m${i}`);

    const seen: string[] = [];
    for await (const item of pull) {
      if (item === IDLE) throw new Error('unexpected IDLE');
      seen.push(`${item.channel}=${item.text()}`);
      if (seen.length === 5) break;
    }
    expect(seen).toEqual(['feed.0=m0', 'feed.1=m1', 'feed.2=m2', 'feed.3=m3', 'feed.4=m4']);
    await waitFor(() => broker.stats().subscriptions === 0);
    await expect(publisher.publish('feed.x', 'late')).resolves.toEqual({ receivers: 0 });
  });

  it('drops and counts messages past maxBufferedBytes when the consumer does not read', async () => {
    const { client, publisher } = await setup();
    // Each message costs channel + data = 3 + 100 bytes: nine fit in 1000, the tenth does not.
    const pull = client.iterate('p.x', { maxBufferedBytes: 1000 });
    await pull.ready;
    const sent = await Promise.all(
      Array.from({ length: 50 }, (_, i) => publisher.publish('p.x', String(i).padEnd(100, '.'))),
    );
    expect(sent.every((r) => r.receivers === 1)).toBe(true);
    await waitFor(() => pull.dropped === 41);

    const kept: string[] = [];
    for (let i = 0; i < 9; i++) kept.push((await nextMessage(pull)).text().replace(/\.+$/, ''));
    expect(kept).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8']);
    // The buffer has room again.
    await publisher.publish('p.x', 'after');
    expect((await nextMessage(pull)).text()).toBe('after');
    expect(pull.dropped).toBe(41);
    await pull.close();
  });

  it('yields IDLE when idleTimeoutMs passes without a message, then carries on', async () => {
    const { client, publisher } = await setup();
    const pull = client.iterate('quiet', { idleTimeoutMs: 50 });
    await pull.ready;
    const iterator = pull[Symbol.asyncIterator]();
    await expect(iterator.next()).resolves.toEqual({ value: IDLE, done: false });
    const pending = iterator.next();
    await publisher.publish('quiet', 'hello');
    const result = await pending;
    expect(result.done).toBe(false);
    expect((result.value as HypsMessage).text()).toBe('hello');
    await pull.close();
    await expect(iterator.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('ends a waiting iteration on close() and sends UNSUB', async () => {
    const { broker, client } = await setup();
    const pull = client.iterate(['a.>', 'b.*'], { group: 'workers' });
    await pull.ready;
    expect(broker.stats().subscriptions).toBe(2);
    const waiting = pull[Symbol.asyncIterator]().next();
    await pull.close();
    await expect(waiting).resolves.toEqual({ value: undefined, done: true });
    await waitFor(() => broker.stats().subscriptions === 0);
  });

  it('receives group deliveries, one member at a time', async () => {
    const { client, publisher } = await setup();
    const first = client.iterate('jobs', { group: 'g' });
    const second = client.iterate('jobs', { group: 'g' });
    await Promise.all([first.ready, second.ready]);
    await expect(publisher.publish('jobs', 'a')).resolves.toEqual({ receivers: 1 });
    await expect(publisher.publish('jobs', 'b')).resolves.toEqual({ receivers: 1 });
    const got = [await nextMessage(first), await nextMessage(second)];
    expect(got.map((m) => m.text()).sort()).toEqual(['a', 'b']);
    expect(got.every((m) => m.group === 'g')).toBe(true);
    await Promise.all([first.close(), second.close()]);
  });

  it('fails ready and the first read for an invalid pattern', async () => {
    const { client } = await setup();
    const pull = client.iterate('bad..pattern');
    await expect(pull.ready).rejects.toBeInstanceOf(InvalidChannelError);
    await expect(pull[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(InvalidChannelError);
  });

  it('ends the iteration when the client closes', async () => {
    const { client } = await setup();
    const pull = client.iterate('x');
    await pull.ready;
    const waiting = pull[Symbol.asyncIterator]().next();
    await client.close();
    await expect(waiting).resolves.toEqual({ value: undefined, done: true });
  });
});
