// What an application's own observer of a HypsSubscription gets (the client calls it directly,
// without RxJS's SafeSubscriber chain): the RxJS contract, checked against a real broker.
import { config, Subscription, take, toArray, lastValueFrom } from 'rxjs';
import {
  ClientClosedError,
  HypsClient,
  InvalidChannelError,
  type HypsMessage,
} from '@hyps/transport';
import { useBrokers } from './helpers/broker-fixture.js';
import { sleep, waitFor } from './helpers/wait.js';

const clients: HypsClient[] = [];
let unhandled: unknown[] = [];
const savedOnUnhandledError = config.onUnhandledError;

beforeEach(() => {
  unhandled = [];
  config.onUnhandledError = (error) => unhandled.push(error);
});

// Declared before useBrokers(), so it runs first: clients close (their observers complete)
// before the broker goes, which would otherwise end them with an error nobody handles.
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  config.onUnhandledError = savedOnUnhandledError;
});

const brokers = useBrokers();

async function connectedPair(): Promise<{ subscriber: HypsClient; publisher: HypsClient }> {
  const running = await brokers.start();
  const url = `hyps://127.0.0.1:${running.port}`;
  const subscriber = new HypsClient({ url, reconnect: false });
  const publisher = new HypsClient({ url, reconnect: false });
  clients.push(subscriber, publisher);
  await Promise.all([subscriber.connect(), publisher.connect()]);
  return { subscriber, publisher };
}

describe('observers of a HypsSubscription', () => {
  it('returns a real Subscription whose added teardowns run on unsubscribe, and stops deliveries', async () => {
    const { subscriber, publisher } = await connectedPair();
    const got: string[] = [];
    const source = subscriber.subscribe('obs.a');
    const subscription = source.subscribe((message) => got.push(message.text()));
    expect(subscription).toBeInstanceOf(Subscription);
    let tornDown = false;
    subscription.add(() => (tornDown = true));
    await source.ready;
    await publisher.publish('obs.a', 'one');
    await waitFor(() => got.length === 1);
    subscription.unsubscribe();
    expect(subscription.closed).toBe(true);
    expect(tornDown).toBe(true);
    await publisher.publish('obs.a', 'two');
    await sleep(50);
    expect(got).toEqual(['one']);
  });

  it('calls an observer object as a method (this is the observer)', async () => {
    const { subscriber, publisher } = await connectedPair();
    const observer = {
      seen: [] as string[],
      next(this: { seen: string[] }, message: HypsMessage) {
        this.seen.push(message.channel);
      },
    };
    const source = subscriber.subscribe('obs.b');
    source.subscribe(observer);
    await source.ready;
    await publisher.publish('obs.b', 'x');
    await waitFor(() => observer.seen.length === 1);
    expect(observer.seen).toEqual(['obs.b']);
  });

  it('reports a throwing handler as unhandled and keeps delivering', async () => {
    const { subscriber, publisher } = await connectedPair();
    const got: string[] = [];
    const source = subscriber.subscribe('obs.c');
    source.subscribe((message) => {
      got.push(message.text());
      if (message.text() === 'bad') throw new Error('handler broke');
    });
    await source.ready;
    for (const text of ['ok', 'bad', 'after']) await publisher.publish('obs.c', text);
    await waitFor(() => got.length === 3 && unhandled.length === 1);
    expect(got).toEqual(['ok', 'bad', 'after']);
    expect((unhandled[0] as Error).message).toBe('handler broke');
    expect(subscriber.status).toBe('connected');
  });

  it('stops at once when a handler unsubscribes, also for messages that arrived with that one', async () => {
    const { subscriber, publisher } = await connectedPair();
    const got: string[] = [];
    const source = subscriber.subscribe('obs.f');
    const subscription: Subscription = source.subscribe((message) => {
      got.push(message.text());
      subscription.unsubscribe();
    });
    await source.ready;
    // Published in one tick, so they travel in one write and are delivered from one chunk.
    await Promise.all(['1', '2', '3'].map((text) => publisher.publish('obs.f', text)));
    await sleep(50);
    expect(got).toEqual(['1']);
  });

  it('reads next from the observer object on every message, as RxJS does', async () => {
    const { subscriber, publisher } = await connectedPair();
    const got: string[] = [];
    const observer: { next?: (message: HypsMessage) => void; error: () => void } = {
      next: (message) => got.push(`first ${message.text()}`),
      error: () => undefined,
    };
    const source = subscriber.subscribe('obs.g');
    source.subscribe(observer);
    const errorOnly = subscriber.subscribe('obs.h');
    errorOnly.subscribe({ error: () => got.push('error') });
    await Promise.all([source.ready, errorOnly.ready]);
    await publisher.publish('obs.g', 'a');
    await waitFor(() => got.length === 1);
    observer.next = (message) => got.push(`second ${message.text()}`);
    await publisher.publish('obs.g', 'b');
    await publisher.publish('obs.h', 'ignored');
    await waitFor(() => got.length === 2);
    // Without a next method the observer is skipped, as RxJS skips it.
    delete observer.next;
    await publisher.publish('obs.g', 'c');
    await sleep(20);
    expect(got).toEqual(['first a', 'second b']);
    expect(unhandled).toEqual([]);
  });

  it('moves a channel between one observer and several without losing or doubling messages', async () => {
    const { subscriber, publisher } = await connectedPair();
    const first: string[] = [];
    const second: string[] = [];
    const source = subscriber.subscribe('obs.i');
    const one = source.subscribe((message) => first.push(message.text()));
    await source.ready;
    await publisher.publish('obs.i', 'alone');
    const two = source.subscribe((message) => second.push(message.text()));
    await publisher.publish('obs.i', 'both');
    await waitFor(() => first.length === 2 && second.length === 1);
    one.unsubscribe();
    await publisher.publish('obs.i', 'second only');
    await waitFor(() => second.length === 2);
    two.unsubscribe();
    await publisher.publish('obs.i', 'nobody');
    await sleep(20);
    expect(first).toEqual(['alone', 'both']);
    expect(second).toEqual(['both', 'second only']);
  });

  it('keeps the RxJS contract when a handler unsubscribes or adds another observer of its channel', async () => {
    const { subscriber, publisher } = await connectedPair();
    const got: string[] = [];
    const source = subscriber.subscribe('obs.j');
    let added = false;
    source.subscribe((message) => {
      got.push(`first ${message.text()}`);
      // `second` is set below, before any message can arrive.
      if (message.text() === 'stop') second.unsubscribe();
      if (message.text() === 'add' && !added) {
        added = true;
        source.subscribe((late) => got.push(`third ${late.text()}`));
      }
    });
    const second = source.subscribe((message) => got.push(`second ${message.text()}`));
    await source.ready;
    // One write, so the later messages are delivered from the same chunk as 'stop'.
    await Promise.all(
      ['a', 'stop', 'b', 'add', 'c'].map((text) => publisher.publish('obs.j', text)),
    );
    await waitFor(() => got.includes('third c'));
    await sleep(20);
    expect(got).toEqual([
      'first a',
      'second a',
      'first stop',
      'first b',
      'first add',
      'first c',
      'third c',
    ]);
  });

  it('hands a refused subscription to error(), or reports it when there is no error handler', async () => {
    const { subscriber } = await connectedPair();
    const errors: unknown[] = [];
    const withHandler = subscriber.subscribe('bad..pattern').subscribe({
      error: (error) => errors.push(error),
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(InvalidChannelError);
    expect(withHandler.closed).toBe(true);

    const withoutHandler = subscriber.subscribe('bad..pattern').subscribe(() => undefined);
    expect(withoutHandler.closed).toBe(true);
    await waitFor(() => unhandled.length === 1);
    expect(unhandled[0]).toBeInstanceOf(InvalidChannelError);
  });

  it('completes observers when the client closes, and nothing reaches them after', async () => {
    const { subscriber } = await connectedPair();
    const events: string[] = [];
    const source = subscriber.subscribe('obs.d');
    const subscription = source.subscribe({
      next: () => events.push('next'),
      error: () => events.push('error'),
      complete: () => events.push('complete'),
    });
    await source.ready;
    await subscriber.close();
    expect(events).toEqual(['complete']);
    expect(subscription.closed).toBe(true);
    // A new observer of a closed client gets the typed error.
    const late: unknown[] = [];
    source.subscribe({ error: (error) => late.push(error) });
    expect(late[0]).toBeInstanceOf(ClientClosedError);
  });

  it('still works through operators, and subscribe() with no observer is valid', async () => {
    const { subscriber, publisher } = await connectedPair();
    const source = subscriber.subscribe('obs.e');
    const bare = source.subscribe();
    const firstTwo = lastValueFrom(source.pipe(take(2), toArray()));
    await source.ready;
    for (const text of ['1', '2', '3']) await publisher.publish('obs.e', text);
    expect((await firstTwo).map((message) => message.text())).toEqual(['1', '2']);
    bare.unsubscribe();
    expect(bare.closed).toBe(true);
  });
});
