// Nest microservice transports side by side: Hyps vs Redis vs NATS.
//
//   npm run build && node bench/nest-transports.mjs
//
// For each transport a worker process of its own starts a real Nest microservice (one
// @EventPattern and one @MessagePattern handler) and a ClientProxy, and the broker as a separate
// process (Hyps broker, redis-server, nats-server on free 127.0.0.1 ports); this process asks the
// workers in turn to measure:
//   events/s      ClientProxy.emit -> @EventPattern handler, counting handled events, with 1 and
//                 100 events in flight (emitted and not yet handled)
//   round trips/s ClientProxy.send -> @MessagePattern reply, 1 and 100 requests in flight
// Each measurement runs BENCH_SECONDS (default 3) and is repeated BENCH_REPEATS (default 5)
// times; the table shows the median and the spread ((max - min) / median); BENCH_VERBOSE=1
// also prints every run.
import { fork, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxyFactory, EventPattern, MessagePattern, Transport } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { ClientHyps, ServerHyps } from '@hyps/transport';
import { ownCpuSeconds, pinPrefix, pinSelf, processCpuSeconds } from './lib/machine.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
/** BENCH_ONLY=hyps,redis limits the columns (e.g. for profiling one transport). */
const ONLY = process.env.BENCH_ONLY?.toLowerCase().split(',');
/** BENCH_MODES=events (or round, or a whole row name such as 'events/s c=100') limits the rows. */
const MODES_ONLY = process.env.BENCH_MODES?.toLowerCase().split(',');
const CONCURRENCIES = [1, 100];
/** The brokers run on this CPU, each transport's app worker on the other; BENCH_PIN=0: no pinning. */
const PIN = process.env.BENCH_PIN !== '0';
const BROKER_CPU = 0;
const APP_CPU = 1;
/** An event not handled within this long is counted as lost and no longer holds a slot. */
const LOST_AFTER_MS = 2000;
/** Hard bound on the whole run. */
const OVERALL_TIMEOUT_MS = 15 * 60 * 1000;

// ---------------------------------------------------------------- the microservice under test

/**
 * The event load: a fixed number of events in flight, each handled event emitting the next one
 * (callbacks only, so the harness adds little to what is measured). An emit that fails also
 * starts the next; an event that never arrives is counted lost after the run.
 */
const events = { client: null, running: false, emitted: 0, handled: 0, failed: 0, lost: 0 };
const onEmitFailed = {
  error: () => {
    events.failed++;
    if (events.running) emitNextEvent();
  },
};

function emitNextEvent() {
  events.emitted++;
  events.client.emit('bench.event', { i: events.emitted }).subscribe(onEmitFailed);
}

class BenchController {
  onEvent() {
    events.handled++;
    if (events.running) emitNextEvent();
  }

  onRequest(data) {
    return data;
  }
}
// Plain .mjs has no decorator syntax: apply Nest's decorators by hand.
const proto = BenchController.prototype;
for (const [key, decorator] of [
  ['onEvent', EventPattern('bench.event')],
  ['onRequest', MessagePattern('bench.request')],
]) {
  decorator(proto, key, Object.getOwnPropertyDescriptor(proto, key));
}
Controller()(BenchController);
class BenchModule {}
Module({ controllers: [BenchController] })(BenchModule);

// ---------------------------------------------------------------- broker processes

const children = new Set();

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function hasBinary(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await sleep(50);
  }
}

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

async function startProcess(name, command, args) {
  // From the repo root, so the Hyps broker script resolves '@hyps/transport' (the built package).
  // Pinned to CPU 0, the app workers to CPU 1: one core each, as in the other benchmarks.
  const pinned = [...(PIN ? pinPrefix(BROKER_CPU) : []), command, ...args];
  const child = spawn(pinned[0], pinned.slice(1), {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
  child.once('exit', (code) => {
    children.delete(child);
    if (!child.stopping && code !== 0 && code !== null) {
      console.error(`${name} exited with ${code}: ${stderr}`);
    }
  });
  return child;
}

function stopProcess(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.stopping = true;
    child.kill('SIGTERM');
  });
}

// The Hyps broker runs in its own process, like redis-server and nats-server, so that no
// column shares its broker's CPU with the Nest apps.
const HYPS_BROKER_SCRIPT = `
  const { Broker } = await import('@hyps/transport');
  const broker = new Broker({ host: '127.0.0.1', port: Number(process.argv[1]) });
  await broker.listen();
  const stop = () => broker.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
`;

const TRANSPORTS = [
  {
    name: 'Hyps',
    available: () => true,
    async start(port) {
      return startProcess('hyps broker', process.execPath, [
        '--input-type=module',
        '-e',
        HYPS_BROKER_SCRIPT,
        String(port),
      ]);
    },
    server: (port) => ({ strategy: new ServerHyps({ url: `hyps://127.0.0.1:${port}` }) }),
    client: (port) => new ClientHyps({ url: `hyps://127.0.0.1:${port}` }),
  },
  {
    name: 'Redis',
    available: () => hasBinary('redis-server'),
    hint: 'install redis-server (apt-get install redis-server)',
    start: (port) =>
      startProcess('redis-server', 'redis-server', [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
      ]),
    server: (port) => ({ transport: Transport.REDIS, options: { host: '127.0.0.1', port } }),
    client: (port) =>
      ClientProxyFactory.create({
        transport: Transport.REDIS,
        options: { host: '127.0.0.1', port },
      }),
  },
  {
    name: 'NATS',
    available: () => hasBinary('nats-server'),
    hint: 'install nats-server (apt-get install nats-server, or a release from github.com/nats-io/nats-server)',
    start: (port) =>
      startProcess('nats-server', 'nats-server', ['-a', '127.0.0.1', '-p', String(port)]),
    server: (port) => ({
      transport: Transport.NATS,
      options: { servers: [`nats://127.0.0.1:${port}`] },
    }),
    client: (port) =>
      ClientProxyFactory.create({
        transport: Transport.NATS,
        options: { servers: [`nats://127.0.0.1:${port}`] },
      }),
  },
];

// ---------------------------------------------------------------- measurements

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts counting completed operations and CPU; the returned function ends the interval with
 * operations per second and the CPU microseconds per operation of this process (client and
 * microservice) and of the broker: the cost, which a busy machine disturbs less than the rate.
 */
function startMeter(brokerPid, completed) {
  const start = {
    operations: completed(),
    appCpu: ownCpuSeconds(),
    brokerCpu: processCpuSeconds(brokerPid),
    at: performance.now(),
  };
  return () => {
    const operations = completed() - start.operations;
    const perOperation = (cpuSeconds) => (cpuSeconds * 1e6) / operations;
    return {
      rate: (operations * 1000) / (performance.now() - start.at),
      appCpuUs: perOperation(ownCpuSeconds() - start.appCpu),
      brokerCpuUs: perOperation(processCpuSeconds(brokerPid) - start.brokerCpu),
    };
  };
}

/** `concurrency` events in flight for `seconds`; then waits (bounded) for the last ones. */
async function measureEvents(running, concurrency, seconds) {
  events.client = running.client;
  events.running = true;
  const stop = startMeter(running.child.pid, () => events.handled);
  for (let k = 0; k < concurrency; k++) emitNextEvent();
  await sleep(seconds * 1000);
  const measured = stop();
  events.running = false;
  const deadline = Date.now() + LOST_AFTER_MS;
  while (events.handled + events.failed < events.emitted && Date.now() < deadline) await sleep(10);
  events.lost += events.emitted - events.handled - events.failed;
  events.emitted = events.handled + events.failed;
  return measured;
}

/** `concurrency` loops of send -> reply for `seconds`. */
async function measureRequests(running, concurrency, seconds) {
  const stop = startMeter(running.child.pid, () => running.answered);
  const stopAt = performance.now() + seconds * 1000;
  const loop = async () => {
    while (performance.now() < stopAt) {
      await lastValueFrom(running.client.send('bench.request', { i: running.answered }));
      running.answered++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return stop();
}

/** Starts the broker, the microservice and the client of one transport. */
async function setUp(transport) {
  const port = await freePort();
  const running = { transport, child: await transport.start(port), app: null, client: null };
  try {
    await waitForPort(port);
    running.app = await NestFactory.createMicroservice(BenchModule, {
      ...transport.server(port),
      logger: ['error'],
      abortOnError: false,
    });
    await running.app.listen();
    running.client = transport.client(port);
    await running.client.connect();
  } catch (err) {
    await tearDown(running);
    throw err;
  }
  running.answered = 0;
  return running;
}

async function tearDown(running) {
  await running.client?.close();
  await running.app?.close();
  await stopProcess(running.child);
}

const MODES = CONCURRENCIES.flatMap((concurrency) => [
  { row: `events/s c=${concurrency}`, concurrency, kind: 'events' },
  { row: `round trips/s c=${concurrency}`, concurrency, kind: 'requests' },
]).filter(
  (mode) =>
    !MODES_ONLY ||
    MODES_ONLY.some((word) => word === mode.row || word === mode.row.split(/[ /]/)[0]),
);

/**
 * Runs every mode on every transport, REPEATS times, interleaving the transports so that a
 * change in background load (a shared machine) hits every column alike. A first unrecorded
 * pass warms up connections and the JIT. Each transport runs in a worker process of its own,
 * as in an app that uses one transport: in one shared process, Nest's and RxJS's code paths
 * would be compiled for all three transports at once and slow every column.
 */
async function runAll(workers) {
  const results = { rates: {}, appCpu: {}, brokerCpu: {} };
  for (let r = -1; r < REPEATS; r++) {
    for (const mode of MODES) {
      for (const worker of workers) {
        const seconds = r < 0 ? Math.min(1, SECONDS) : SECONDS;
        const measured = await worker.ask({ type: 'measure', mode, seconds });
        if (r < 0) continue;
        for (const [table, value] of [
          ['rates', measured.rate],
          ['appCpu', measured.appCpuUs],
          ['brokerCpu', measured.brokerCpuUs],
        ]) {
          const byRow = (results[table][worker.name] ??= {});
          (byRow[mode.row] ??= []).push(value);
        }
      }
    }
    process.stdout.write(r < 0 ? '  warm-up done\n' : `  run ${r + 1}/${REPEATS} done\n`);
  }
  return results;
}

/** Bound on one answer of a worker (setting up, one measurement, tearing down). */
const WORKER_ANSWER_MS = 60_000;

/** Forks the worker process of one transport and waits until it is set up. */
async function startWorker(transport) {
  const child = fork(fileURLToPath(import.meta.url), ['--worker', transport.name], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const ask = (message) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanUp();
        reject(new Error(`${transport.name} worker: no answer to ${message.type}`));
      }, WORKER_ANSWER_MS);
      const onMessage = (answer) => {
        cleanUp();
        if (answer.error) reject(new Error(`${transport.name} worker: ${answer.error}`));
        else resolve(answer);
      };
      const onExit = (code) => {
        cleanUp();
        reject(new Error(`${transport.name} worker exited with ${code}`));
      };
      const cleanUp = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(message);
    });
  await ask({ type: 'setup' });
  return { name: transport.name, child, ask };
}

/** Bound on a worker's own exit after 'stop' (it writes its CPU profile then, if asked to). */
const WORKER_EXIT_MS = 10_000;

async function stopWorker(worker) {
  const { child } = worker;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const { lost } = await worker.ask({ type: 'stop' }).catch(() => ({ lost: 0 }));
  if (child.exitCode === null) await Promise.race([exited, sleep(WORKER_EXIT_MS)]);
  await stopProcess(child);
  return lost;
}

/** The worker side: sets up one transport, then measures what the coordinator asks for. */
function serveAsWorker(name) {
  if (PIN) pinSelf(APP_CPU);
  const transport = TRANSPORTS.find((candidate) => candidate.name === name);
  let running = null;
  process.on('message', async (message) => {
    try {
      if (message.type === 'setup') {
        running = await setUp(transport);
        process.send({ ok: true });
      } else if (message.type === 'measure') {
        const { mode, seconds } = message;
        const measure = mode.kind === 'events' ? measureEvents : measureRequests;
        process.send(await measure(running, mode.concurrency, seconds));
      } else if (message.type === 'stop') {
        await tearDown(running);
        running = null;
        process.send({ lost: events.lost }, () => process.disconnect());
      }
    } catch (err) {
      process.send({ error: err?.stack ?? String(err) });
    }
  });
  process.on('disconnect', async () => {
    if (running) await tearDown(running).catch(() => undefined);
    process.exit(0);
  });
}

// ---------------------------------------------------------------- report

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const spread = (values) => (Math.max(...values) - Math.min(...values)) / median(values);
const fmt = (n) => Math.round(n).toLocaleString('en-US');

/**
 * One table: a row per mode, a column per transport (median ±spread), then the ratios of Hyps to
 * the others: of rates by default; with `lowerIsBetter` (costs), of theirs to Hyps's.
 */
function printTable(columns, results, { format = fmt, lowerIsBetter = false } = {}) {
  const rows = Object.keys(Object.values(results).find(Boolean) ?? {});
  const others = ['Redis', 'NATS'];
  const ratioNames = others.map((other) => (lowerIsBetter ? `${other}/Hyps` : `Hyps/${other}`));
  const header = ['', ...columns.map((c) => c.name), ...ratioNames];
  const lines = [header];
  for (const row of rows) {
    const cells = [row];
    for (const column of columns) {
      const values = results[column.name]?.[row];
      cells.push(
        values ? `${format(median(values))} ±${Math.round(spread(values) * 100)}%` : 'skipped',
      );
    }
    for (const other of others) {
      const hyps = results.Hyps?.[row];
      const them = results[other]?.[row];
      const ratio = hyps && them ? median(hyps) / median(them) : NaN;
      cells.push(Number.isNaN(ratio) ? '-' : `${(lowerIsBetter ? 1 / ratio : ratio).toFixed(2)}x`);
    }
    lines.push(cells);
  }
  if (process.env.BENCH_VERBOSE) {
    for (const row of rows) {
      for (const column of columns) {
        const values = results[column.name]?.[row];
        if (values) console.log(`${row} ${column.name}: ${values.map(format).join(', ')}`);
      }
    }
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const line of lines) {
    console.log(
      line
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
        .join('  '),
    );
  }
}

async function main() {
  console.log(
    `Nest transports: ${SECONDS}s per run, ${REPEATS} runs, median ±spread; node ${process.version}`,
  );
  const workers = [];
  let lost = 0;
  try {
    for (const transport of TRANSPORTS) {
      if (ONLY && !ONLY.includes(transport.name.toLowerCase())) continue;
      if (!transport.available()) {
        console.log(`  ${transport.name}: skipped, ${transport.hint}`);
        continue;
      }
      workers.push(await startWorker(transport));
    }
    const results = await runAll(workers);
    console.log('');
    printTable(TRANSPORTS, results.rates);
    const micros = (n) => n.toFixed(1);
    console.log(
      '\nCPU microseconds per event or round trip, app process (client and microservice):',
    );
    printTable(TRANSPORTS, results.appCpu, { format: micros, lowerIsBetter: true });
    console.log('\nCPU microseconds per event or round trip, broker process:');
    printTable(TRANSPORTS, results.brokerCpu, { format: micros, lowerIsBetter: true });
  } finally {
    for (const worker of workers) lost += await stopWorker(worker);
  }
  if (lost > 0) console.log(`\n${lost} events not handled within ${LOST_AFTER_MS} ms`);
}

const overall = setTimeout(() => {
  console.error(`benchmark exceeded ${OVERALL_TIMEOUT_MS / 60000} minutes, stopping`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
}, OVERALL_TIMEOUT_MS);
overall.unref();

const isMain = process.argv[1] === fileURLToPath(import.meta.url);
const workerOf = process.argv.indexOf('--worker');
if (isMain && workerOf !== -1) {
  serveAsWorker(process.argv[workerOf + 1]);
} else if (isMain) {
  main()
    .then(() => process.exit(0))
    .catch((err) => {
      console.error(err);
      for (const child of children) child.kill('SIGKILL');
      process.exit(1);
    });
}
