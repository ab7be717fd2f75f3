// ServerHyps + ClientHyps against a real in-process broker and a real Nest microservice.
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import type { INestApplicationContext, INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxy, ClientsModule } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { HypsClient } from '../../libs/hyps-transport/src/client/index.js';
import {
  ClientHyps,
  NoRespondersError,
  RequestCancelledError,
  RequestTimeoutError,
  ServerHyps,
} from '../../libs/hyps-transport/src/nest/index.js';
import { HypsError } from '../../libs/hyps-transport/src/protocol/errors.js';
import {
  Recorder,
  RunningBroker,
  sleep,
  startBroker,
  startMicroservice,
  testModule,
  waitFor,
} from './nest-fixtures.js';

describe('ServerHyps and ClientHyps', () => {
  let running: RunningBroker;
  let app: INestMicroservice;
  let recorder: Recorder;
  let server: ServerHyps;
  let client: ClientHyps;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    running = await startBroker();
    ({ app, recorder, server } = await startMicroservice({
      url: running.url,
      name: 'orders-service',
    }));
  });

  beforeEach(async () => {
    client = new ClientHyps({ url: running.url, requestTimeoutMs: 2000 });
    await client.connect();
  });

  afterEach(async () => {
    await client.close();
    recorder.events.length = 0;
  });

  afterAll(async () => {
    await app?.close();
    await running?.broker.close();
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  it('delivers an emitted event to its @HypsEventPattern handler, after the broker acked it', async () => {
    await lastValueFrom(client.emit('orders.created', { id: 1, item: 'widget' }), {
      defaultValue: undefined,
    });
    await waitFor(() => recorder.events.length === 1);
    expect(recorder.events[0]).toEqual({
      handler: 'orders.created',
      channel: 'orders.created',
      pattern: 'orders.created',
      group: 'orders-service',
      data: { id: 1, item: 'widget' },
    });
  });

  it('routes events on concrete channels to the wildcard handler that matched them', async () => {
    client.emit('shipments.eu', 'parcel-1');
    client.emit('audit.users.login', { user: 'ada' });
    client.emit('audit.x', 3);
    await waitFor(() => recorder.events.length === 3);
    const byHandler = recorder.events
      .map((e) => [e.handler, e.channel, e.pattern, e.data])
      .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
    expect(byHandler).toEqual([
      ['audit.>', 'audit.users.login', 'audit.>', { user: 'ada' }],
      ['audit.>', 'audit.x', 'audit.>', 3],
      ['shipments.*', 'shipments.eu', 'shipments.*', 'parcel-1'],
    ]);
  });

  it('connects on the first emit of a client that was never connected', async () => {
    const fresh = new ClientHyps({ url: running.url });
    try {
      await lastValueFrom(fresh.emit('orders.created', { id: 2 }), { defaultValue: undefined });
      await waitFor(() => recorder.events.length === 1);
      expect(recorder.events[0]!.data).toEqual({ id: 2 });
    } finally {
      await fresh.close();
    }
  });

  it('errors the emit Observable with a typed error, and only when nobody listens, quietly', async () => {
    await expect(
      lastValueFrom(client.emit('orders.*', { id: 3 }), { defaultValue: undefined }),
    ).rejects.toMatchObject({ code: 'INVALID_CHANNEL' });
    client.emit('bad..channel', 1); // nobody subscribes: must not become an unhandled rejection
    await expect(
      lastValueFrom(client.emit('orders.created', undefined), { defaultValue: undefined }),
    ).rejects.toThrow(/invalid data or message pattern/);
  });

  it('runs the dispatch hook for events, so metadata reaches the handler context', async () => {
    const seen: unknown[] = [];
    client.setOnDispatchHook((packet) => {
      packet.metadata = { traceId: 'event-7' };
      seen.push(packet.pattern);
    });
    await lastValueFrom(client.emit('orders.created', { id: 4 }), { defaultValue: undefined });
    expect(seen).toEqual(['orders.created']);
  });

  it('answers send() from a @HypsMessagePattern handler', async () => {
    await expect(firstValueFrom(client.send('math.sum', [1, 2, 3, 4]))).resolves.toBe(10);
  });

  it('sends nothing until send() is subscribed (cold), and works before connect()', async () => {
    const fresh = new ClientHyps({ url: running.url });
    try {
      const start = running.broker.stats().published;
      const request = fresh.send('math.sum', [2, 3]);
      await sleep(100);
      expect(running.broker.stats().published).toBe(start);
      await expect(firstValueFrom(request)).resolves.toBe(5);
      const connected = fresh.send('math.sum', [4, 5]);
      const before = running.broker.stats().published;
      await sleep(50);
      expect(running.broker.stats().published).toBe(before);
      await expect(firstValueFrom(connected)).resolves.toBe(9);
    } finally {
      await fresh.close();
    }
  });

  it('runs many concurrent requests over the one inbox, each getting its own answer', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => firstValueFrom(client.send('math.sum', [i, 1000]))),
    );
    expect(answers).toEqual(Array.from({ length: 50 }, (_, i) => i + 1000));
  });

  it('serves requests on wildcard patterns and exposes channel, pattern, group and metadata', async () => {
    client.setOnDispatchHook((packet) => {
      packet.metadata = { traceId: 'trace-42' };
    });
    const reply = await firstValueFrom(client.send('lookup.sku-9', { q: 'x' }));
    expect(reply).toEqual({
      data: { q: 'x' },
      channel: 'lookup.sku-9',
      pattern: 'lookup.*',
      group: 'orders-service',
      metadata: { traceId: 'trace-42' },
    });
  });

  it('streams every value of a handler that returns an Observable, then completes', async () => {
    const values = await lastValueFrom(client.send<number>('count.up', 5).pipe(toArray()));
    expect(values).toEqual([1, 2, 3, 4, 5]);
  });

  it('hands a thrown RpcException to the caller as the error object', async () => {
    await expect(firstValueFrom(client.send('fail.rpc', {}))).rejects.toEqual({
      code: 'E_OUT_OF_STOCK',
      message: 'no more widgets',
    });
  });

  it('fails at once with NoRespondersError when nobody subscribes the channel', async () => {
    const started = Date.now();
    const failure = await firstValueFrom(client.send('nobody.home', 1)).catch((err) => err);
    expect(failure).toBeInstanceOf(NoRespondersError);
    expect(failure).toBeInstanceOf(HypsError);
    expect(failure.code).toBe('NO_RESPONDERS');
    // Not the 2 s request timeout: the broker's "0 receivers" answer ended it.
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('times out with RequestTimeoutError, and ignores the reply that comes too late', async () => {
    const impatient = new ClientHyps({ url: running.url, requestTimeoutMs: 100 });
    try {
      const failure = await firstValueFrom(
        impatient.send('slow.echo', { value: 'late', ms: 300 }),
      ).catch((err) => err);
      expect(failure).toBeInstanceOf(RequestTimeoutError);
      expect(failure.code).toBe('REQUEST_TIMEOUT');
      await waitFor(() => recorder.finished.includes('late'));
      await sleep(50);
      // The same client still works after the late reply was dropped.
      await expect(firstValueFrom(impatient.send('math.sum', [2, 2]))).resolves.toBe(4);
    } finally {
      await impatient.close();
    }
  });

  it('fails requests still in flight with RequestCancelledError when the client closes', async () => {
    const inFlight = firstValueFrom(client.send('slow.echo', { value: 'cancelled', ms: 200 }));
    await waitFor(() => recorder.started.includes('cancelled'));
    await client.close();
    await expect(inFlight).rejects.toBeInstanceOf(RequestCancelledError);
    await waitFor(() => recorder.finished.includes('cancelled'));
    // The server's reply to the closed inbox must not break anything.
    await sleep(30);
    await expect(firstValueFrom(client.send('math.sum', [1, 1]))).resolves.toBe(2);
  });

  it('reports status (observable and on()) and exposes the HypsClient through unwrap()', async () => {
    const proxy = new ClientHyps({ url: running.url });
    const seen: string[] = [];
    proxy.on('status', (status) => seen.push(status));
    try {
      expect(() => proxy.unwrap()).toThrow(/connect/);
      await proxy.connect();
      await expect(firstValueFrom(proxy.status)).resolves.toBe('connected');
      expect(proxy.unwrap<HypsClient>()).toBeInstanceOf(HypsClient);
    } finally {
      await proxy.close();
    }
    expect(seen).toContain('closed');
    await expect(firstValueFrom(proxy.status)).resolves.toBe('closed');
    await expect(firstValueFrom(server.status)).resolves.toBe('connected');
    expect(server.unwrap<HypsClient>()).toBeInstanceOf(HypsClient);
  });

  it('works as a ClientsModule customClass and can share an existing HypsClient', async () => {
    const shared = new HypsClient({ url: running.url });
    await shared.connect();

    @Injectable()
    class Caller {
      constructor(
        @Inject('ORDERS') readonly orders: ClientProxy,
        @Inject('SHARED') readonly viaShared: ClientProxy,
      ) {}
    }

    @Module({
      imports: [
        ClientsModule.register([
          { name: 'ORDERS', customClass: ClientHyps, options: { url: running.url } },
          { name: 'SHARED', customClass: ClientHyps, options: { client: shared } },
        ]),
      ],
      providers: [Caller],
    })
    class CallerModule {}

    let context: INestApplicationContext | undefined;
    try {
      context = await NestFactory.createApplicationContext(CallerModule, {
        logger: false,
        abortOnError: false,
      });
      const caller = context.get(Caller);
      expect(caller.orders).toBeInstanceOf(ClientHyps);
      await expect(firstValueFrom(caller.orders.send('math.sum', [20, 22]))).resolves.toBe(42);
      await expect(firstValueFrom(caller.viaShared.send('math.sum', [1, 2]))).resolves.toBe(3);
      expect(caller.viaShared.unwrap()).toBe(shared);
    } finally {
      await context?.close();
    }
    // Closing the app closed the ClientHyps but left the shared connection to its owner.
    expect(shared.status).toBe('connected');
    await shared.close();
  });
});

describe('ServerHyps lifecycle', () => {
  it('rejects listen() when the broker cannot be reached', async () => {
    const gone = await startBroker();
    await gone.broker.close();
    const server = new ServerHyps({ url: gone.url, reconnect: false, connectTimeoutMs: 500 });
    const app = await NestFactory.createMicroservice(testModule(new Recorder()), {
      strategy: server,
      logger: false,
      abortOnError: false,
    });
    try {
      const failure = await app.listen().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(HypsError);
      expect(() => server.unwrap()).toThrow(/listen/);
    } finally {
      await app.close();
    }
  });

  it('stops late replies cleanly when requests are in flight', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const running = await startBroker();
    const { app, recorder } = await startMicroservice({ url: running.url });
    const client = new ClientHyps({ url: running.url, requestTimeoutMs: 400 });
    let appClosed = false;
    try {
      const pending = [1, 2, 3].map((i) =>
        firstValueFrom(client.send('slow.echo', { value: `v${i}`, ms: 150 })).catch((err) => err),
      );
      await waitFor(() => recorder.started.length === 3);
      await app.close();
      appClosed = true;
      const outcomes = await Promise.all(pending);
      // The handlers finished after close, but no reply was published: every request timed out.
      expect(recorder.finished.sort()).toEqual(['v1', 'v2', 'v3']);
      for (const outcome of outcomes) expect(outcome).toBeInstanceOf(RequestTimeoutError);
      expect(unhandled).toEqual([]);
    } finally {
      await client.close();
      if (!appClosed) await app.close();
      await running.broker.close();
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
