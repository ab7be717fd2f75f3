// Soak: the built broker under steady mixed load for a few minutes, sampled over time, to show
// that its memory and responsiveness level off. Not part of the test run. See issue 6, item 5.
//
//   npm run build && node bench/soak.mjs [--duration-s 180] [--sample-s 5] [--publishers 4]
//     [--rate 1500] [--size 256] [--subscribers 6] [--churners 4] [--churn-per-s 40]
//
// Load (all through the real HypsClient, one connection each):
//   - publishers: each publishes `rate` messages/s of `size` bytes, spread over 50 topics
//     (soak.t<n>.<k>), paced every 10 ms;
//   - subscribers: half on `soak.>`, half on one `soak.t<n>.*` each;
//   - churners: each keeps ~20 live subscriptions and replaces one `churn-per-s` times a second
//     (a new pattern each time: SUB and UNSUB on the wire, routing cache invalidations), and one
//     churner connection is closed and replaced every 10 s;
//   - a probe, in a child process of its own: one publish every 20 ms to a channel it subscribes
//     to; its publish->ack and publish->delivery times stand in for the broker's event-loop lag,
//     which cannot be read from outside the broker process.
// Sampled every `sample-s`: broker RSS (/proc/<pid>/status VmRSS) and CPU, message rates, probe
// round trips, this (client) process's own event-loop lag (monitorEventLoopDelay), and the
// machine's load average (a shared machine's contention shows in every latency column).
// At the end: a table over time, and whether RSS and probe latency level off (last third of
// the run against the middle third; the first third is warm-up).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HypsClient } from '@hyps/transport';
import { killAllChildren, stopChild } from './lib/children.mjs';
import { machineSummary, processCpuSeconds } from './lib/machine.mjs';
import { sleep } from './lib/net.mjs';
import { BROKER_CLI, startProcess } from './lib/servers.mjs';
import { formatInt, markdownTable } from './lib/table.mjs';

const { values: args } = parseArgs({
  options: {
    'probe-url': { type: 'string' },
    'duration-s': { type: 'string', default: '180' },
    'sample-s': { type: 'string', default: '5' },
    publishers: { type: 'string', default: '4' },
    rate: { type: 'string', default: '1500' },
    size: { type: 'string', default: '256' },
    subscribers: { type: 'string', default: '6' },
    churners: { type: 'string', default: '4' },
    'churn-per-s': { type: 'string', default: '40' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log(
    readFileSync(new URL(import.meta.url), 'utf8')
      .split('\n')
      .slice(0, 24)
      .join('\n'),
  );
  process.exit(0);
}
if (args['probe-url']) await runProbe(args['probe-url']);
const DURATION_S = Number(args['duration-s']);
const SAMPLE_S = Number(args['sample-s']);
const PUBLISHERS = Number(args.publishers);
const RATE = Number(args.rate);
const SIZE = Number(args.size);
const SUBSCRIBERS = Number(args.subscribers);
const CHURNERS = Number(args.churners);
const CHURN_PER_S = Number(args['churn-per-s']);
const TOPICS = 50;
const TICK_MS = 10;
const MiB = 1024 * 1024;

const rss = (pid) => {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
};
const percentile = (values, p) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const median = (values) => percentile(values, 50);

// ---- the broker ----------------------------------------------------------------------------

const broker = await startProcess({
  name: 'hyps-broker',
  command: process.execPath,
  args: [BROKER_CLI, '--host', '127.0.0.1', '--port', '0', '--ping-interval-ms', '5000'],
  ready: /listening on (?<host>[^\s:]+):(?<port>\d+)/,
});
const pid = broker.child.pid;
const idleRss = rss(pid);
const url = `hyps://127.0.0.1:${broker.port}`;
const clients = new Set();
const open = async (name) => {
  const client = new HypsClient({ url, name, reconnectDelayMs: 50 });
  clients.add(client);
  await client.connect();
  return client;
};

// ---- counters (reset at each sample unless cumulative) ------------------------------------

const totals = { published: 0, acked: 0, failed: 0, deliveries: 0, received: 0, churnOps: 0 };
const totalsAtLastSample = { ...totals };
const failures = new Map();
let stopping = false;

// ---- publishers ------------------------------------------------------------------------------

const payload = Buffer.alloc(SIZE, 0x78);
const publishers = await Promise.all(
  Array.from({ length: PUBLISHERS }, (_, i) => open(`publisher-${i}`)),
);
let perTickCarry = 0;
const publishTimer = setInterval(() => {
  perTickCarry += (RATE * TICK_MS) / 1000;
  const count = Math.floor(perTickCarry);
  perTickCarry -= count;
  for (const [i, publisher] of publishers.entries()) {
    for (let k = 0; k < count; k++) {
      const topic = (i * 7 + k + totals.published) % TOPICS;
      totals.published++;
      publisher.publish(`soak.t${topic}.${k % 5}`, payload).then(
        ({ receivers }) => {
          totals.acked++;
          totals.deliveries += receivers;
        },
        (error) => {
          totals.failed++;
          failures.set(error.code ?? error.name, (failures.get(error.code ?? error.name) ?? 0) + 1);
        },
      );
    }
  }
}, TICK_MS);

// ---- subscribers -----------------------------------------------------------------------------

const subscriptions = [];
for (let i = 0; i < SUBSCRIBERS; i++) {
  const client = await open(`subscriber-${i}`);
  const pattern = i % 2 === 0 ? 'soak.>' : `soak.t${i % TOPICS}.*`;
  const messages = client.subscribe(pattern);
  subscriptions.push(messages.subscribe(() => totals.received++));
  await messages.ready;
}

// ---- churners --------------------------------------------------------------------------------

let patternCounter = 0;
const churners = [];
async function startChurner(i) {
  const client = await open(`churner-${i}`);
  const live = [];
  const churner = { client, live, timer: null };
  const opsPerTick = CHURN_PER_S / 10;
  let carry = 0;
  churner.timer = setInterval(() => {
    carry += opsPerTick;
    for (; carry >= 1; carry--) {
      const n = patternCounter++;
      const pattern =
        n % 3 === 0
          ? `soak.t${n % TOPICS}.*`
          : n % 3 === 1
            ? `churn.${n}.>`
            : `soak.t${n % TOPICS}.${n % 5}`;
      live.push(
        client
          .subscribe(pattern)
          .subscribe({ next: () => totals.received++, error: () => undefined }),
      );
      if (live.length > 20) live.shift().unsubscribe();
      totals.churnOps++;
    }
  }, 100);
  churners[i] = churner;
}
async function replaceChurner(i) {
  const old = churners[i];
  clearInterval(old.timer);
  for (const s of old.live) s.unsubscribe();
  clients.delete(old.client);
  await old.client.close();
  await startChurner(i);
}
for (let i = 0; i < CHURNERS; i++) await startChurner(i);
let nextReplaced = 0;
const reconnectTimer = setInterval(() => {
  if (CHURNERS > 0 && !stopping) void replaceChurner(nextReplaced++ % CHURNERS);
}, 10_000);

// ---- the probe -------------------------------------------------------------------------------

// A child process of its own (this script in --probe-url mode): idle apart from the probe, so its
// timings are the broker's responsiveness plus loopback, not this busy process's event loop.
const probeChild = fork(fileURLToPath(import.meta.url), ['--probe-url', url], { stdio: 'inherit' });
await new Promise((resolve, reject) => {
  probeChild.once('message', resolve);
  probeChild.once('exit', (code) => reject(new Error(`probe exited with ${code}`)));
});
/** Asks the probe for the round trips it measured since the last request. */
const readProbe = () =>
  new Promise((resolve) => {
    probeChild.once('message', resolve);
    probeChild.send('sample');
  });

// ---- sampling --------------------------------------------------------------------------------

const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const samples = [];
const started = performance.now();
let lastCpu = processCpuSeconds(pid);
let lastAt = started;
console.log(
  `soak: ${DURATION_S} s, ${PUBLISHERS} publishers x ${RATE}/s x ${SIZE} B over ${TOPICS} topics, ` +
    `${SUBSCRIBERS} subscribers, ${CHURNERS} churners x ${CHURN_PER_S} SUB+UNSUB/s, broker pid ${pid} ` +
    `(${JSON.stringify(machineSummary())})`,
);
while (performance.now() - started < DURATION_S * 1000) {
  await sleep(SAMPLE_S * 1000);
  const now = performance.now();
  const seconds = (now - lastAt) / 1000;
  const cpu = processCpuSeconds(pid);
  const rate = (key) => (totals[key] - totalsAtLastSample[key]) / seconds;
  const { ack: probeAck, delivery: probeDelivery } = await readProbe();
  const sample = {
    t: Math.round((now - started) / 1000),
    rssMiB: rss(pid) / MiB,
    cpuPct: ((cpu - lastCpu) / seconds) * 100,
    publishedPerS: rate('published'),
    receivedPerS: rate('received'),
    churnPerS: rate('churnOps'),
    ackP50: percentile(probeAck, 50),
    ackP99: percentile(probeAck, 99),
    deliveryP99: percentile(probeDelivery, 99),
    deliveryMax: Math.max(...probeDelivery),
    clientLagP99: lag.percentile(99) / 1e6,
    clientLagMax: lag.max / 1e6,
    load1: loadavg()[0],
  };
  samples.push(sample);
  Object.assign(totalsAtLastSample, totals);
  lag.reset();
  lastCpu = cpu;
  lastAt = now;
  console.log(
    `t=${sample.t}s rss ${sample.rssMiB.toFixed(1)} MiB cpu ${sample.cpuPct.toFixed(0)}% ` +
      `pub ${formatInt(sample.publishedPerS)}/s recv ${formatInt(sample.receivedPerS)}/s ` +
      `probe ack p99 ${sample.ackP99.toFixed(1)} ms, client lag p99 ${sample.clientLagP99.toFixed(1)} ms`,
  );
}

// ---- stop and report ----------------------------------------------------------------------------

stopping = true;
clearInterval(publishTimer);
clearInterval(reconnectTimer);
for (const c of churners) clearInterval(c.timer);
lag.disable();
// Let the last publishes settle (bounded), then close everything.
const settleBy = performance.now() + 10_000;
while (totals.acked + totals.failed < totals.published && performance.now() < settleBy)
  await sleep(50);
const unsettled = totals.published - totals.acked - totals.failed;
probeChild.send('stop');
for (const s of subscriptions) s.unsubscribe();
const dropped = [...clients].reduce((n, c) => n + c.dropped, 0);
await Promise.all([...clients].map((c) => c.close()));
await stopChild(broker.child, { timeoutMs: 10_000 });
killAllChildren();

const fixed = (digits) => (value) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
console.log(
  '\n' +
    markdownTable(
      [
        't (s)',
        'broker RSS (MiB)',
        'broker CPU %',
        'published/s',
        'received/s',
        'SUB+UNSUB/s',
        'probe ack p50 (ms)',
        'probe ack p99 (ms)',
        'probe delivery p99 (ms)',
        'probe delivery max (ms)',
        'load process lag p99 (ms)',
        'load process lag max (ms)',
        'machine load (1 min)',
      ],
      samples.map((s) => [
        s.t,
        fixed(1)(s.rssMiB),
        fixed(0)(s.cpuPct),
        formatInt(s.publishedPerS),
        formatInt(s.receivedPerS),
        formatInt(s.churnPerS),
        fixed(2)(s.ackP50),
        fixed(2)(s.ackP99),
        fixed(2)(s.deliveryP99),
        fixed(1)(s.deliveryMax),
        fixed(1)(s.clientLagP99),
        fixed(1)(s.clientLagMax),
        fixed(2)(s.load1),
      ]),
    ),
);

// Level-off: the first third is warm-up; the last third must not have grown over the middle one.
// Medians of the per-sample figures, so one slow sample on a shared machine does not decide it.
const third = Math.floor(samples.length / 3);
const middle = samples.slice(third, 2 * third);
const last = samples.slice(2 * third);
const verdict = (label, pick, unit, absoluteSlack, relativeSlack) => {
  if (middle.length === 0 || last.length === 0) return `${label}: too few samples`;
  const m = median(middle.map(pick));
  const l = median(last.map(pick));
  const grew = l - m;
  const flat = grew <= absoluteSlack || grew <= m * relativeSlack;
  return (
    `${label}: middle third ${m.toFixed(2)} ${unit}, last third ${l.toFixed(2)} ${unit} ` +
    `(${grew >= 0 ? '+' : ''}${grew.toFixed(2)} ${unit}, ${m > 0 ? ((grew / m) * 100).toFixed(1) : 'n/a'}%): ` +
    (flat ? 'levels off' : 'STILL GROWING')
  );
};
console.log(
  [
    `broker RSS idle (before any load) ${(idleRss / MiB).toFixed(1)} MiB; ` +
      `first sample ${samples[0]?.rssMiB.toFixed(1)} MiB, at end ${samples.at(-1)?.rssMiB.toFixed(1)} MiB, peak ${Math.max(...samples.map((s) => s.rssMiB)).toFixed(1)} MiB`,
    verdict('broker RSS', (s) => s.rssMiB, 'MiB', 5, 0.05),
    verdict('probe ack p50 (broker lag proxy)', (s) => s.ackP50, 'ms', 5, 0.5),
    verdict('probe ack p99 (broker lag proxy)', (s) => s.ackP99, 'ms', 5, 0.5),
    verdict('load process event-loop lag p99', (s) => s.clientLagP99, 'ms', 5, 0.5),
    `totals: ${formatInt(totals.published)} published, ${formatInt(totals.acked)} acknowledged, ` +
      `${formatInt(totals.failed)} failed ${JSON.stringify(Object.fromEntries(failures))}, ` +
      `${unsettled} unsettled after 10 s, ${formatInt(totals.deliveries)} deliveries acknowledged, ` +
      `${formatInt(totals.received)} received by local subscribers (one wire delivery can feed ` +
      `several), ${formatInt(dropped)} dropped (DROPPED), ` +
      `${formatInt(totals.churnOps)} churn subscriptions, ${nextReplaced} churner reconnects`,
  ].join('\n'),
);
process.exit(unsettled === 0 && totals.failed === 0 ? 0 : 1);

/** Probe mode: publish to its own channel every 20 ms; report ack and delivery times on request. */
async function runProbe(probeUrl) {
  const probe = new HypsClient({ url: probeUrl, name: 'probe', reconnectDelayMs: 50 });
  await probe.connect();
  let ack = [];
  let delivery = [];
  const sentAt = new Map();
  let seq = 0;
  const messages = probe.subscribe('probe.rtt');
  messages.subscribe((message) => {
    const sent = sentAt.get(message.text());
    sentAt.delete(message.text());
    if (sent !== undefined) delivery.push(performance.now() - sent);
  });
  await messages.ready;
  const timer = setInterval(() => {
    const id = String(++seq);
    const sent = performance.now();
    sentAt.set(id, sent);
    probe.publish('probe.rtt', id).then(
      () => ack.push(performance.now() - sent),
      () => undefined,
    );
  }, 20);
  process.on('message', async (request) => {
    if (request === 'sample') {
      process.send({ ack, delivery });
      ack = [];
      delivery = [];
    } else {
      clearInterval(timer);
      await probe.close();
      process.exit(0);
    }
  });
  process.send('ready');
  await new Promise(() => undefined); // runs until told to stop
}
