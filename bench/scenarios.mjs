// Client-level scenarios of issue 5: HypsClient vs ioredis vs nats.js, each against its own
// server process (Hyps broker CLI, redis-server, nats-server) on 127.0.0.1. See bench/README.md.
//
//   npm run build && node bench/scenarios.mjs [--only hyps,redis,nats]
//     [--scenarios throughput,fanout,broadcast,broadcast-local,latency,publishers,rss]
//     [--duration-ms 2000] [--warmup-ms 500] [--reps 3] [--no-pin] [--broker-cpu-prof DIR]
import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ADAPTERS } from './lib/client-adapters.mjs';
import {
  measureSubscriptionRss,
  runLatency,
  runWindowed,
  userChannels,
} from './lib/client-loads.mjs';
import { killAllChildren } from './lib/children.mjs';
import { commonOptions, parseBenchArgs } from './lib/cli.mjs';
import { summarizeProfileFile } from './lib/cpuprofile-summary.mjs';
import {
  collectGarbage,
  machineSummary,
  openFileLimit,
  pinPrefix,
  pinSelf,
} from './lib/machine.mjs';
import { printReport } from './lib/scenario-report.mjs';
import {
  INSTALL_HINTS,
  NATS_SERVER,
  REDIS_SERVER,
  startHypsBroker,
  startNats,
  startRedis,
} from './lib/servers.mjs';
import { formatBytes, formatInt } from './lib/table.mjs';

const SCENARIOS = [
  'throughput',
  'fanout',
  'broadcast',
  'broadcast-local',
  'latency',
  'publishers',
  'rss',
];
const SIZES = [16, 256, 4096];
/** Subscriptions (channels) of the fan-out and memory scenarios; local subscribers of broadcast. */
const MANY = 10_000;
/**
 * The second fan-out row visits the channels every SCATTER_STRIDE-th (a prime, so all of them):
 * events for users come in no particular order, and memory locality then counts for more.
 */
const SCATTER_STRIDE = 7_919;
const BROADCAST_CONNECTIONS = 4;
const LATENCY_RATES = [10_000, 50_000];
/** Messages in flight for broadcast-local: each one is MANY deliveries. */
const LOCAL_WINDOW = 100;
/** Open files kept free for everything but publisher connections. */
const FD_RESERVE = 256;
/** Hard bound on a whole run; children are killed when it passes. */
const RUN_LIMIT_MS = 20 * 60_000;

const USAGE = `usage: node bench/scenarios.mjs [options]      (after npm run build)
  --only LIST         systems: hyps, redis, nats (default all three)
  --scenarios LIST    ${SCENARIOS.join(', ')} (default all)
  --duration-ms N     measured interval per repetition (default 2000)
  --warmup-ms N       unmeasured warm-up before it (default 500)
  --reps N            repetitions per scenario and system (default 3)
  --window N          messages in flight per load, capped by --window-kib (default 10000)
  --window-kib N      payload bytes in flight, in KiB (default 2048)
  --window-counts W   what frees the window: acks (acknowledged and received, where the client
                      has acknowledgements; the default) or receptions (received only, as for
                      NATS: a diagnostic of what waiting for acks costs a same-process load)
  --sizes LIST        payload sizes of the throughput scenario (default 16,256,4096)
  --publishers LIST   publisher connections of the cost curve (default 1,10,100,1000)
  --fanout-channels L subscriptions of the fan-out scenario (default 10000); a count above the
                      scattering stride (7919) also gets the scattered row
  --no-pin            do not pin servers to CPU 0 and this process to CPU 1
  --broker-cpu-prof D write a V8 CPU profile of the Hyps broker into directory D`;

function parseOptions() {
  const { values, positive } = parseBenchArgs(
    {
      ...commonOptions({ durationMs: 2000 }),
      only: { type: 'string', default: 'hyps,redis,nats' },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      window: { type: 'string', default: '10000' },
      'window-counts': { type: 'string', default: 'acks' },
      sizes: { type: 'string', default: SIZES.join(',') },
      publishers: { type: 'string', default: '1,10,100,1000' },
      'fanout-channels': { type: 'string', default: String(MANY) },
    },
    USAGE,
  );
  const list = (name, known) =>
    values[name].split(',').map((text) => {
      const item = text.trim() === 'ioredis' ? 'redis' : text.trim();
      if (!known.includes(item)) throw new Error(`unknown '${item}' in --${name}`);
      return item;
    });
  const only = list(
    'only',
    ADAPTERS.map((adapter) => adapter.id),
  );
  return {
    systems: ADAPTERS.filter((adapter) => only.includes(adapter.id)),
    scenarios: new Set(list('scenarios', SCENARIOS)),
    durationMs: positive('duration-ms'),
    warmupMs: Number(values['warmup-ms']) || 0,
    reps: positive('reps'),
    window: positive('window'),
    windowBytes: positive('window-kib') * 1024,
    countAcks: windowCounts(values['window-counts']),
    sizes: values.sizes.split(',').map((text) => {
      const size = Number(text);
      if (!Number.isInteger(size) || size < 1 || size > 512 * 1024)
        throw new Error(`bad size '${text}' in --sizes (1..524288)`);
      return size;
    }),
    publishers: values.publishers.split(',').map((text) => positive('publishers', text)),
    fanoutChannels: values['fanout-channels']
      .split(',')
      .map((text) => positive('fanout-channels', text)),
    pin: !values['no-pin'],
    cpuProfDir: values['broker-cpu-prof'] ? resolve(values['broker-cpu-prof']) : null,
  };
}

function windowCounts(text) {
  if (text !== 'acks' && text !== 'receptions')
    throw new Error(`--window-counts must be acks or receptions, not '${text}'`);
  return text === 'acks';
}

/** Starts one server of `kind`; null (with a hint printed once) when its binary is missing. */
const hinted = new Set();
async function startServer(kind, prefix, nodeArgs = []) {
  if (kind === 'hyps') return startHypsBroker({ prefix, nodeArgs });
  const server = kind === 'redis' ? await startRedis({ prefix }) : await startNats({ prefix });
  if (!server && !hinted.has(kind)) {
    hinted.add(kind);
    const binary = kind === 'redis' ? REDIS_SERVER : NATS_SERVER;
    console.log(`! ${binary} not found, skipping ${kind}: ${INSTALL_HINTS[kind]}`);
  }
  return server;
}

/**
 * The measured cases, in run order: { scenario, key, label, run(adapter, server),
 * manySubscriptions }. The publisher counts are capped by the open-file limit (`notes` says so).
 */
function buildCases(options, notes) {
  const timing = { warmupMs: options.warmupMs, durationMs: options.durationMs };
  const windowFor = (size) =>
    Math.max(1, Math.min(options.window, Math.floor(options.windowBytes / Math.max(1, size))));
  const windowed = (settings) => (adapter, server) =>
    runWindowed({
      adapter,
      port: server.port,
      serverPid: server.pid,
      countAcks: options.countAcks,
      ...timing,
      ...settings,
    });
  if (!options.countAcks) notes.push('the window counts receptions only, for every system.');
  const cases = [];
  const add = (scenario, key, label, run, manySubscriptions = false) =>
    cases.push({ scenario, key, label, run, manySubscriptions });
  const want = options.scenarios;
  if (want.has('throughput')) {
    for (const size of options.sizes) {
      add(
        'throughput',
        `throughput/${size}`,
        formatBytes(size),
        windowed({ size, window: windowFor(size), channels: ['bench.tp'] }),
      );
    }
  }
  if (want.has('fanout')) {
    for (const count of options.fanoutChannels) {
      const channels = userChannels(count);
      // The default count keeps the plain keys, which the README tables are made from.
      const suffix = count === MANY ? '' : `/${count}`;
      add(
        'fanout',
        `fanout${suffix}`,
        `${formatInt(count)} channels on 1 connection`,
        windowed({ size: 16, window: windowFor(16), channels }),
        true,
      );
      if (count <= SCATTER_STRIDE || count % SCATTER_STRIDE === 0) continue;
      add(
        'fanout',
        `fanout-scattered${suffix}`,
        `${formatInt(count)} channels, scattered order`,
        windowed({ size: 16, window: windowFor(16), channels, channelStride: SCATTER_STRIDE }),
        true,
      );
    }
  }
  if (want.has('broadcast')) {
    add(
      'broadcast',
      'broadcast',
      `1 channel, ${BROADCAST_CONNECTIONS} subscriber connections`,
      windowed({
        size: 16,
        window: windowFor(16),
        channels: ['bench.bcast'],
        subscriberConnections: BROADCAST_CONNECTIONS,
      }),
    );
  }
  if (want.has('broadcast-local')) {
    add(
      'broadcast',
      'broadcast-local',
      `1 channel, 1 connection x ${formatInt(MANY)} local subscribers`,
      windowed({
        size: 16,
        window: Math.min(LOCAL_WINDOW, options.window),
        channels: ['bench.bcast'],
        localSubscribers: MANY,
      }),
      true,
    );
  }
  if (want.has('latency')) {
    for (const rate of LATENCY_RATES) {
      add('latency', `latency/${rate}`, `${formatInt(rate)} msg/s`, (adapter, server) =>
        runLatency({ adapter, port: server.port, serverPid: server.pid, rate, ...timing }),
      );
    }
  }
  if (want.has('publishers')) {
    const limit = openFileLimit();
    const cap = Number.isFinite(limit) ? Math.max(1, limit - FD_RESERVE) : Infinity;
    for (const wanted of options.publishers) {
      const count = Math.min(wanted, cap);
      if (count < wanted)
        notes.push(`${wanted} publishers capped to ${count} by ulimit -n ${limit}.`);
      add(
        'publishers',
        `publishers/${count}`,
        `${formatInt(count)} publisher${count === 1 ? '' : 's'}`,
        windowed({ size: 16, window: windowFor(16), channels: ['bench.pubs'], publishers: count }),
      );
    }
  }
  return cases;
}

function describe(result) {
  if ('p99' in result) {
    return (
      `p50 ${result.p50.toFixed(3)} ms, p99 ${result.p99.toFixed(3)} ms, ` +
      `p99.9 ${result.p999.toFixed(3)} ms, ${formatInt(result.rate)} msgs/s received`
    );
  }
  return (
    `${formatInt(result.rate).padStart(11)} /s, server CPU ${Math.round(100 * result.serverCpu)}%, ` +
    `loadgen CPU ${Math.round(100 * result.loadCpu)}%, lost ${result.lost}` +
    (result.dropped ? ` (DROPPED ${result.dropped})` : '')
  );
}

/** `items` starting from index `by` (modulo their count), wrapping around. */
function rotated(items, by) {
  const start = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

async function runCases(cases, options, servers, results) {
  for (const item of cases) {
    // Repetitions interleave the systems, so a slow patch of the machine hits all of them, and
    // rotate their order, so no system always runs first after a scenario change.
    for (let rep = 1; rep <= options.reps; rep++) {
      for (const adapter of rotated(options.systems, rep - 1)) {
        const server = servers[adapter.server];
        if (!server) continue;
        const tag = `${item.key.padEnd(18)} ${adapter.label.padEnd(18)} rep ${rep}`;
        try {
          const result = await item.run(adapter, server);
          const key = `${item.key}/${adapter.id}`;
          if (!results.has(key)) results.set(key, []);
          results.get(key).push(result);
          console.log(`  ${tag}: ${describe(result)}`);
        } catch (error) {
          console.log(`! ${tag} failed: ${error instanceof Error ? error.message : error}`);
        }
        // A rep that closed 10,000 subscriptions collects their garbage, so the next rep does
        // not run amid it: of three Hyps fan-out reps in a row, the second was the slowest in 14
        // runs of 14, by 8-34%, until then. Not after every rep: a full GC leaves a small heap,
        // and a load that then moves GBs of socket buffers per second (4 KiB throughput) can make
        // V8 mark without pause (a Mark-Compact every 33-40 ms), at a third of its usual rate.
        if (item.manySubscriptions) collectGarbage();
      }
    }
  }
}

/** Server memory with MANY subscriptions: fresh server processes for every measurement. */
async function runRss(options, prefix, results) {
  for (let rep = 1; rep <= options.reps; rep++) {
    for (const adapter of options.systems) {
      const server = await startServer(adapter.server, prefix);
      if (!server) continue;
      const tag = `${'rss'.padEnd(18)} ${adapter.label.padEnd(18)} rep ${rep}`;
      try {
        const result = await measureSubscriptionRss({
          adapter,
          port: server.port,
          serverPid: server.pid,
          count: MANY,
        });
        const key = `rss/${adapter.id}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(result);
        console.log(
          `  ${tag}: RSS ${(result.before / 2 ** 20).toFixed(1)} -> ` +
            `${(result.after / 2 ** 20).toFixed(1)} MiB`,
        );
      } catch (error) {
        console.log(`! ${tag} failed: ${error instanceof Error ? error.message : error}`);
      } finally {
        await server.stop();
      }
    }
  }
}

function printBrokerProfile(dir) {
  const profiles = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort();
  const latest = profiles.at(-1);
  if (!latest) {
    console.log(`\nNo CPU profile written to ${dir} (did the broker exit cleanly?)`);
    return;
  }
  console.log(`\nHyps broker CPU profile ${join(dir, latest)}, top self time:\n`);
  console.log(summarizeProfileFile(join(dir, latest), 30));
}

async function main() {
  const options = parseOptions();
  const watchdog = setTimeout(() => {
    console.error(`! run exceeded ${RUN_LIMIT_MS / 60_000} minutes, stopping`);
    killAllChildren();
    process.exit(1);
  }, RUN_LIMIT_MS);
  watchdog.unref();
  const machine = machineSummary();
  const pinned = options.pin && pinSelf(1);
  const prefix = pinned ? pinPrefix(0) : [];
  const notes = [];
  const cases = buildCases(options, notes);
  console.log(
    `scenarios: ${cases.length} cases x ${options.reps} reps x ${options.systems.length} systems ` +
      `of ~${((options.warmupMs + options.durationMs) / 1000).toFixed(1)} s` +
      (options.scenarios.has('rss') ? ' + rss' : '') +
      `; load average ${machine.loadAverage}`,
  );
  const servers = {};
  const results = new Map();
  try {
    const nodeArgs = [];
    if (options.cpuProfDir) {
      mkdirSync(options.cpuProfDir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
    }
    if (cases.length > 0) {
      for (const kind of new Set(options.systems.map((adapter) => adapter.server))) {
        servers[kind] = await startServer(kind, prefix, kind === 'hyps' ? nodeArgs : []);
      }
    }
    await runCases(cases, options, servers, results);
    if (options.scenarios.has('rss')) await runRss(options, prefix, results);
  } finally {
    await Promise.allSettled(Object.values(servers).map((server) => server?.stop()));
    killAllChildren();
  }
  const loadAfter = machineSummary().loadAverage;
  printReport({ options, cases, results, machine, loadAfter, pinned, servers, notes });
  if (options.cpuProfDir) printBrokerProfile(options.cpuProfDir);
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  killAllChildren();
  process.exitCode = 1;
}
