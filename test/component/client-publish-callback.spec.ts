// HypsClient#publish(channel, data, callback): the promise-free form. The callback is called
// exactly once, never synchronously, with (null, { receivers }) or (error).
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import {
  ClientClosedError,
  ConnectionClosedError,
  FrameTooLargeError,
  HypsClient,
  InvalidChannelError,
  PendingQueueFullError,
  PublishTimeoutError,
  type HypsClientOptions,
  type HypsMessage,
  type PublishResult,
} from '@hyps/transport';
import { useBrokers } from './helpers/broker-fixture.js';
import { waitFor } from './helpers/wait.js';

type Call = [error: Error | null, result: PublishResult | undefined];

/** One callback publish: every call it got, and whether one came before publish() returned. */
interface CallbackPublish {
  readonly calls: Call[];
  synchronous: boolean;
  /** The first call, or a rejection after `timeoutMs`. */
  first(timeoutMs?: number): Promise<Call>;
}

function publishWithCallback(
  client: HypsClient,
  channel: string,
  data: string | Uint8Array,
  onCall?: (call: Call) => void,
): CallbackPublish {
  let returned = false;
  const waiters: Array<() => void> = [];
  const record: CallbackPublish = {
    calls: [],
    synchronous: false,
    first: (timeoutMs = 2000) =>
      new Promise<Call>((resolve, reject) => {
        if (record.calls.length > 0) return resolve(record.calls[0]!);
        const timer = setTimeout(
          () => reject(new Error(`no callback for ${channel} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push(() => {
          clearTimeout(timer);
          resolve(record.calls[0]!);
        });
      }),
  };
  client.publish(channel, data, (error, result) => {
    if (!returned) record.synchronous = true;
    const call: Call = [error, result];
    record.calls.push(call);
    onCall?.(call);
    for (const wake of waiters.splice(0)) wake();
  });
  returned = true;
  return record;
}

/** Lets a few ticks, microtasks and timers pass: room for a second (wrong) callback call. */
const settleTime = () => new Promise((resolve) => setTimeout(resolve, 30));

const clients: HypsClient[] = [];
const silentServers: Array<{ server: Server; sockets: Set<Socket> }> = [];

// Declared before useBrokers() so that it runs first: clients close before their broker does.
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const { server, sockets } of silentServers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
const brokers = useBrokers();

function newClient(options: HypsClientOptions): HypsClient {
  const client = new HypsClient({ reconnect: false, ...options });
  clients.push(client);
  return client;
}

async function startBroker(options: Parameters<typeof brokers.start>[0] = {}) {
  const running = await brokers.start(options);
  return { broker: running.broker, url: `hyps://127.0.0.1:${running.port}` };
}

async function connected(url: string, options: HypsClientOptions = {}): Promise<HypsClient> {
  const client = newClient({ url, ...options });
  await client.connect();
  return client;
}

/**
 * A TCP server that accepts and never says a word: a client pointed at it stays in its handshake
 * (not connected) until connectTimeoutMs, so its publishes are held.
 */
async function startSilentServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  silentServers.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `hyps://127.0.0.1:${address.port}`;
}

/** The publish was refused: one call with an error of `type` and no result, not synchronous. */
async function expectRefused(
  record: ReturnType<typeof publishWithCallback>,
  type: new (...args: never[]) => Error,
): Promise<void> {
  const [error, result] = await record.first();
  expect(record.synchronous).toBe(false);
  expect(error).toBeInstanceOf(type);
  expect(result).toBeUndefined();
}

/** A publisher, and a subscriber of `channel` whose SUB is acknowledged, with what it got. */
async function subscribedPair(url: string, channel: string) {
  const subscriber = await connected(url);
  const publisher = await connected(url);
  const got: HypsMessage[] = [];
  const source = subscriber.subscribe(channel);
  source.subscribe((message) => got.push(message));
  await source.ready;
  return { subscriber, publisher, got };
}

describe('HypsClient publish with a callback', () => {
  it('calls back (null, { receivers }) with 1 for a subscribed channel and 0 for another', async () => {
    const { url } = await startBroker();
    const { publisher, got } = await subscribedPair(url, 'cb.one');

    const one = publishWithCallback(publisher, 'cb.one', 'hello');
    const none = publishWithCallback(publisher, 'cb.none', 'nobody');
    expect(await one.first()).toEqual([null, { receivers: 1 }]);
    expect(await none.first()).toEqual([null, { receivers: 0 }]);
    expect(one.synchronous).toBe(false);
    expect(none.synchronous).toBe(false);
    await waitFor(() => got.length === 1);
    expect(got[0]!.channel).toBe('cb.one');
    expect(got[0]!.text()).toBe('hello');
  });

  it('calls each callback exactly once, in publish order, and never before publish() returned', async () => {
    const { url } = await startBroker();
    const subscriber = await connected(url);
    const publisher = await connected(url);
    const source = subscriber.subscribe('cb.order');
    source.subscribe();
    await source.ready;

    const order: number[] = [];
    // Half to a channel with a subscriber, half to one without.
    const records = Array.from({ length: 300 }, (_, i) =>
      publishWithCallback(publisher, i % 2 ? 'cb.order' : 'cb.empty', `m${i}`, () => order.push(i)),
    );
    await waitFor(() => records.every((record) => record.calls.length > 0));
    // A later publish is answered after every earlier one: a second call would have come by now.
    await expect(publisher.publish('cb.order', 'marker')).resolves.toEqual({ receivers: 1 });
    await settleTime();
    for (const [i, record] of records.entries()) {
      expect(record.synchronous).toBe(false);
      expect(record.calls).toEqual([[null, { receivers: i % 2 }]]);
    }
    expect(order).toEqual(records.map((_, i) => i));
  });

  it('reports an invalid channel as InvalidChannelError through the callback, on a later tick', async () => {
    const { broker, url } = await startBroker();
    const client = await connected(url);
    for (const channel of ['', 'a..b', 'orders.*', 'orders.>', 'has space']) {
      await expectRefused(publishWithCallback(client, channel, 'x'), InvalidChannelError);
    }
    // Nothing reached the broker, and the connection is fine.
    await expect(client.publish('valid.channel', 'ok')).resolves.toEqual({ receivers: 0 });
    expect(broker.stats().published).toBe(1);
    expect(client.status).toBe('connected');
  });

  it('reports data that is neither a string nor bytes as TypeError through the callback', async () => {
    const { broker, url } = await startBroker();
    const client = await connected(url);
    for (const value of [42, null, {}, ['a']]) {
      const data = value as unknown as string;
      await expectRefused(publishWithCallback(client, 'cb.data', data), TypeError);
    }
    await expect(client.publish('cb.data', 'ok')).resolves.toEqual({ receivers: 0 });
    expect(broker.stats().published).toBe(1);
  });

  it('reports a record over the broker frame limit as FrameTooLargeError through the callback', async () => {
    const { broker, url } = await startBroker({ maxFrameBytes: 1024 });
    const client = await connected(url);
    const record = publishWithCallback(client, 'cb.big', 'x'.repeat(2048));
    const [error] = await record.first();
    expect(record.synchronous).toBe(false);
    expect(error).toBeInstanceOf(FrameTooLargeError);
    await expect(client.publish('cb.big', 'small')).resolves.toEqual({ receivers: 0 });
    expect(broker.stats().published).toBe(1);
  });

  it('throws TypeError synchronously for a callback that is not a function, sending nothing', async () => {
    const { broker, url } = await startBroker();
    const client = await connected(url);
    for (const callback of ['not a function', 42, {}, null]) {
      expect(() =>
        client.publish('cb.bad', 'x', callback as unknown as (error: Error | null) => void),
      ).toThrow(TypeError);
    }
    await expect(client.publish('cb.bad', 'ok')).resolves.toEqual({ receivers: 0 });
    expect(broker.stats().published).toBe(1);
  });

  it('calls back ClientClosedError after close(), and ConnectionClosedError for one in flight', async () => {
    const { url } = await startBroker();
    const client = await connected(url);
    const inFlight = publishWithCallback(client, 'cb.closing', 'x');
    await client.close();
    const [inFlightError] = await inFlight.first();
    expect(inFlightError).toBeInstanceOf(ConnectionClosedError);

    const after = publishWithCallback(client, 'cb.closed', 'y');
    const [error, result] = await after.first();
    expect(after.synchronous).toBe(false);
    expect(error).toBeInstanceOf(ClientClosedError);
    expect(result).toBeUndefined();
    await settleTime();
    expect(inFlight.calls).toHaveLength(1);
    expect(after.calls).toHaveLength(1);
  });

  it('drain() resolves only after every callback publish was acknowledged', async () => {
    const { url } = await startBroker();
    const { publisher, got } = await subscribedPair(url, 'cb.drain');

    const records = Array.from({ length: 2000 }, (_, i) =>
      publishWithCallback(publisher, 'cb.drain', `m${i}`),
    );
    await publisher.drain();
    // Had drain closed early, the rest would have failed with ConnectionClosedError.
    expect(records.every((record) => record.calls.length === 1)).toBe(true);
    expect(records.every((record) => record.calls[0]![0] === null)).toBe(true);
    expect(records.every((record) => record.calls[0]![1]?.receivers === 1)).toBe(true);
    expect(publisher.status).toBe('closed');
    await waitFor(() => got.length === 2000);
  });

  describe('while disconnected', () => {
    it('holds a callback publish made before connect() and calls back once connected', async () => {
      const { url } = await startBroker();
      const subscriber = await connected(url);
      const got: HypsMessage[] = [];
      const source = subscriber.subscribe('cb.held');
      source.subscribe((message) => got.push(message));
      await source.ready;

      const client = newClient({ url });
      const record = publishWithCallback(client, 'cb.held', 'early');
      expect(record.synchronous).toBe(false);
      expect(await record.first()).toEqual([null, { receivers: 1 }]);
      expect(client.status).toBe('connected');
      await waitFor(() => got.length === 1);
      expect(got[0]!.text()).toBe('early');
      await settleTime();
      expect(record.calls).toHaveLength(1);
    });

    it('calls back PendingQueueFullError past pendingPublishLimit, on a later tick', async () => {
      const url = await startSilentServer();
      const client = newClient({ url, pendingPublishLimit: 2, connectTimeoutMs: 5000 });
      const held = [
        publishWithCallback(client, 'cb.a', '1'),
        publishWithCallback(client, 'cb.b', '2'),
      ];
      const refused = publishWithCallback(client, 'cb.c', '3');
      const [error] = await refused.first();
      expect(refused.synchronous).toBe(false);
      expect(error).toBeInstanceOf(PendingQueueFullError);
      // The two held ones are still waiting; close() fails them once each.
      expect(held.map((record) => record.calls.length)).toEqual([0, 0]);
      await client.close();
      for (const record of held) {
        const [heldError] = await record.first();
        expect(heldError).toBeInstanceOf(ConnectionClosedError);
        expect(record.synchronous).toBe(false);
      }
      await settleTime();
      expect([...held, refused].map((record) => record.calls.length)).toEqual([1, 1, 1]);
    });

    it('calls back PublishTimeoutError once pendingPublishTimeoutMs passed without a connection', async () => {
      const url = await startSilentServer();
      const client = newClient({ url, pendingPublishTimeoutMs: 100, connectTimeoutMs: 5000 });
      const record = publishWithCallback(client, 'cb.late', 'x');
      const [error, result] = await record.first(2000);
      expect(record.synchronous).toBe(false);
      expect(error).toBeInstanceOf(PublishTimeoutError);
      expect(result).toBeUndefined();
      expect(client.status).toBe('connecting');
      await settleTime();
      expect(record.calls).toHaveLength(1);
    });
  });

  // Jest gives each test file its own `process` object, and its own handler on the real one
  // turns any uncaught exception into a test failure, so a listener added here never sees the
  // rethrown error. A child `node` process (loading the TypeScript source through @swc/core)
  // runs the scenario with a plain process.on('uncaughtException') and reports back as JSON.
  describe('a callback that throws (checked in a child node process)', () => {
    // What both scenarios must report: all three callbacks, once each, in order; the throw
    // surfaced as an uncaught exception; the connection still up and carrying messages.
    const expected: ThrowingCallbackReport = {
      results: [
        ['a', null, 1],
        ['b', null, 1],
        ['c', null, 1],
      ],
      uncaught: ['callback boom'],
      statusAfter: 'connected',
      afterPublish: { receivers: 1 },
      received: ['1', '2', '3', 'after'],
    };

    it('does not skip the other callbacks of its batch nor break the connection; the throw is uncaught', async () => {
      const { url } = await startBroker();
      expect(await runThrowingCallbackScenario(url, 'connected')).toEqual(expected);
    });

    it('does the same for publishes that were held until connect()', async () => {
      const { url } = await startBroker();
      expect(await runThrowingCallbackScenario(url, 'held')).toEqual(expected);
    });

    // Held publishes that fail without a connection: the throw must not skip the others either
    // (nor escape from close(), nor stop the expiry timer).
    const failedWhileHeld = (errorName: string): ThrowingCallbackReport => ({
      results: [
        ['a', errorName, null],
        ['b', errorName, null],
        ['c', errorName, null],
      ],
      uncaught: ['callback boom'],
      statusAfter: errorName === 'PublishTimeoutError' ? 'connecting' : 'closed',
      afterPublish: null,
      received: [],
    });

    it('does not stop the other held publishes from timing out', async () => {
      const { url } = await startBroker();
      expect(await runThrowingCallbackScenario(url, 'expired')).toEqual(
        failedWhileHeld('PublishTimeoutError'),
      );
    });

    it('does not escape from close() nor skip the other held publishes it fails', async () => {
      const { url } = await startBroker();
      expect(await runThrowingCallbackScenario(url, 'closed')).toEqual(
        failedWhileHeld('ConnectionClosedError'),
      );
    });
  });
});

interface ThrowingCallbackReport {
  /** [name, error name or null, receivers or null] per callback call, in call order. */
  results: Array<[string, string | null, number | null]>;
  /** Messages of the uncaught exceptions the child saw. */
  uncaught: string[];
  statusAfter: string;
  afterPublish: unknown;
  received: string[];
  failure?: string;
}

const CLIENT_SOURCE = new URL('../../libs/hyps-transport/src/client/index.ts', import.meta.url)
  .href;
const SWC = new URL('../../node_modules/@swc/core/index.js', import.meta.url).href;

/** Module hooks for the child: `.ts` sources transpiled by @swc/core, `./x.js` found as `./x.ts`. */
const TS_HOOKS = `
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import swc from '${SWC}';
export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (parent?.endsWith('.ts') && /^\\.\\.?\\//.test(specifier) && specifier.endsWith('.js')) {
    const ts = new URL(specifier.slice(0, -3) + '.ts', parent);
    if (existsSync(fileURLToPath(ts))) return { url: ts.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const filename = fileURLToPath(url);
  const { code } = swc.transformSync(readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
`;

type Scenario = 'connected' | 'held' | 'expired' | 'closed';

/**
 * The child: three callback publishes in one batch, the middle callback throwing.
 * - connected: on a live connection (one OK frame answers the batch);
 * - held: made before connect(), sent when the connection is ready;
 * - expired / closed: held by a client whose broker never answers (a silent TCP server), until
 *   pendingPublishTimeoutMs passes / until close().
 * A subscriber client on the real broker records deliveries. Every wait is bounded; the report is
 * the last stdout line whatever happened.
 */
const THROWING_CALLBACK_SCRIPT = `
import { createServer } from 'node:net';
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(process.env.HYPS_TS_HOOKS));
const { HypsClient } = await import(process.env.HYPS_CLIENT_SOURCE);
const url = process.env.HYPS_URL;
const scenario = process.env.HYPS_SCENARIO;
const report = { results: [], uncaught: [], statusAfter: '', afterPublish: null, received: [] };
process.on('uncaughtException', (error) => report.uncaught.push(error.message));
const waitFor = async (condition, what, timeoutMs) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
const silent = createServer(() => undefined);
await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
const held = scenario === 'expired' || scenario === 'closed';
const subscriber = new HypsClient({ url, reconnect: false });
const publisher = new HypsClient({
  url: held ? 'hyps://127.0.0.1:' + silent.address().port : url,
  reconnect: false,
  connectTimeoutMs: 5000,
  pendingPublishTimeoutMs: scenario === 'expired' ? 50 : 5000,
});
try {
  await subscriber.connect();
  const source = subscriber.subscribe('cb.>');
  source.subscribe({ next: (message) => report.received.push(message.text()), error: () => {} });
  await source.ready;
  if (scenario === 'connected') await publisher.connect();
  const record = (name) => (error, result) =>
    report.results.push([name, error ? error.name : null, result ? result.receivers : null]);
  publisher.publish('cb.a', '1', record('a'));
  publisher.publish('cb.b', '2', (error, result) => {
    record('b')(error, result);
    throw new Error('callback boom');
  });
  publisher.publish('cb.c', '3', record('c'));
  if (scenario === 'held') await publisher.connect();
  if (scenario === 'closed') {
    try {
      await publisher.close();
    } catch (error) {
      throw new Error('close() threw ' + error);
    }
  }
  await waitFor(() => report.results.length >= 3, 'the three callbacks', 1000);
  await waitFor(() => report.uncaught.length >= 1, 'the rethrown error', 1000);
  report.statusAfter = publisher.status;
  if (!held) {
    report.afterPublish = await publisher.publish('cb.d', 'after');
    await waitFor(() => report.received.length >= 4, 'four deliveries', 2000);
  }
} catch (error) {
  report.statusAfter ||= publisher.status;
  report.failure = String(error);
}
await Promise.race([
  Promise.all([publisher.close(), subscriber.close()]).catch(() => undefined),
  new Promise((resolve) => setTimeout(resolve, 1000)),
]);
process.stdout.write(JSON.stringify(report) + '\\n');
process.exit(0);
`;

function runThrowingCallbackScenario(
  url: string,
  scenario: Scenario,
): Promise<ThrowingCallbackReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', THROWING_CALLBACK_SCRIPT], {
      env: {
        ...process.env,
        HYPS_TS_HOOKS: TS_HOOKS,
        HYPS_CLIENT_SOURCE: CLIENT_SOURCE,
        HYPS_URL: url,
        HYPS_SCENARIO: scenario,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as ThrowingCallbackReport);
      } catch {
        reject(
          new Error(`child exited (${code ?? signal}) without a report:\n${stdout}\n${stderr}`),
        );
      }
    });
  });
}
