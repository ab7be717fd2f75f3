// ClientHyps#emit's acked, hot Observable, and ServerHyps event dispatch with and without Nest's
// processing hooks, against a real in-process broker and real Nest microservices.
import 'reflect-metadata';
import { Controller, Inject, Module } from '@nestjs/common';
import type { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Payload } from '@nestjs/microservices';
import { lastValueFrom, Observable, toArray } from 'rxjs';
import {
  HypsClient,
  InvalidChannelError,
  PermissionDeniedError,
  type HypsMessage,
} from '@hyps/transport';
import {
  ClientHyps,
  HYPS_TRANSPORT,
  HypsContext,
  HypsEventPattern,
  ServerHyps,
} from '../../libs/hyps-transport/src/nest/index.js';
import { useBrokers } from './helpers/broker-fixture.js';
import { sleep, startMicroservice, waitFor } from './nest-fixtures.js';

/** What one observer of an emit Observable saw. */
interface Observed {
  values: unknown[];
  completed: boolean;
  error: unknown;
}

function observe(source: Observable<unknown>): Observed {
  const observed: Observed = { values: [], completed: false, error: undefined };
  source.subscribe({
    next: (value) => observed.values.push(value),
    complete: () => {
      observed.completed = true;
    },
    error: (error: unknown) => {
      observed.error = error;
    },
  });
  return observed;
}

const ended = (observed: Observed) => observed.completed || observed.error !== undefined;

const apps: INestMicroservice[] = [];
const closables: Array<{ close(): Promise<void> }> = [];

// Declared before useBrokers() so that it runs first: apps and clients go before their broker.
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(closables.splice(0).map((closable) => closable.close()));
});
const brokers = useBrokers();

async function startBroker(options: Parameters<typeof brokers.start>[0] = {}): Promise<string> {
  const running = await brokers.start(options);
  return `hyps://127.0.0.1:${running.port}`;
}

function newClientHyps(options: ConstructorParameters<typeof ClientHyps>[0]): ClientHyps {
  const client = new ClientHyps(options);
  closables.push(client);
  return client;
}

/** A plain client that records every message on `pattern`. */
async function watch(url: string, pattern: string): Promise<HypsMessage[]> {
  const watcher = new HypsClient({ url, reconnect: false });
  closables.push(watcher);
  await watcher.connect();
  const seen: HypsMessage[] = [];
  const source = watcher.subscribe(pattern);
  source.subscribe((message) => seen.push(message));
  await source.ready;
  return seen;
}

/** The channels seen, once a marker published after everything else has arrived too. */
async function channelsSeen(url: string, seen: HypsMessage[], marker: string): Promise<string[]> {
  const publisher = new HypsClient({ url, reconnect: false });
  closables.push(publisher);
  await publisher.connect();
  await publisher.publish(marker, 'marker');
  await waitFor(() => seen.some((message) => message.channel === marker), 2000);
  return seen.map((message) => message.channel).filter((channel) => channel !== marker);
}

/**
 * Two observers of one emit complete on the ack, never synchronously (the ack cannot have
 * arrived yet); an observer that comes after it completes at once.
 */
async function expectAckedToEveryObserver(
  event$: Observable<unknown>,
  timeoutMs: number,
): Promise<void> {
  const done = { values: [], completed: true, error: undefined };
  const first = observe(event$);
  const second = observe(event$);
  expect(first.completed || second.completed).toBe(false);
  await waitFor(() => ended(first) && ended(second), timeoutMs);
  expect(first).toEqual(done);
  expect(second).toEqual(done);
  expect(observe(event$)).toEqual(done);
}

describe('ClientHyps emit', () => {
  it('completes each observer on the ack; a late observer completes at once; published once', async () => {
    const url = await startBroker();
    const seen = await watch(url, 'emit.>');
    const client = newClientHyps({ url });
    await client.connect();

    await expectAckedToEveryObserver(client.emit('emit.once', { n: 1 }), 2000);
    // Hot: three observers, one publish.
    expect(await channelsSeen(url, seen, 'emit.marker')).toEqual(['emit.once']);
    expect(JSON.parse(seen[0]!.text())).toMatchObject({ pattern: 'emit.once', data: { n: 1 } });
  });

  it('publishes an event nobody subscribes to (hot)', async () => {
    const url = await startBroker();
    const seen = await watch(url, 'emit.>');
    const client = newClientHyps({ url });
    await client.connect();
    client.emit('emit.unobserved', 'x');
    await waitFor(() => seen.length === 1, 2000);
    expect(seen[0]!.channel).toBe('emit.unobserved');
  });

  it('connects first when emit comes before connect(), with the same Observable semantics', async () => {
    const url = await startBroker();
    const seen = await watch(url, 'emit.>');
    const client = newClientHyps({ url });

    await expectAckedToEveryObserver(client.emit('emit.early', 'x'), 3000);
    expect(await channelsSeen(url, seen, 'emit.marker')).toEqual(['emit.early']);
  });

  it('errors every observer, late ones at once, with PermissionDeniedError when the broker refuses', async () => {
    const url = await startBroker({
      auth: {
        mode: 'hmac',
        users: [{ user: 'emitter', secret: 'emitter-secret', publish: ['allowed.>'] }],
      },
    });
    const client = newClientHyps({ url, user: 'emitter', secret: 'emitter-secret' });
    await client.connect();

    const refused$ = client.emit('forbidden.x', 1);
    const first = observe(refused$);
    const second = observe(refused$);
    await waitFor(() => ended(first) && ended(second), 2000);
    expect(first.error).toBeInstanceOf(PermissionDeniedError);
    expect(second.error).toBe(first.error);
    expect(first.completed || second.completed).toBe(false);
    const late = observe(refused$);
    expect(late.error).toBe(first.error);
    expect(late.completed).toBe(false);

    // A refused publish is not fatal: the next allowed event is acked on the same connection.
    await expect(
      lastValueFrom(client.emit('allowed.x', 2), { defaultValue: 'completed' }),
    ).resolves.toBe('completed');
  });

  it('errors with InvalidChannelError for an invalid channel, connected or not yet', async () => {
    const url = await startBroker();
    const fresh = newClientHyps({ url });
    const early = observe(fresh.emit('bad..channel', 1));
    await waitFor(() => ended(early), 3000);
    expect(early.error).toBeInstanceOf(InvalidChannelError);

    const client = newClientHyps({ url });
    await client.connect();
    const wildcard$ = client.emit('orders.*', 1);
    const observed = observe(wildcard$);
    await waitFor(() => ended(observed), 2000);
    expect(observed.error).toBeInstanceOf(InvalidChannelError);
    expect(observe(wildcard$).error).toBe(observed.error);
  });
});

describe('ServerHyps event dispatch and processing hooks', () => {
  async function startWithHooks(url: string) {
    const started = await startMicroservice({ url, name: 'hooks-service' });
    apps.push(started.app);
    return started;
  }

  it('runs installed start and end hooks around each event; the handler still runs', async () => {
    const url = await startBroker();
    const { recorder, server } = await startWithHooks(url);
    const hooks: Array<{ hook: string; transportId: unknown; channel: string; handled: number }> =
      [];
    server.setOnProcessingStartHook((transportId, context, done) => {
      const channel = (context as HypsContext).getChannel();
      hooks.push({ hook: 'start', transportId, channel, handled: recorder.events.length });
      return done();
    });
    server.setOnProcessingEndHook((transportId, context) => {
      const channel = (context as HypsContext).getChannel();
      hooks.push({ hook: 'end', transportId, channel, handled: recorder.events.length });
    });
    const client = newClientHyps({ url });
    await client.connect();

    const channels = ['orders.created', 'shipments.eu', 'audit.users.login'];
    for (const [i, channel] of channels.entries()) {
      await lastValueFrom(client.emit(channel, { i }), { defaultValue: undefined });
      await waitFor(() => hooks.length === 2 * (i + 1), 2000);
    }
    expect(recorder.events.map((event) => [event.channel, event.data])).toEqual(
      channels.map((channel, i) => [channel, { i }]),
    );
    // Start before the handler ran, end after it.
    expect(hooks).toEqual(
      channels.flatMap((channel, i) => [
        { hook: 'start', transportId: HYPS_TRANSPORT, channel, handled: i },
        { hook: 'end', transportId: HYPS_TRANSPORT, channel, handled: i + 1 },
      ]),
    );
  });

  it('with hooks installed, answers requests (value, stream, RpcException) and runs the hooks for each', async () => {
    const url = await startBroker();
    const { server } = await startWithHooks(url);
    const hooks: string[] = [];
    server.setOnProcessingStartHook((_transportId, context, done) => {
      hooks.push(`start ${(context as HypsContext).getChannel()}`);
      return done();
    });
    server.setOnProcessingEndHook((_transportId, context) => {
      hooks.push(`end ${(context as HypsContext).getChannel()}`);
    });
    const client = newClientHyps({ url });
    await client.connect();

    await expect(lastValueFrom(client.send('math.sum', [1, 2, 3]))).resolves.toBe(6);
    await expect(lastValueFrom(client.send('count.up', 3).pipe(toArray()))).resolves.toEqual([
      1, 2, 3,
    ]);
    await expect(lastValueFrom(client.send('fail.rpc', {}))).rejects.toMatchObject({
      code: 'E_OUT_OF_STOCK',
    });
    await waitFor(() => hooks.length === 6, 2000);
    expect(hooks).toEqual([
      'start math.sum',
      'end math.sum',
      'start count.up',
      'end count.up',
      'start fail.rpc',
      'end fail.rpc',
    ]);
  });

  it('runs an end hook installed on its own', async () => {
    const url = await startBroker();
    const { recorder, server } = await startWithHooks(url);
    const ends: string[] = [];
    server.setOnProcessingEndHook((_transportId, context) => {
      ends.push((context as HypsContext).getChannel());
    });
    const client = newClientHyps({ url });
    await client.connect();
    await lastValueFrom(client.emit('orders.created', { id: 1 }), { defaultValue: undefined });
    await waitFor(() => ends.length === 1 && recorder.events.length === 1, 2000);
    expect(ends).toEqual(['orders.created']);
    expect(recorder.events[0]!.data).toEqual({ id: 1 });
  });

  describe('event handlers that return an Observable', () => {
    /** What the streams returned by StreamController did, in order. */
    class StreamLog {
      readonly entries: string[] = [];
    }

    @Controller()
    class StreamController {
      constructor(@Inject(StreamLog) private readonly log: StreamLog) {}

      @HypsEventPattern('stream.sync')
      onSync(@Payload() tag: string): Observable<never> {
        return this.stream(`sync ${tag}`);
      }

      @HypsEventPattern('stream.async')
      async onAsync(@Payload() tag: string): Promise<Observable<never>> {
        await sleep(1);
        return this.stream(`async ${tag}`);
      }

      /** Logs when it is subscribed and when it completes (10 ms later). */
      private stream(name: string): Observable<never> {
        return new Observable<never>((subscriber) => {
          this.log.entries.push(`subscribed ${name}`);
          const timer = setTimeout(() => {
            this.log.entries.push(`completed ${name}`);
            subscriber.complete();
          }, 10);
          return () => clearTimeout(timer);
        });
      }
    }

    async function startStreams(url: string) {
      const log = new StreamLog();
      @Module({
        controllers: [StreamController],
        providers: [{ provide: StreamLog, useValue: log }],
      })
      class StreamModule {}
      const server = new ServerHyps({ url, name: 'stream-service' });
      const app = await NestFactory.createMicroservice(StreamModule, {
        strategy: server,
        logger: false,
        abortOnError: false,
      });
      apps.push(app);
      await app.listen();
      return { log, server };
    }

    it('subscribes the returned Observable when no hooks are installed', async () => {
      const url = await startBroker();
      const { log } = await startStreams(url);
      const client = newClientHyps({ url });
      await client.connect();
      client.emit('stream.sync', 'a');
      client.emit('stream.async', 'b');
      await waitFor(() => log.entries.length === 4, 2000);
      expect([...log.entries].sort()).toEqual([
        'completed async b',
        'completed sync a',
        'subscribed async b',
        'subscribed sync a',
      ]);
    });

    it('with hooks installed, runs the end hook once the returned Observable completed', async () => {
      const url = await startBroker();
      const { log, server } = await startStreams(url);
      server.setOnProcessingStartHook((_transportId, context, done) => {
        log.entries.push(`start ${(context as HypsContext).getChannel()}`);
        return done();
      });
      server.setOnProcessingEndHook((_transportId, context) => {
        log.entries.push(`end ${(context as HypsContext).getChannel()}`);
      });
      const client = newClientHyps({ url });
      await client.connect();
      client.emit('stream.sync', 'a');
      await waitFor(() => log.entries.length === 4, 2000);
      client.emit('stream.async', 'b');
      await waitFor(() => log.entries.length === 8, 2000);
      expect(log.entries).toEqual([
        'start stream.sync',
        'subscribed sync a',
        'completed sync a',
        'end stream.sync',
        'start stream.async',
        'subscribed async b',
        'completed async b',
        'end stream.async',
      ]);
    });
  });
});
