// Publisher -> subscriber loads, one per system, with the same shape: `open()` connects and
// subscribes, `start()` begins publishing, `stop()` stops, `close()` disconnects. `received()` is
// what the subscriber got. Publishers keep a bounded window of messages in flight: sent minus
// min(acknowledged by the server, received by the subscriber), so a run measures sustained
// forwarding and neither the server nor the socket buffers accumulate a backlog.
import { encodeHello, encodeRecord, encodeSub } from '@hyps/transport';
import { Redis } from 'ioredis';
import { connect as natsConnect } from 'nats';
import { openSocket, waitUntil } from './net.mjs';
import { encodeResp, HypsFrameCounter, RespCounter } from './wire-counters.mjs';

/** Bytes of pre-encoded records written per socket write by the raw clients. */
const BATCH_BYTES = 64 * 1024;
/** Messages issued per pump step by the library clients (ioredis, nats.js). */
const CLIENT_BATCH = 256;

/** A message of `size` bytes with no 0x0A or CR, so it never looks like a RESP line end. */
export function payload(size) {
  return Buffer.alloc(size, 'x');
}

/** `frame` repeated to fill about BATCH_BYTES (at least once). */
function repeatFrame(frame) {
  const count = Math.max(1, Math.floor(BATCH_BYTES / frame.length));
  return { buf: Buffer.concat(Array.from({ length: count }, () => frame)), count };
}

/**
 * The windowed publisher shared by every load. `sendBatch()` publishes `batchCount` messages;
 * `done()` is how many of them no longer count as in flight.
 */
function windowedPump({ sendBatch, batchCount, windowMessages, done }) {
  const window = Math.max(2 * batchCount, windowMessages);
  const state = {
    sent: 0,
    running: false,
    pump() {
      if (!state.running) return;
      const settled = done();
      while (state.running && state.sent - settled + batchCount <= window) {
        sendBatch();
        state.sent += batchCount;
      }
    },
  };
  return state;
}

function windowFor(windowBytes, wireBytesPerMessage) {
  return Math.max(1, Math.floor(windowBytes / wireBytesPerMessage));
}

/** `start()`/`stop()` of a load whose pump is created by `open()`. */
function pumpControls(getPump) {
  return {
    start() {
      const pump = getPump();
      pump.running = true;
      pump.pump();
    },
    stop() {
      const pump = getPump();
      if (pump) pump.running = false;
    },
  };
}

/** A raw socket whose received bytes feed `counter`; `onData` runs after each chunk. */
async function countingSocket(port, counter) {
  const socket = await openSocket(port);
  const conn = { socket, counter, onData: null };
  socket.on('data', (chunk) => {
    counter.push(chunk);
    conn.onData?.();
  });
  socket.on('error', () => {});
  return conn;
}

/**
 * The raw-socket loads' pump: `frame` (one pre-encoded publish) written in batches on `pub`,
 * pumped again whenever either socket receives something.
 */
function rawSocketPump(pub, sub, frame, windowBytes, done) {
  const batch = repeatFrame(frame);
  const pump = windowedPump({
    sendBatch: () => pub.socket.write(batch.buf),
    batchCount: batch.count,
    windowMessages: windowFor(windowBytes, frame.length),
    done,
  });
  pub.onData = pump.pump;
  sub.onData = pump.pump;
  return pump;
}

function failIfErrors(what, errors) {
  if (errors.length > 0) throw new Error(`${what}: ${errors.slice(0, 3).join('; ')}`);
}

/** Hyps: raw sockets, records encoded once with the package codec and written in batches. */
export function hypsRawLoad({ port, size, windowBytes, channel = 'bench.fwd' }) {
  let pub = null;
  let sub = null;
  let pump = null;
  const connectHyps = async () => {
    const conn = await countingSocket(port, new HypsFrameCounter());
    const { socket, counter } = conn;
    socket.write(encodeHello({ protocol: 1, name: 'bench' }));
    await waitUntil(() => counter.acks >= 1 || counter.errors.length > 0, { what: 'HELLO OK' });
    failIfErrors('hyps HELLO', counter.errors);
    return conn;
  };
  return {
    name: 'hyps',
    received: () => sub.counter.records,
    sent: () => pump.sent,
    lossReported: () => sub.counter.dropped,
    errors: () => [...(pub?.counter.errors ?? []), ...(sub?.counter.errors ?? [])],
    async open() {
      sub = await connectHyps();
      sub.socket.write(encodeSub(channel));
      await waitUntil(() => sub.counter.acks >= 2 || sub.counter.errors.length > 0, {
        what: 'SUB OK',
      });
      failIfErrors('hyps SUB', sub.counter.errors);
      pub = await connectHyps();
      const record = encodeRecord(channel, payload(size));
      const ackBase = pub.counter.acks; // the HELLO
      pump = rawSocketPump(pub, sub, record, windowBytes, () =>
        Math.min(pub.counter.acks - ackBase, sub.counter.records),
      );
    },
    ...pumpControls(() => pump),
    async close() {
      pub?.socket.destroy();
      sub?.socket.destroy();
    },
  };
}

/** Redis with a hand-pipelined raw RESP client: PUBLISH commands pre-encoded, written in batches. */
export function redisRawLoad({ port, size, windowBytes, channel = 'bench.fwd' }) {
  let pub = null;
  let sub = null;
  let pump = null;
  const connectResp = () => countingSocket(port, new RespCounter());
  return {
    name: 'redis-raw',
    received: () => sub.counter.messages,
    sent: () => pump.sent,
    lossReported: () => 0,
    errors: () => [...(pub?.counter.errors ?? []), ...(sub?.counter.errors ?? [])],
    async open() {
      sub = await connectResp();
      sub.socket.write(encodeResp('SUBSCRIBE', channel));
      await waitUntil(() => sub.counter.pushes >= 1 || sub.counter.errors.length > 0, {
        what: 'SUBSCRIBE confirmation',
      });
      failIfErrors('redis SUBSCRIBE', sub.counter.errors);
      pub = await connectResp();
      const command = encodeResp('PUBLISH', channel, payload(size));
      pump = rawSocketPump(pub, sub, command, windowBytes, () =>
        Math.min(pub.counter.replies, sub.counter.messages),
      );
    },
    ...pumpControls(() => pump),
    async close() {
      pub?.socket.destroy();
      sub?.socket.destroy();
    },
  };
}

/** Redis through ioredis (auto-pipelining on), for reference. */
export function ioredisLoad({ port, size, windowBytes, channel = 'bench.fwd' }) {
  let pub = null;
  let sub = null;
  let pump = null;
  let received = 0;
  let acked = 0;
  const errors = [];
  const options = {
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  };
  return {
    name: 'ioredis',
    received: () => received,
    sent: () => pump.sent,
    lossReported: () => 0,
    errors: () => errors,
    async open() {
      sub = new Redis(options);
      pub = new Redis(options);
      for (const client of [sub, pub]) client.on('error', (error) => errors.push(error.message));
      await sub.connect();
      await pub.connect();
      const body = payload(size);
      const channelBytes = Buffer.from(channel);
      const onAck = () => {
        acked++;
        pump.pump();
      };
      const onError = (error) => errors.push(error.message);
      pump = windowedPump({
        sendBatch: () => {
          for (let i = 0; i < CLIENT_BATCH; i++)
            pub.publish(channelBytes, body).then(onAck, onError);
        },
        batchCount: CLIENT_BATCH,
        windowMessages: windowFor(windowBytes, encodeResp('PUBLISH', channel, body).length),
        done: () => Math.min(acked, received),
      });
      sub.on('messageBuffer', () => {
        received++;
        pump.pump();
      });
      await sub.subscribe(channel);
    },
    ...pumpControls(() => pump),
    async close() {
      pub?.disconnect();
      sub?.disconnect();
    },
  };
}

/**
 * NATS through nats.js, for reference. Core NATS publishes are not acknowledged, so the window
 * counts only what the subscriber received.
 */
export function natsLoad({ port, size, windowBytes, subject = 'bench.fwd' }) {
  let pub = null;
  let sub = null;
  let pump = null;
  let received = 0;
  const errors = [];
  return {
    name: 'nats',
    received: () => received,
    sent: () => pump.sent,
    lossReported: () => 0,
    errors: () => errors,
    async open() {
      const options = { servers: `127.0.0.1:${port}`, reconnect: false };
      sub = await natsConnect({ ...options, name: 'bench-sub' });
      pub = await natsConnect({ ...options, name: 'bench-pub' });
      const body = payload(size);
      // PUB <subject> <size>\r\n<payload>\r\n on the wire.
      const wireBytes = 4 + subject.length + 1 + String(size).length + 2 + size + 2;
      pump = windowedPump({
        sendBatch: () => {
          for (let i = 0; i < CLIENT_BATCH; i++) pub.publish(subject, body);
        },
        batchCount: CLIENT_BATCH,
        windowMessages: windowFor(windowBytes, wireBytes),
        done: () => received,
      });
      sub.subscribe(subject, {
        callback: (error) => {
          if (error) errors.push(error.message);
          received++;
          pump.pump();
        },
      });
      await sub.flush(); // the server has registered the subscription
    },
    ...pumpControls(() => pump),
    async close() {
      await Promise.allSettled([pub?.close(), sub?.close()]);
    },
  };
}
