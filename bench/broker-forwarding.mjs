// Broker forwarding benchmark: 1 publisher -> 1 subscriber through the Hyps broker, redis-server
// and nats-server, in one run, at several message sizes. See bench/README.md.
//
//   node bench/broker-forwarding.mjs [--duration-ms 3000] [--warmup-ms 500] [--reps 3]
//     [--sizes 16,256,4096] [--only hyps,redis,ioredis,nats] [--window-kib 2048] [--no-pin]
//     [--broker-cpu-prof DIR]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllChildren } from './lib/children.mjs';
import { commonOptions, parseBenchArgs } from './lib/cli.mjs';
import { summarizeProfileFile } from './lib/cpuprofile-summary.mjs';
import { machineSummary, pinPrefix, pinSelf } from './lib/machine.mjs';
import { measureLoad } from './lib/measure.mjs';
import { hypsRawLoad, ioredisLoad, natsLoad, redisRawLoad } from './lib/pubsub-loads.mjs';
import {
  INSTALL_HINTS,
  NATS_SERVER,
  REDIS_SERVER,
  startHypsBroker,
  startNats,
  startRedis,
} from './lib/servers.mjs';
import { ratio, summarize } from './lib/stats.mjs';
import { formatBytes, formatInt, formatRatio, formatSpread, markdownTable } from './lib/table.mjs';

const USAGE = `usage: node bench/broker-forwarding.mjs [options]
  --duration-ms N     measured interval per repetition (default 3000)
  --warmup-ms N       unmeasured warm-up before it (default 500)
  --reps N            repetitions per scenario (default 3)
  --sizes LIST        message sizes in bytes (default 16,256,4096)
  --only LIST         systems: hyps, redis (= redis-raw + ioredis), redis-raw, ioredis, nats
  --window-kib N      bytes in flight per publisher, in KiB (default 2048)
  --no-pin            do not pin servers to CPU 0 and the load generator to CPU 1
  --broker-cpu-prof D write a V8 CPU profile of the broker process into directory D`;

/** The systems, in column order. `server` names the process each one talks to. */
const SYSTEMS = [
  { id: 'hyps', label: 'Hyps (raw socket)', server: 'hyps', load: hypsRawLoad },
  { id: 'redis-raw', label: 'Redis (raw RESP)', server: 'redis', load: redisRawLoad },
  { id: 'ioredis', label: 'Redis (ioredis)', server: 'redis', load: ioredisLoad },
  { id: 'nats', label: 'NATS (nats.js)', server: 'nats', load: natsLoad },
];

function parseOptions() {
  const { values, positive } = parseBenchArgs(
    {
      ...commonOptions({ durationMs: 3000 }),
      sizes: { type: 'string', default: '16,256,4096' },
      only: { type: 'string', default: 'hyps,redis,nats' },
    },
    USAGE,
  );
  const sizes = values.sizes.split(',').map((text) => {
    const size = Number(text.trim());
    if (!Number.isInteger(size) || size < 0 || size > 512 * 1024)
      throw new Error(`bad size '${text}' in --sizes (0..524288)`);
    return size;
  });
  const wanted = new Set();
  for (const name of values.only.split(',').map((text) => text.trim())) {
    if (name === 'redis') wanted.add('redis-raw').add('ioredis');
    else if (SYSTEMS.some((system) => system.id === name)) wanted.add(name);
    else throw new Error(`unknown system '${name}' in --only`);
  }
  return {
    durationMs: positive('duration-ms'),
    warmupMs: Number(values['warmup-ms']) || 0,
    reps: positive('reps'),
    sizes,
    systems: SYSTEMS.filter((system) => wanted.has(system.id)),
    windowBytes: positive('window-kib') * 1024,
    pin: !values['no-pin'],
    cpuProfDir: values['broker-cpu-prof'] ? resolve(values['broker-cpu-prof']) : null,
  };
}

/** Starts the servers the chosen systems need; a missing binary skips its systems. */
async function startServers(options, prefix) {
  const servers = {};
  const needed = new Set(options.systems.map((system) => system.server));
  if (needed.has('hyps')) {
    const nodeArgs = [];
    if (options.cpuProfDir) {
      mkdirSync(options.cpuProfDir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
    }
    servers.hyps = await startHypsBroker({ prefix, nodeArgs });
  }
  if (needed.has('redis')) {
    servers.redis = await startRedis({ prefix });
    if (!servers.redis)
      console.log(`! ${REDIS_SERVER} not found, skipping Redis: ${INSTALL_HINTS.redis}`);
  }
  if (needed.has('nats')) {
    servers.nats = await startNats({ prefix });
    if (!servers.nats)
      console.log(`! ${NATS_SERVER} not found, skipping NATS: ${INSTALL_HINTS.nats}`);
  }
  return servers;
}

function printReport(options, results, servers, pinned, machine) {
  const cell = (id, size) => results.get(`${id}/${size}`);
  const rates = (id, size) => {
    const runs = cell(id, size);
    return runs ? summarize(runs.map((run) => run.rate)) : null;
  };
  const shown = options.systems.filter((system) => servers[system.server]);

  console.log('\n## Broker forwarding, 1 publisher -> 1 subscriber\n');
  console.log(
    `${machine.cores} cores (${machine.cpu}), node ${machine.node}, ${machine.platform}, ` +
      `load average ${machine.loadAverage} at start; ` +
      `${options.reps} reps x ${options.durationMs} ms after ${options.warmupMs} ms warm-up; ` +
      `window ${options.windowBytes / 1024} KiB in flight; ` +
      (pinned ? 'servers pinned to CPU 0, load generator to CPU 1.' : 'no CPU pinning.') +
      (servers.hyps ? ` Hyps broker via ${servers.hyps.via}.` : ''),
  );
  console.log('Cells: median msgs/s delivered to the subscriber (min-max over reps).\n');

  const headers = ['size', ...shown.map((system) => system.label)];
  const ratioColumns = [
    ['Hyps/Redis raw', 'redis-raw'],
    ['Hyps/ioredis', 'ioredis'],
    ['Hyps/NATS', 'nats'],
  ].filter(([, id]) => shown.some((system) => system.id === id));
  const withHyps = shown.some((system) => system.id === 'hyps');
  if (withHyps) headers.push(...ratioColumns.map(([label]) => label));
  const rows = options.sizes.map((size) => {
    const row = [formatBytes(size), ...shown.map((system) => formatSpread(rates(system.id, size)))];
    if (withHyps) {
      for (const [, id] of ratioColumns)
        row.push(formatRatio(ratio(rates('hyps', size), rates(id, size))));
    }
    return row;
  });
  console.log(markdownTable(headers, rows, ['l']));

  console.log(
    '\nPer scenario (medians over reps): payload MB/s; CPU of the server process and of the load\n' +
      'generator in % of one core; msgs per server CPU-second (the rate the server would reach\n' +
      'with one whole core to itself, if CPU-bound: robust to other load on the machine);\n' +
      'messages lost after the run (sent - received).\n',
  );
  const detail = [];
  for (const size of options.sizes) {
    for (const system of shown) {
      const runs = cell(system.id, size);
      if (!runs) continue;
      const med = (pick) => summarize(runs.map(pick)).median;
      detail.push([
        formatBytes(size),
        system.label,
        formatInt(med((run) => run.rate)),
        ((med((run) => run.rate) * size) / 1e6).toFixed(1),
        `${Math.round(100 * med((run) => run.serverCpu))}%`,
        `${Math.round(100 * med((run) => run.loadCpu))}%`,
        formatInt(med((run) => run.rate / run.serverCpu)),
        formatInt(runs.reduce((sum, run) => sum + run.lost, 0)) +
          (runs.some((run) => run.reportedLoss > 0)
            ? ` (DROPPED ${runs.reduce((sum, run) => sum + run.reportedLoss, 0)})`
            : ''),
      ]);
    }
  }
  console.log(
    markdownTable(
      [
        'size',
        'system',
        'msgs/s',
        'MB/s',
        'server CPU',
        'loadgen CPU',
        'msgs/server CPU-s',
        'lost',
      ],
      detail,
      ['l', 'l'],
    ),
  );
}

async function main() {
  const options = parseOptions();
  // Load average before this run starts: other work on the machine skews the numbers.
  const machine = machineSummary();
  if (Number(machine.loadAverage.split(' ')[0]) > machine.cores / 2) {
    console.log(
      `! load average ${machine.loadAverage} on ${machine.cores} cores: other work is running, ` +
        'expect low and noisy numbers (see the msgs/server CPU-s column).',
    );
  }
  const pinned = options.pin && pinSelf(1);
  const prefix = pinned ? pinPrefix(0) : [];
  const scenarios = options.sizes.length * options.systems.length * options.reps;
  console.log(
    `broker-forwarding: ${scenarios} runs of ~${((options.warmupMs + options.durationMs) / 1000).toFixed(1)} s ` +
      `(${options.systems.map((system) => system.id).join(', ')}; sizes ${options.sizes.join(', ')})`,
  );
  const servers = await startServers(options, prefix);
  const results = new Map();
  try {
    for (const size of options.sizes) {
      // Repetitions interleave the systems, so a slow patch of the machine hits all of them.
      for (let rep = 1; rep <= options.reps; rep++) {
        for (const system of options.systems) {
          const server = servers[system.server];
          if (!server) continue;
          const run = await measureLoad(
            system.load({ port: server.port, size, windowBytes: options.windowBytes }),
            { warmupMs: options.warmupMs, durationMs: options.durationMs, serverPid: server.pid },
          );
          const key = `${system.id}/${size}`;
          if (!results.has(key)) results.set(key, []);
          results.get(key).push(run);
          console.log(
            `  ${formatBytes(size).padStart(6)} ${system.label.padEnd(18)} rep ${rep}: ` +
              `${formatInt(run.rate).padStart(10)} msgs/s, server CPU ${Math.round(100 * run.serverCpu)}%, ` +
              `loadgen CPU ${Math.round(100 * run.loadCpu)}%, lost ${run.lost}`,
          );
        }
      }
    }
  } finally {
    await Promise.allSettled(Object.values(servers).map((server) => server?.stop()));
    killAllChildren();
  }
  printReport(options, results, servers, pinned, machine);
  if (options.cpuProfDir) {
    const profiles = readdirSync(options.cpuProfDir)
      .filter((name) => name.endsWith('.cpuprofile'))
      .sort();
    const latest = profiles.at(-1);
    if (latest) {
      const file = join(options.cpuProfDir, latest);
      console.log(`\nBroker CPU profile ${file}, top self time:\n`);
      console.log(summarizeProfileFile(file, 30));
    } else {
      console.log(
        `\nNo CPU profile written to ${options.cpuProfDir} (did the broker exit cleanly?)`,
      );
    }
  }
}

/**
 * The load generator starts with room in its old generation. Its heap is tiny, and it receives
 * GBs per second of socket chunks; after a major GC left the old-generation limit just above that
 * small heap, V8 could keep marking: in one process of six, 88 Mark-Compacts in 8 s (2-3 in the
 * others), and Hyps's 256 B rate fell from 5M-7M to 3.3M msgs/s, bounded by the load generator.
 * With this flag, ten processes in a row had no Mark-Compact. It sets the load generator's heap,
 * not a server's.
 */
const LOAD_HEAP_FLAG = '--initial-old-space-size=128';

if (!process.execArgv.includes(LOAD_HEAP_FLAG)) {
  const script = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, LOAD_HEAP_FLAG, script, ...process.argv.slice(2)];
  process.exit(spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1);
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  killAllChildren();
  process.exitCode = 1;
}
