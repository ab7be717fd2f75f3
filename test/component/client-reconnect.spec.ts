import type { Subscription } from 'rxjs';
import { Broker, ShuttingDownError } from '@hyps/transport';
import {
  ClientClosedError,
  ConnectionClosedError,
  HypsClient,
  PendingQueueFullError,
  PublishTimeoutError,
  type HypsClientOptions,
  type HypsMessage,
  type HypsStatus,
} from '../../libs/hyps-transport/src/client/index.js';
import { waitFor } from './helpers/wait.js';

const brokers: Broker[] = [];
const clients: HypsClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

async function startBroker(port = 0): Promise<{ broker: Broker; port: number; url: string }> {
  const broker = new Broker({ host: '127.0.0.1', port, auth: { mode: 'none' } });
  const address = await broker.listen();
  brokers.push(broker);
  return { broker, port: address.port, url: `hyps://127.0.0.1:${address.port}` };
}

/** Fast reconnects so the outage tests stay short. */
function newClient(url: string, options: HypsClientOptions = {}): HypsClient {
  const client = new HypsClient({
    url,
    reconnectDelayMs: 10,
    maxReconnectDelayMs: 50,
    connectTimeoutMs: 1000,
    ...options,
  });
  clients.push(client);
  return client;
}

function recordStatuses(client: HypsClient): HypsStatus[] {
  const statuses: HypsStatus[] = [];
  client.status$.subscribe((status) => statuses.push(status));
  return statuses;
}

/** Settles a publish into a comparable outcome; the test fails if it takes over `ms`. */
function outcome(promise: Promise<{ receivers: number }>, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('publish hung')), ms);
    promise.then(
      (result) => {
        clearTimeout(timer);
        resolve(`ok:${result.receivers}`);
      },
      (error: Error) => {
        clearTimeout(timer);
        resolve(error.constructor.name);
      },
    );
  });
}

describe('HypsClient reconnect and teardown', () => {
  it('restores subscriptions on a broker restarted on the same port, before held publishes', async () => {
    const first = await startBroker();
    const client = newClient(first.url);
    const statuses = recordStatuses(client);
    await client.connect();
    const messages: HypsMessage[] = [];
    const errors: unknown[] = [];
    const source = client.subscribe('r.*');
    const group = client.subscribe('r.*', { group: 'g' });
    source.subscribe({ next: (m) => messages.push(m), error: (e: unknown) => errors.push(e) });
    group.subscribe({ next: (m) => messages.push(m), error: (e: unknown) => errors.push(e) });
    await Promise.all([source.ready, group.ready]);
    await expect(client.publish('r.before', 'x')).resolves.toEqual({ receivers: 2 });

    await first.broker.close();
    await waitFor(() => client.status === 'reconnecting');
    const held = client.publish('r.held', 'during outage');

    const second = await startBroker(first.port);
    await waitFor(() => client.status === 'connected');
    // The held publish went out after the re-SUBs, so both subscriptions received it.
    await expect(held).resolves.toEqual({ receivers: 2 });
    expect(second.broker.stats().subscriptions).toBe(2);
    await expect(client.publish('r.after', 'y')).resolves.toEqual({ receivers: 2 });
    await waitFor(() => messages.length === 6);
    expect(messages.map((m) => `${m.channel}${m.group ? '/g' : ''}`).sort()).toEqual([
      'r.after',
      'r.after/g',
      'r.before',
      'r.before/g',
      'r.held',
      'r.held/g',
    ]);
    expect(errors).toEqual([]);
    expect(statuses).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
  });

  it('settles every publish made around an outage: none hangs', async () => {
    const first = await startBroker();
    const client = newClient(first.url, { pendingPublishTimeoutMs: 300 });
    await client.connect();
    const inFlight = Array.from({ length: 200 }, (_, i) => client.publish('o.x', String(i)));
    const closing = first.broker.close();
    const during = Array.from({ length: 20 }, (_, i) => client.publish('o.x', `d${i}`));
    await closing;
    const second = await startBroker(first.port);
    const outcomes = await Promise.all([...inFlight, ...during].map((p) => outcome(p)));
    for (const result of outcomes) {
      expect(['ok:0', 'ConnectionClosedError', 'PublishTimeoutError']).toContain(result);
    }
    await waitFor(() => client.status === 'connected');
    await expect(client.publish('o.x', 'after')).resolves.toEqual({ receivers: 0 });
    expect(second.broker.stats().connections).toBe(1);
  });

  it('rejects held publishes after pendingPublishTimeoutMs, and past pendingPublishLimit', async () => {
    const { broker, url } = await startBroker();
    const client = newClient(url, { pendingPublishLimit: 2, pendingPublishTimeoutMs: 100 });
    await client.connect();
    await broker.close();
    await waitFor(() => client.status === 'reconnecting');
    const held = [client.publish('h', '1'), client.publish('h', '2')];
    await expect(client.publish('h', '3')).rejects.toBeInstanceOf(PendingQueueFullError);
    for (const publish of held) await expect(publish).rejects.toBeInstanceOf(PublishTimeoutError);
    // The queue has room again.
    const later = client.publish('h', '4');
    await expect(later).rejects.toBeInstanceOf(PublishTimeoutError);
  });

  it('gives up after maxReconnectAttempts: status closed, observers error, publishes reject', async () => {
    const { broker, url } = await startBroker();
    const client = newClient(url, { maxReconnectAttempts: 2 });
    const statuses = recordStatuses(client);
    const errorEvents: Error[] = [];
    client.on('error', (error) => errorEvents.push(error));
    await client.connect();
    const errors: unknown[] = [];
    const source = client.subscribe('x');
    source.subscribe({ error: (e: unknown) => errors.push(e) });
    await source.ready;
    await broker.close();
    await waitFor(() => client.status === 'closed');
    expect(statuses).toEqual(['connecting', 'connected', 'reconnecting', 'closed']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ConnectionClosedError);
    expect(errorEvents.length).toBeGreaterThanOrEqual(1);
    await expect(client.publish('x', 'y')).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('does not reconnect when reconnect is false', async () => {
    const { broker, url } = await startBroker();
    const client = newClient(url, { reconnect: false });
    await client.connect();
    const errors: unknown[] = [];
    client.subscribe('x').subscribe({ error: (e: unknown) => errors.push(e) });
    await broker.close();
    await waitFor(() => client.status === 'closed');
    expect(errors[0]).toBeInstanceOf(ConnectionClosedError);
    // connect() starts over once a broker is back.
    await startBroker(Number(new URL(url).port));
    await client.connect();
    expect(client.status).toBe('connected');
  });

  it('rejects connect() when nothing listens, within connectTimeoutMs', async () => {
    const { broker, url } = await startBroker();
    await broker.close();
    const once = newClient(url, { reconnect: false });
    await expect(once.connect()).rejects.toBeInstanceOf(ConnectionClosedError);
    const retrying = newClient(url, { connectTimeoutMs: 200 });
    const started = Date.now();
    await expect(retrying.connect()).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(retrying.status).toBe('closed');
  });

  it('reports a broker drain (ERR 8) and reconnects', async () => {
    const first = await startBroker();
    const client = newClient(first.url);
    const errorEvents: Error[] = [];
    client.on('error', (error) => errorEvents.push(error));
    await client.connect();
    await first.broker.drain();
    await waitFor(() => errorEvents.length > 0);
    expect(errorEvents[0]).toBeInstanceOf(ShuttingDownError);
    expect(client.status).toBe('reconnecting');
    await startBroker(first.port);
    await waitFor(() => client.status === 'connected');
  });

  it('close() rejects waiting publishes with ConnectionClosedError and completes observers', async () => {
    const { url } = await startBroker();
    const client = newClient(url);
    const statusValues: HypsStatus[] = [];
    let statusCompleted = false;
    client.status$.subscribe({
      next: (status) => statusValues.push(status),
      complete: () => {
        statusCompleted = true;
      },
    });
    // Held before the connection is ready.
    const held = client.publish('c', 'held');
    await client.connect();
    await held;
    let completed = false;
    const subscription: Subscription = client.subscribe('c').subscribe({
      complete: () => {
        completed = true;
      },
    });
    // Still in the unsent batch when close() runs.
    const pending = Promise.allSettled(Array.from({ length: 10 }, () => client.publish('c', 'x')));
    await client.close();
    for (const result of await pending) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(ConnectionClosedError);
    }
    expect(completed).toBe(true);
    expect(subscription.closed).toBe(true);
    expect(statusValues.at(-1)).toBe('closed');
    expect(statusCompleted).toBe(true);
    await expect(client.publish('c', 'x')).rejects.toBeInstanceOf(ClientClosedError);
    await expect(client.connect()).rejects.toBeInstanceOf(ClientClosedError);
    const late: unknown[] = [];
    client.subscribe('c').subscribe({ error: (e: unknown) => late.push(e) });
    expect(late[0]).toBeInstanceOf(ClientClosedError);
  });

  it('drain() waits for acknowledgements, then closes', async () => {
    const { url } = await startBroker();
    const client = newClient(url);
    await client.connect();
    const publishes = Array.from({ length: 100 }, (_, i) => client.publish('d', String(i)));
    await client.drain();
    const results = await Promise.all(publishes);
    expect(results.every((r) => r.receivers === 0)).toBe(true);
    expect(client.status).toBe('closed');
  });
});
