#!/usr/bin/env node
// SSE broadcast fan-out through the sample API: N SSE clients (default 1,000 and 5,000) follow
// one room on ONE sample-api instance; a HypsClient publishes to that room at a fixed rate with a
// timestamp in each message; the clients measure delivered events/s and publish-to-client
// latency (p50/p99). Needs `npm run build`. `node bench/sse-fanout.mjs --help` for the options.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HypsClient } from '@hyps/transport';
import { stopChild } from './lib/children.mjs';
import { summarizeProfileFile } from './lib/cpuprofile-summary.mjs';
import { machineSummary, ownCpuSeconds, processCpuSeconds } from './lib/machine.mjs';
import { sleep } from './lib/net.mjs';
import { startHypsBroker, startProcess } from './lib/servers.mjs';
import { formatInt, markdownTable } from './lib/table.mjs';

const SAMPLE_API = fileURLToPath(new URL('../apps/sample-api/dist/main.js', import.meta.url));
const ROOM = 'bench';
const CONNECT_BATCH = 250;
const READY_TIMEOUT_MS = 60_000;
/** After the window: wait for in-flight events at most this long (an overloaded run never ends). */
const DRAIN_MAX_MS = 5_000;

const HELP = `Usage: node bench/sse-fanout.mjs [options]
  --clients LIST       SSE clients per run, comma-separated          (default 1000,5000)
  --rates LIST         messages published per second, comma-separated (default 20,200)
                       every client count runs at every rate
  --duration-ms N      measured interval of each run                  (default 10000)
  --warmup-ms N        unmeasured publishing before it                (default 2000)
  --text-bytes N       length of each chat message's text             (default 64)
  --api-cpu-prof DIR   run the sample API under node --cpu-prof, print its top functions
`;

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000,5000' },
    rates: { type: 'string', default: '20,200' },
    'duration-ms': { type: 'string', default: '10000' },
    'warmup-ms': { type: 'string', default: '2000' },
    'text-bytes': { type: 'string', default: '64' },
    'api-cpu-prof': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const clientCounts = opts.clients.split(',').map(positive);
const rates = opts.rates.split(',').map(positive);
const durationMs = positive(opts['duration-ms']);
const warmupMs = positive(opts['warmup-ms']);
const text = 'x'.repeat(positive(opts['text-bytes']));
const profileDir = opts['api-cpu-prof'];

function positive(raw) {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`not a positive integer: ${raw}\n${HELP}`);
    process.exit(2);
  }
  return value;
}

// Publisher and clients share this process's clock, so latency needs no clock sync.
const now = () => performance.timeOrigin + performance.now();

/** Latency histogram: 0.1 ms buckets up to 60 s. */
class Histogram {
  constructor() {
    this.buckets = new Uint32Array(600_000);
    this.count = 0;
    this.max = 0;
  }
  add(ms) {
    const bucket = Math.min(this.buckets.length - 1, Math.max(0, Math.floor(ms * 10)));
    this.buckets[bucket]++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }
  percentile(p) {
    if (this.count === 0) return NaN;
    const target = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= target) return (i + 1) / 10;
    }
    return NaN;
  }
}

/**
 * One SSE client on a raw socket (far cheaper than node:http, so the load generator keeps up).
 * It scans complete events for `event: ready`, `event: dropped` and `"sentAt":<ms>`; the
 * chunked-encoding size lines between events do not disturb that scan.
 */
class SseProbe {
  constructor(port, run) {
    this.run = run;
    this.ready = false;
    this.received = 0;
    this.pending = '';
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.socket.on('connect', () =>
      this.socket.write(
        `GET /rooms/${ROOM}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`,
      ),
    );
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (error) => run.errors.push(error.message));
    this.socket.on('close', () => run.closed++);
  }
  onData(chunk) {
    const data = this.pending + chunk;
    const end = data.lastIndexOf('\n\n');
    if (end < 0) {
      this.pending = data;
      return;
    }
    this.pending = data.slice(end + 2);
    const complete = data.slice(0, end);
    if (!this.ready && complete.includes('event: ready')) {
      this.ready = true;
      this.run.ready++;
    }
    const at = now();
    const { measuring } = this.run;
    let from = 0;
    for (;;) {
      const i = complete.indexOf('"sentAt":', from);
      if (i < 0) break;
      const stop = complete.indexOf('}', i);
      const sentAt = Number(complete.slice(i + 9, stop));
      from = stop;
      this.received++;
      this.run.arrivals++;
      // Everything that ARRIVES in the window counts, whenever it was published: when the
      // system falls behind, the latency shows the growing backlog.
      if (measuring) {
        this.run.windowEvents++;
        this.run.latency.add(at - sentAt);
      }
    }
    if (complete.includes('event: dropped')) {
      for (const match of complete.matchAll(/"scope":"\w+","count":(\d+)/g)) {
        this.run.dropped += Number(match[1]);
      }
    }
  }
  close() {
    this.socket.destroy();
  }
}

/** Runs `fn` with these variables set in process.env (a child spawned inside inherits them). */
function withEnv(vars, fn) {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

function startSampleApi(hypsPort) {
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  // startProcess spawns synchronously, so the variables are only needed during this call.
  return withEnv({ PORT: '0', HOST: '127.0.0.1', HYPS_URL: `hyps://127.0.0.1:${hypsPort}` }, () =>
    startProcess({
      name: 'sample-api',
      command: process.execPath,
      args: [...nodeArgs, SAMPLE_API],
      ready: /sample-api listening on http:\/\/[^:]+:(?<port>\d+)/,
      timeoutMs: 15_000,
    }),
  );
}

/** Waits until every client has `published` messages, or for at most `maxMs`. */
async function waitForDelivery(probes, published, maxMs) {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    if (probes.every((p) => p.received >= published)) return;
    await sleep(50);
  }
}

async function measure(clients, rate) {
  const broker = await startHypsBroker();
  const api = await startSampleApi(broker.port);
  const publisher = new HypsClient({ url: `hyps://127.0.0.1:${broker.port}`, name: 'bench' });
  const run = {
    ready: 0,
    closed: 0,
    errors: [],
    measuring: false,
    windowEvents: 0,
    arrivals: 0,
    dropped: 0,
    latency: new Histogram(),
  };
  const probes = [];
  const cleanups = [];
  let timer;
  try {
    await publisher.connect();
    const connectStart = Date.now();
    for (let i = 0; i < clients; i += CONNECT_BATCH) {
      const batch = Math.min(CONNECT_BATCH, clients - i);
      for (let j = 0; j < batch; j++) probes.push(new SseProbe(api.port, run));
      while (run.ready < i + batch) {
        if (Date.now() - connectStart > READY_TIMEOUT_MS) {
          throw new Error(`only ${run.ready}/${clients} SSE clients ready: ${run.errors[0] ?? ''}`);
        }
        await sleep(20);
      }
    }
    const connectMs = Date.now() - connectStart;

    // Events that arrived in each second since publishing started (shows a backlog draining).
    const timeline = [];
    let arrivalsBefore = 0;
    const ticker = setInterval(() => {
      timeline.push(run.arrivals - arrivalsBefore);
      arrivalsBefore = run.arrivals;
    }, 1000);
    cleanups.push(() => clearInterval(ticker));

    // Fixed rate: every 5 ms, publish what the schedule says is due (no drift).
    let published = 0;
    const receivers = new Map();
    const startedAt = Date.now();
    timer = setInterval(() => {
      const due = Math.floor(((Date.now() - startedAt) * rate) / 1000);
      for (; published < due; published++) {
        const body = JSON.stringify({ author: 'bench', text, sentAt: now() });
        publisher.publish(`rooms.${ROOM}`, body).then(
          (ack) => receivers.set(ack.receivers, (receivers.get(ack.receivers) ?? 0) + 1),
          (error) => run.errors.push(error.message),
        );
      }
    }, 5);

    await sleep(warmupMs);
    const cpu0 = {
      api: processCpuSeconds(api.child.pid),
      broker: processCpuSeconds(broker.pid),
      bench: ownCpuSeconds(),
    };
    const publishedAtStart = published;
    const windowStart = Date.now();
    run.measuring = true;
    await sleep(durationMs);
    run.measuring = false;
    const elapsed = (Date.now() - windowStart) / 1000;
    const cpu = {
      api: (processCpuSeconds(api.child.pid) - cpu0.api) / elapsed,
      broker: (processCpuSeconds(broker.pid) - cpu0.broker) / elapsed,
      bench: (ownCpuSeconds() - cpu0.bench) / elapsed,
    };
    const publishedInWindow = published - publishedAtStart;
    clearInterval(timer);
    await waitForDelivery(probes, published, DRAIN_MAX_MS);

    const stats = await fetch(`http://127.0.0.1:${api.port}/stats`, {
      signal: AbortSignal.timeout(10_000),
    })
      .then((response) => response.json())
      .catch(() => ({ dropped: 'no answer from /stats within 10 s' }));
    return {
      clients,
      rate,
      connectMs,
      published,
      expectedPerSecond: (publishedInWindow * clients) / elapsed,
      deliveredPerSecond: run.windowEvents / elapsed,
      p50: run.latency.percentile(50),
      p99: run.latency.percentile(99),
      max: run.latency.max,
      dropped: run.dropped,
      serverDropped: stats.dropped,
      receivers: [...receivers.keys()].sort((a, b) => a - b),
      // Every client received every message (within DRAIN_MAX_MS after the window).
      complete: probes.every((p) => p.received === published),
      timeline,
      closedEarly: run.closed,
      errors: run.errors.length,
      cpu,
    };
  } finally {
    clearInterval(timer);
    for (const cleanup of cleanups) cleanup();
    for (const probe of probes) probe.close();
    await publisher.close().catch(() => undefined);
    await stopChild(api.child, { timeoutMs: 10_000 });
    await broker.stop();
  }
}

function openFileLimit() {
  try {
    return Number(execFileSync('/bin/sh', ['-c', 'ulimit -n']).toString().trim());
  } catch {
    return NaN;
  }
}

async function main() {
  if (!existsSync(SAMPLE_API)) {
    process.stderr.write('the sample API is not built: run `npm run build` first\n');
    process.exit(1);
  }
  // The sample API holds one socket per client, and so does this process.
  const limit = openFileLimit();
  const needed = Math.max(...clientCounts) + 256;
  if (Number.isFinite(limit) && limit < needed) {
    process.stderr.write(
      `the open-file limit (ulimit -n) is ${limit}, below the ${needed} sockets the largest run ` +
        `needs: raise it (ulimit -n ${needed}) or pass a smaller --clients\n`,
    );
    process.exit(2);
  }
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const machine = machineSummary();
  process.stdout.write(
    `sse-fanout: ${machine.cores} cores (${machine.cpu}), ${machine.memGiB} GiB, ` +
      `node ${machine.node}, load ${machine.loadAverage}, ulimit -n ${limit}\n` +
      `  one room, text ${text.length} B, warm-up ${warmupMs} ms, measured ${durationMs} ms\n`,
  );
  const results = [];
  for (const clients of clientCounts) {
    for (const rate of rates) {
      process.stdout.write(`  ${clients} SSE clients at ${rate} msg/s…\n`);
      const result = await measure(clients, rate);
      results.push(result);
      process.stdout.write(`    ${JSON.stringify(result)}\n`);
    }
  }
  const ms = (v) => (Number.isFinite(v) ? v.toFixed(1) : '-');
  const pct = (v) => `${Math.round(v * 100)}%`;
  const table = markdownTable(
    [
      'SSE clients',
      'msg/s',
      'expected events/s',
      'delivered events/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'dropped',
      'all got all',
      'receivers/publish',
      'CPU api / broker / clients',
    ],
    results.map((r) => [
      formatInt(r.clients),
      String(r.rate),
      formatInt(Math.round(r.expectedPerSecond)),
      formatInt(Math.round(r.deliveredPerSecond)),
      ms(r.p50),
      ms(r.p99),
      ms(r.max),
      formatInt(r.dropped),
      r.complete ? 'yes' : 'no',
      r.receivers.join(','),
      `${pct(r.cpu.api)} / ${pct(r.cpu.broker)} / ${pct(r.cpu.bench)}`,
    ]),
  );
  process.stdout.write(`\n${table}\n`);
  if (profileDir) {
    process.stdout.write(`\nsample API CPU profiles in ${profileDir}:\n`);
    for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
      process.stdout.write(`${file}\n${summarizeProfileFile(`${profileDir}/${file}`, 15)}\n`);
    }
  }
}

await main();
process.exit(0);
