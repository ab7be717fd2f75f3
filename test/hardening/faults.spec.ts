// Fault tests (issue 6, item 4), with the real HypsClient: the broker process is SIGKILLed under
// load and restarted on the same port; silent clients are found by keepalive and cleaned up; a
// SIGTERM drain under load delivers every acknowledged publish. Spawned tests run the BUILT
// broker (`npm run build`).
import {
  HypsClient,
  type HypsClientOptions,
  type HypsStatus,
} from '../../libs/hyps-transport/src/index.js';
import { useBrokers } from '../component/helpers/broker-fixture.js';
import { spawnBroker, type SpawnedBroker } from '../e2e/helpers/spawn-broker.js';
import { sleep, waitFor } from './helpers/bounded.js';
import { Canary, expectHealthyCanary } from './helpers/canary.js';
import { PublishLoop, Received } from './helpers/client-load.js';

/** Bound on every publish promise settling once the load stops: none may hang. */
const SETTLE_BOUND_MS = 15_000;

/** Clients, publish loops and a spawned broker, all stopped after each test. */
function useLoad(): { clients: HypsClient[]; loops: PublishLoop[]; broker?: SpawnedBroker } {
  const load: { clients: HypsClient[]; loops: PublishLoop[]; broker?: SpawnedBroker } = {
    clients: [],
    loops: [],
  };
  afterEach(async () => {
    await Promise.all(load.loops.splice(0).map((l) => l.stop()));
    await Promise.all(load.clients.splice(0).map((c) => c.close()));
    await load.broker?.kill();
    load.broker = undefined;
  });
  return load;
}

function statusLog(client: HypsClient): HypsStatus[] {
  const log: HypsStatus[] = [];
  client.on('status', (status) => log.push(status));
  return log;
}

describe('broker killed with SIGKILL under load, restarted on the same port', () => {
  const load = useLoad();
  const { clients, loops } = load;

  it('settles every publish, reconnects, re-subscribes and resumes delivery, three times over', async () => {
    const KILLS = 3;
    load.broker = await spawnBroker();
    const port = load.broker.port;
    const options: HypsClientOptions = {
      url: `hyps://127.0.0.1:${port}`,
      reconnectDelayMs: 50,
      maxReconnectDelayMs: 250,
      pendingPublishTimeoutMs: 4_000,
    };
    const client = async (name: string): Promise<HypsClient> => {
      const c = new HypsClient({ ...options, name });
      clients.push(c);
      await c.connect();
      return c;
    };
    const subscriber = await client('subscriber');
    const subscriberStatus = statusLog(subscriber);
    const received = await Received.on(subscriber, 'load.>');
    const publishers = await Promise.all([client('p0'), client('p1')]);
    loops.push(...publishers.map((p, i) => new PublishLoop(p, `load.p${i}`)));

    const perRound: string[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      const before = received.total;
      await waitFor(() => received.total >= before + 200, 10_000, 'load to flow');
      const killed = await load.broker.kill();
      expect(killed.signal).toBe('SIGKILL');
      await sleep(200); // publishing continues into the outage: those are held by the clients
      load.broker = await spawnBroker([], {
        baseArgs: ['--host', '127.0.0.1', '--port', String(port)],
      });
      await waitFor(
        () => [subscriber, ...publishers].every((c) => c.status === 'connected'),
        10_000,
        'every client to reconnect',
      );
      // The new broker knows nothing: deliveries mean the subscriber subscribed again.
      const resumedFrom = received.total;
      await waitFor(() => received.total >= resumedFrom + 200, 10_000, 'delivery to resume');
      perRound.push(`kill ${kill}: ${before} -> ${resumedFrom} -> ${received.total}`);
    }

    for (const loop of loops) await loop.stop();
    const settled = await Promise.all(loops.map((l) => l.settle(SETTLE_BOUND_MS)));
    const published = loops.reduce((n, l) => n + l.published, 0);
    console.log(
      `SIGKILL: ${KILLS} kills survived; ${published} publishes: ` +
        settled
          .map(
            (s, i) =>
              `p${i} ${s.fulfilled} acked, ${s.rejected} rejected ${JSON.stringify(s.reasons)}`,
          )
          .join('; ') +
        `; the broker acknowledged ${loops.reduce((n, l) => n + l.deliveries, 0)} deliveries, ` +
        `the subscriber received ${received.total} (${perRound.join('; ')})`,
    );
    for (const s of settled) expect(s.pending).toBe(0);
    // Each outage shows in the status: connected -> reconnecting -> connected, once per kill.
    expect(subscriberStatus.filter((s) => s === 'reconnecting')).toHaveLength(KILLS);
    expect(subscriber.status).toBe('connected');
    // At most once: nothing was delivered twice, and every delivery was published.
    expect(received.duplicates).toBe(0);
    expect(received.errors).toEqual([]);
    for (const [i, loop] of loops.entries()) {
      const seqs = received.byChannel.get(`load.p${i}`) ?? [];
      expect(seqs.every((s) => s >= 1 && s <= loop.published)).toBe(true);
    }
    // And after it all, a fresh publish reaches the subscriber.
    await publishers[0]!.publish('load.final', 'after the storm');
    await waitFor(() => received.byChannel.has('load.final'), 5_000, 'the final record');
  }, 90_000);
});

describe('keepalive finds silent clients', () => {
  const brokers = useBrokers();
  let canary: Canary | undefined;
  let hyps: HypsClient | undefined;
  afterEach(async () => {
    await canary?.stop();
    await hyps?.close();
  });

  it('closes a paused connection and one that never answers PING with ERR 7; a live client stays', async () => {
    const PING_MS = 100;
    const b = await brokers.start({ pingIntervalMs: PING_MS });
    canary = await Canary.start({ port: b.port });
    hyps = new HypsClient({ url: `hyps://127.0.0.1:${b.port}`, reconnect: false });
    const statuses = statusLog(hyps);
    await hyps.connect();
    const echo = await Received.on(hyps, 'alive.>');

    // Goes silent entirely: stops reading (and so never answers PING).
    const paused = await b.client();
    paused.pause();
    // Reads everything, answers nothing.
    const mute = await b.client();
    expect(b.broker.stats().connections).toBe(4);

    await mute.fatal(7, 20 * PING_MS);
    expect(mute.types().filter((t) => t === 'ping').length).toBe(2);
    // The paused one is cleaned up on the broker side, although it never reads its ERR.
    await waitFor(() => b.broker.stats().connections === 2, 10_000, 'the silent connections to go');
    expect(b.broker.stats().errors[7]).toBe(2);
    paused.resume();
    await paused.waitClosed(5_000);

    // Over the same 20+ ping intervals the HypsClient answered every PING and never dropped.
    await hyps.publish('alive.check', '1');
    await waitFor(() => echo.total === 1, 5_000, 'the echo');
    expect(statuses).toEqual(['connecting', 'connected']);
    await canary.proveAlive();
    expectHealthyCanary(await canary.stop());
    canary = undefined;
  });
});

describe('SIGTERM drain under load', () => {
  const load = useLoad();
  const { clients, loops } = load;

  it('delivers every acknowledged publish to each connected fast subscriber, then exits 0', async () => {
    load.broker = await spawnBroker(['--shutdown-timeout-ms', '5000']);
    const options: HypsClientOptions = {
      url: `hyps://127.0.0.1:${load.broker.port}`,
      reconnect: false,
      pendingPublishTimeoutMs: 1_000,
    };
    const client = async (): Promise<HypsClient> => {
      const c = new HypsClient(options);
      clients.push(c);
      await c.connect();
      return c;
    };
    const subscribers = await Promise.all([client(), client(), client()]);
    const received = await Promise.all(subscribers.map((s) => Received.on(s, 'drain.>')));
    const publishers = await Promise.all([client(), client()]);
    loops.push(...publishers.map((p, i) => new PublishLoop(p, `drain.p${i}`, { perTick: 10 })));
    await waitFor(() => received.every((r) => r.total >= 1_000), 10_000, 'load to flow');

    const exit = await load.broker.stop(10_000); // SIGTERM: drain
    load.broker = undefined;
    for (const loop of loops) await loop.stop();
    const settled = await Promise.all(loops.map((l) => l.settle(SETTLE_BOUND_MS)));

    console.log(
      `SIGTERM drain: exit ${JSON.stringify(exit)}; ` +
        loops
          .map(
            (l, i) =>
              `p${i} published ${l.published}, acked ${l.acked.length}, ` +
              `rejected ${settled[i]!.rejected} ${JSON.stringify(settled[i]!.reasons)}`,
          )
          .join('; ') +
        '; received ' +
        received.map((r) => r.total).join(', '),
    );
    expect(exit).toEqual({ code: 0, signal: null });
    for (const s of settled) expect(s.pending).toBe(0);
    for (const [i, loop] of loops.entries()) {
      const channel = `drain.p${i}`;
      for (const r of received) {
        const missing = loop.acked.filter((seq) => !r.has(channel, seq));
        expect({ channel, acked: loop.acked.length, missing }).toEqual({
          channel,
          acked: loop.acked.length,
          missing: [],
        });
      }
    }
    for (const r of received) expect(r.duplicates).toBe(0);
  }, 60_000);
});
