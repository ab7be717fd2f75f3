// The HypsClient's own CPU cost, one side at a time: CPU per publish (this process publishes,
// nobody subscribes) and CPU per delivery (a child process publishes, this process subscribes),
// over 1 channel and over 10,000 (one subscription per channel), in order or scattered. The
// side-by-side scenarios run publisher and subscriber in one process; this splits them, so a
// change to one side can be judged without the other's noise. Hyps only (see bench/README.md).
//
//   npm run build && node bench/client-cpu.mjs [--channels 1,10000] [--strides 1,7919]
//     [--samples 5] [--shared-observer] [--no-pin]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HypsClient } from '@hyps/transport';
import { killAllChildren, stopChild } from './lib/children.mjs';
import { parseBenchArgs } from './lib/cli.mjs';
import { machineSummary, pinPrefix, pinSelf } from './lib/machine.mjs';
import { sleep, waitUntil } from './lib/net.mjs';
import { payload } from './lib/pubsub-loads.mjs';
import { startHypsBroker } from './lib/servers.mjs';
import { median } from './lib/stats.mjs';
import { formatInt, markdownTable } from './lib/table.mjs';

const USAGE = `usage: node bench/client-cpu.mjs [options]      (after npm run build)
  --channels LIST   channel counts (default 1,10000)
  --strides LIST    publish orders: 1 = subscription order, a prime = scattered (default 1,7919)
  --samples N       one-second samples per case; the median is shown (default 5)
  --shared-observer also measure deliveries to one observer shared by every subscription, which
                    tells the cost of the application's own per-channel objects apart from the
                    client's
  --no-pin          do not pin the broker and the publisher child to CPU 0 and this process to CPU 1`;

/** Publishes in flight per publisher. */
const WINDOW = 8_192;
const SIZE = 16;
const WARMUP_MS = 1_500;
const SAMPLE_MS = 1_000;
/** Hard bound on a publisher child's life, whatever happens to its parent. */
const CHILD_LIMIT_MS = 120_000;

const channelNames = (count) => Array.from({ length: count }, (_, i) => `bench.user.${i}`);

/**
 * Publishes round-robin (every `stride`th channel) with at most WINDOW unacknowledged, for as
 * long as `running()` holds; returns a counter of acknowledged publishes.
 */
function publishLoop(client, channels, stride, running) {
  const body = payload(SIZE);
  const state = { acked: 0 };
  let sent = 0;
  let next = 0;
  const onAck = (error) => {
    // Publishes still in flight when the client closes fail; only a failure while running counts.
    if (error) {
      if (running()) throw error;
      return;
    }
    state.acked++;
    if (sent - state.acked < WINDOW / 2) pump();
  };
  function pump() {
    while (running() && sent - state.acked < WINDOW) {
      client.publish(channels[next], body, onAck);
      next += stride;
      if (next >= channels.length) next -= channels.length;
      sent++;
    }
  }
  pump();
  return state;
}

/** CPU nanoseconds per unit of `counter()` over SAMPLE_MS, `samples` times; the median. */
async function sampleCpu(counter, samples) {
  const perUnit = [];
  for (let i = 0; i < samples; i++) {
    const cpu = process.cpuUsage();
    const before = counter();
    await sleep(SAMPLE_MS);
    const used = process.cpuUsage(cpu);
    const units = counter() - before;
    if (units > 0) perUnit.push(((used.user + used.system) * 1000) / units);
  }
  return perUnit.length > 0 ? median(perUnit) : NaN;
}

async function connect(port, name) {
  const client = new HypsClient({ url: `hyps://127.0.0.1:${port}`, name, reconnect: false });
  await client.connect();
  return client;
}

async function measurePublish(port, channels, stride, samples) {
  const client = await connect(port, 'cpu-publisher');
  let running = true;
  try {
    const state = publishLoop(client, channels, stride, () => running);
    await sleep(WARMUP_MS);
    return await sampleCpu(() => state.acked, samples);
  } finally {
    running = false;
    await client.close();
  }
}

async function measureDelivery(port, channels, stride, samples, pin, sharedObserver) {
  const client = await connect(port, 'cpu-subscriber');
  let publisher;
  try {
    let received = 0;
    const readies = [];
    const shared = { next: (message) => received++ + message.data.length };
    for (const channel of channels) {
      const subscription = client.subscribe(channel);
      if (sharedObserver) {
        subscription.subscribe(shared);
      } else {
        // An observer and a closure per channel, as an app keeps one per user.
        const onMessage = () => received++;
        subscription.subscribe({ next: (message) => onMessage(message.data) });
      }
      readies.push(subscription.ready);
    }
    await Promise.all(readies);
    const script = fileURLToPath(import.meta.url);
    const args = ['--publisher', String(port), String(channels.length), String(stride), `${pin}`];
    publisher = fork(script, args, { stdio: 'inherit' });
    await waitUntil(() => received > 0, { timeoutMs: 10_000 });
    await sleep(WARMUP_MS);
    const cpu = await sampleCpu(() => received, samples);
    return { cpu, dropped: client.dropped };
  } finally {
    if (publisher) await stopChild(publisher);
    await client.close();
  }
}

/** The child side: publish until the parent goes away (or CHILD_LIMIT_MS), on CPU 0 if pinned. */
async function runPublisherChild([port, count, stride, pin]) {
  setTimeout(() => process.exit(0), CHILD_LIMIT_MS).unref();
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  if (pin === 'true') pinSelf(0);
  const client = await connect(Number(port), 'cpu-load');
  publishLoop(client, channelNames(Number(count)), Number(stride), () => true);
}

async function main() {
  const { values, positive } = parseBenchArgs(
    {
      channels: { type: 'string', default: '1,10000' },
      strides: { type: 'string', default: '1,7919' },
      samples: { type: 'string', default: '5' },
      'shared-observer': { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    USAGE,
  );
  const counts = values.channels.split(',').map((text) => positive('channels', text));
  const strides = values.strides.split(',').map((text) => positive('strides', text));
  const samples = positive('samples');
  const sharedObserver = values['shared-observer'];
  const pin = !values['no-pin'] && pinSelf(1);
  const machine = machineSummary();
  console.log(
    `${machine.cores} cores (${machine.cpu}), node ${machine.node}, load average ${machine.loadAverage}; ` +
      `${samples} x ${SAMPLE_MS} ms samples after ${WARMUP_MS} ms, ${SIZE} B messages` +
      (pin ? '; broker and publisher child on CPU 0, this process on CPU 1' : ''),
  );
  const broker = await startHypsBroker({ prefix: pin ? pinPrefix(0) : [] });
  const rows = [];
  try {
    for (const count of counts) {
      for (const stride of strides) {
        if (stride > 1 && stride >= count) continue; // one order only for few channels
        const channels = channelNames(count);
        const publish = await measurePublish(broker.port, channels, stride, samples);
        const delivery = await measureDelivery(broker.port, channels, stride, samples, pin, false);
        const order = stride === 1 ? 'in order' : `every ${formatInt(stride)}th`;
        const row = [formatInt(count), order, publish.toFixed(0), delivery.cpu.toFixed(0)];
        if (sharedObserver) {
          const toShared = await measureDelivery(broker.port, channels, stride, samples, pin, true);
          row.push(toShared.cpu.toFixed(0));
        }
        rows.push([...row, formatInt(delivery.dropped)]);
      }
    }
  } finally {
    await broker.stop();
  }
  console.log(
    '\n' +
      markdownTable(
        [
          'channels',
          'publish order',
          'CPU ns per publish',
          'CPU ns per delivery',
          ...(sharedObserver ? ['the same, one shared observer'] : []),
          'dropped',
        ],
        rows,
        ['l', 'l', ...rows[0].slice(2).map(() => 'r')],
      ),
  );
}

const [flag, ...rest] = process.argv.slice(2);
if (flag === '--publisher') {
  await runPublisherChild(rest);
} else {
  try {
    await main();
  } finally {
    killAllChildren();
  }
}
