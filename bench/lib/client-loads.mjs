// Client-level loads for bench/scenarios.mjs, written once against the adapters of
// client-adapters.mjs: a windowed throughput load (any number of publisher connections, subscriber
// connections, channels and local subscribers), a paced latency load, and the server memory that
// 10,000 subscriptions cost. Every wait is bounded; every connection is closed however a run ends.
import { connectMany, withTimeout } from './client-adapters.mjs';
import { collectGarbage, ownCpuSeconds, processCpuSeconds, processRssBytes } from './machine.mjs';
import { sleep, waitUntil } from './net.mjs';
import { payload } from './pubsub-loads.mjs';
import { percentile } from './stats.mjs';

/** Bound on subscribing, 10,000 subscriptions included. */
const SETUP_TIMEOUT_MS = 30_000;
/** How long a stopped load may take to deliver what is still in flight. */
const DRAIN_MS = 3_000;
/** Most messages a publisher issues per pump step (the clients batch a tick's publishes). */
const MAX_BATCH = 256;

const noop = () => {};

/** `count` channel names, one per simulated user. */
export function userChannels(count) {
  return Array.from({ length: count }, (_, i) => `bench.user.${i}`);
}

function collectErrors(conns) {
  return conns.flatMap((conn) => conn.errors);
}

async function closeAll(conns) {
  await Promise.allSettled(conns.map((conn) => conn.close()));
}

function snapshot(serverPid, deliveries) {
  return {
    at: performance.now(),
    deliveries,
    serverCpu: processCpuSeconds(serverPid),
    loadCpu: ownCpuSeconds(),
  };
}

/**
 * Publishers send round-robin over `channels`, and in bursts over their connections, keeping
 * at most `window` messages in flight: sent minus min(acknowledged, received by the slowest
 * subscriber connection); NATS has no acknowledgements, so there only receptions count, and
 * with `countAcks` false (a diagnostic) no system's acknowledgements count. Each of
 * the `subscriberConnections` subscribes to every channel with a handler per channel, or, with
 * `localSubscribers` > 0, to channels[0] once with that many local handlers. The publishers take
 * the channels in order, or every `channelStride`th (coprime with their count, below it), which
 * visits them all in a scattered order, as events for users arrive. Returns deliveries/s
 * (handler calls) over the measured interval, CPU of the server and of this process, and loss.
 */
export async function runWindowed({
  adapter,
  port,
  serverPid,
  size,
  window,
  channels,
  subscriberConnections = 1,
  localSubscribers = 0,
  publishers = 1,
  channelStride = 1,
  countAcks = true,
  warmupMs,
  durationMs,
}) {
  const body = payload(size);
  const perMessage = subscriberConnections * Math.max(1, localSubscribers);
  const received = new Array(subscriberConnections).fill(0);
  const batch = Math.max(1, Math.min(MAX_BATCH, Math.floor(window / 4)));
  // Each publisher sends bursts of about half its share of the window, so with many publishers
  // every connection still gets a few messages per write, as a busy publisher would.
  const burst = Math.max(1, Math.min(batch, Math.floor(window / publishers / 2)));
  const subs = [];
  let pubs = [];
  let deliveries = 0;
  let sent = 0;
  let acked = 0;
  let running = false;
  let nextPub = 0;
  let nextChannel = 0;
  let burstCount = 0;

  // A new closure each call: one callback per local subscriber, as an app would have.
  const countDelivery = () => () => {
    deliveries++;
  };
  const settled = () => {
    let low = received[0];
    for (let i = 1; i < received.length; i++) if (received[i] < low) low = received[i];
    return countAcks && adapter.acks && acked < low ? acked : low;
  };
  const onAck = () => {
    acked++;
    pump();
  };
  function pump() {
    if (!running) return;
    const done = settled();
    while (sent - done + batch <= window) {
      for (let i = 0; i < batch; i++) {
        pubs[nextPub].publish(channels[nextChannel], body, onAck);
        nextChannel += channelStride;
        if (nextChannel >= channels.length) nextChannel -= channels.length;
        if (++burstCount === burst) {
          burstCount = 0;
          if (++nextPub === pubs.length) nextPub = 0;
        }
      }
      sent += batch;
    }
  }

  try {
    for (let c = 0; c < subscriberConnections; c++) {
      const conn = await adapter.connect(port, `bench-sub-${c}`);
      subs.push(conn);
      const onMessage = () => {
        received[c]++;
        deliveries++;
        pump();
      };
      let subscribed;
      if (localSubscribers > 0) {
        // The first local handler moves the window; all of them count deliveries.
        const handlers = [onMessage];
        for (let k = 1; k < localSubscribers; k++) handlers.push(countDelivery());
        subscribed = conn.subscribeLocal(channels[0], handlers);
      } else {
        // A closure per channel, like one callback per simulated user.
        subscribed = conn.subscribe(channels, () => () => onMessage());
      }
      await withTimeout(subscribed, SETUP_TIMEOUT_MS, `${adapter.id} subscribe`);
    }
    // Each connect is bounded by the client's own timeout.
    pubs = await connectMany(adapter, port, publishers, 'bench-pub');
    running = true;
    pump();
    await sleep(warmupMs);
    const start = snapshot(serverPid, deliveries);
    await sleep(durationMs);
    const end = snapshot(serverPid, deliveries);
    running = false;
    // Let what is in flight arrive, so loss can be told apart from lag.
    await waitUntil(() => deliveries >= sent * perMessage, { timeoutMs: DRAIN_MS }).catch(noop);
    const errors = collectErrors([...subs, ...pubs]);
    if (errors.length > 0) throw new Error(`${adapter.id}: ${errors.slice(0, 3).join('; ')}`);
    const seconds = (end.at - start.at) / 1000;
    const counted = end.deliveries - start.deliveries;
    const serverCpuSeconds = end.serverCpu - start.serverCpu;
    const loadCpuSeconds = end.loadCpu - start.loadCpu;
    return {
      rate: counted / seconds,
      serverCpu: serverCpuSeconds / seconds,
      loadCpu: loadCpuSeconds / seconds,
      serverCpuPerMillion: counted > 0 ? serverCpuSeconds / (counted / 1e6) : NaN,
      loadCpuPerMillion: counted > 0 ? loadCpuSeconds / (counted / 1e6) : NaN,
      sent,
      lost: sent * perMessage - deliveries,
      dropped: subs.reduce((sum, conn) => sum + conn.dropped(), 0),
    };
  } finally {
    running = false;
    await closeAll([...pubs, ...subs]);
  }
}

/** The hrtime stamp in the first 8 bytes of a message (Buffer or plain Uint8Array). */
function readStamp(data) {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  return buf.readBigUInt64LE(0);
}

/**
 * Open-loop latency: one publisher paced by a `tickMs` timer sends the messages due at `rate`
 * msgs/s in small bursts (catching up at most 20 ms per tick; none while more than a second's
 * worth is unanswered), each stamped with process.hrtime.bigint(); a subscriber in this process
 * records publish -> receive time for the messages sent in the measured interval. Returns
 * p50/p99/p99.9/max in ms and the achieved send and receive rates.
 */
export async function runLatency({
  adapter,
  port,
  serverPid,
  rate,
  warmupMs,
  durationMs,
  size = 16,
  tickMs = 1,
}) {
  const channel = 'bench.latency';
  const capacity = Math.ceil((rate * (durationMs + 2_000)) / 1000);
  const samples = new Float64Array(capacity);
  const perTickCap = Math.max(1, Math.ceil(rate * 0.02));
  const maxBacklog = Math.max(1_000, rate);
  let count = 0;
  let sent = 0;
  let received = 0;
  let receivedInWindow = 0;
  let notOffered = 0;
  let windowStart = -1n;
  let windowEnd = -1n;
  let timer = null;
  let sub = null;
  let pub = null;

  const onMessage = (data) => {
    const now = process.hrtime.bigint();
    received++;
    if (windowStart < 0n) return;
    if (windowEnd < 0n) receivedInWindow++;
    const stamp = readStamp(data);
    if (stamp >= windowStart && (windowEnd < 0n || stamp < windowEnd) && count < capacity) {
      samples[count++] = Number(now - stamp) / 1e6;
    }
  };

  try {
    sub = await adapter.connect(port, 'bench-latency-sub');
    await withTimeout(
      sub.subscribe([channel], () => onMessage),
      SETUP_TIMEOUT_MS,
      `${adapter.id} subscribe`,
    );
    pub = await adapter.connect(port, 'bench-latency-pub');
    const t0 = process.hrtime.bigint();
    const tick = () => {
      const elapsedSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      let due = Math.floor(rate * elapsedSeconds) - sent - notOffered;
      if (due <= 0) return;
      if (sent - received > maxBacklog) {
        notOffered += due;
        return;
      }
      if (due > perTickCap) {
        notOffered += due - perTickCap;
        due = perTickCap;
      }
      for (let i = 0; i < due; i++) {
        const data = Buffer.alloc(size);
        data.writeBigUInt64LE(process.hrtime.bigint(), 0);
        pub.publish(channel, data, noop);
      }
      sent += due;
    };
    timer = setInterval(tick, tickMs);
    await sleep(warmupMs);
    const start = snapshot(serverPid, 0);
    const sentAtStart = sent;
    windowStart = process.hrtime.bigint();
    await sleep(durationMs);
    windowEnd = process.hrtime.bigint();
    const end = snapshot(serverPid, 0);
    const sentInWindow = sent - sentAtStart;
    clearInterval(timer);
    timer = null;
    await waitUntil(() => received >= sent, { timeoutMs: DRAIN_MS }).catch(noop);
    const errors = collectErrors([sub, pub]);
    if (errors.length > 0) throw new Error(`${adapter.id}: ${errors.slice(0, 3).join('; ')}`);
    const seconds = (end.at - start.at) / 1000;
    const sorted = samples.subarray(0, count).sort();
    return {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: count > 0 ? sorted[count - 1] : NaN,
      samples: count,
      sentRate: sentInWindow / seconds,
      rate: receivedInWindow / seconds,
      serverCpu: (end.serverCpu - start.serverCpu) / seconds,
      loadCpu: (end.loadCpu - start.loadCpu) / seconds,
      lost: sent - received,
    };
  } finally {
    if (timer) clearInterval(timer);
    await closeAll([pub, sub].filter(Boolean));
  }
}

/** This process's live JS heap after two full collections. */
function liveHeapBytes() {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/**
 * Memory of `count` subscriptions on one connection: VmRSS of the server process after the
 * subscriber connected and after every subscription was confirmed and `settleMs` passed, and
 * the live JS heap of this process (the client library's own subscription state; the channel
 * names exist before the first reading) at the same two points.
 */
export async function measureSubscriptionRss({ adapter, port, serverPid, count, settleMs = 500 }) {
  const conn = await adapter.connect(port, 'bench-rss');
  const channels = userChannels(count);
  try {
    await sleep(200);
    const before = processRssBytes(serverPid);
    const clientBefore = liveHeapBytes();
    await withTimeout(
      conn.subscribe(channels, () => noop),
      SETUP_TIMEOUT_MS,
      `${adapter.id} subscribe`,
    );
    await sleep(settleMs);
    const after = processRssBytes(serverPid);
    const clientHeapDelta = liveHeapBytes() - clientBefore;
    const errors = collectErrors([conn]);
    if (errors.length > 0) throw new Error(`${adapter.id}: ${errors.slice(0, 3).join('; ')}`);
    return { before, after, delta: after - before, clientHeapDelta };
  } finally {
    await closeAll([conn]);
  }
}
