// One connection of each client library behind the same small interface, so a scenario is
// written once and run against HypsClient, ioredis and nats.js alike:
//
//   const conn = await ADAPTERS.hyps.connect(port, 'name');
//   conn.publish(channel, data, onAck)   // onAck when the server acknowledged (never for NATS)
//   await conn.subscribe(channels, handlerFor)   // handlerFor(i)(data) per message of channels[i]
//   await conn.subscribeLocal(channel, handlers) // one server subscription, local fan-out
//   conn.errors, conn.dropped(), await conn.close()
//
// Each delivery reaches a handler of its own channel, the way an app routes a message to the
// user it belongs to: HypsClient and nats.js route per subscription themselves; for ioredis, whose
// connection emits every message on one event, a Map from channel to handler does it.
import { EventEmitter } from 'node:events';
import { HypsClient } from '@hyps/transport';
import { Redis } from 'ioredis';
import { connect as natsConnect } from 'nats';

/** Bound on a connection attempt (TCP + handshake) for every client. */
const CONNECT_TIMEOUT_MS = 5_000;
/** ioredis: channels per SUBSCRIBE command when subscribing many. */
const SUBSCRIBE_CHUNK = 1_000;

const noop = () => {};

function errorSink(errors) {
  return (error) => {
    if (errors.length < 100) errors.push(error?.message ?? String(error));
  };
}

/**
 * A Node-style publish callback that calls `onAck`, or `onError` with the error; the same one
 * while `onAck` stays the same, so a publish allocates nothing for it.
 */
function ackCallbacks(onError) {
  let lastAck;
  let callback;
  // Not inline below: a closure there would allocate a context on every call.
  const callbackFor = (onAck) => (error) => (error ? onError(error) : onAck());
  return (onAck) => {
    if (onAck !== lastAck) {
      lastAck = onAck;
      callback = callbackFor(onAck);
    }
    return callback;
  };
}

/** Resolves like `promise`, or rejects naming `what` after `timeoutMs`. */
export function withTimeout(promise, timeoutMs, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function connectHyps(port, name) {
  const client = new HypsClient({
    url: `hyps://127.0.0.1:${port}`,
    name,
    reconnect: false,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
  });
  const errors = [];
  const onError = errorSink(errors);
  const callbackFor = ackCallbacks(onError);
  client.on('error', onError);
  await client.connect();
  const observers = [];
  return {
    errors,
    dropped: () => client.dropped,
    publish(channel, data, onAck) {
      // The callback form: no promise per publish, as a busy publisher would use it.
      client.publish(channel, data, callbackFor(onAck));
    },
    async subscribe(channels, handlerFor) {
      const readies = [];
      for (let i = 0; i < channels.length; i++) {
        const handler = handlerFor(i);
        const subscription = client.subscribe(channels[i]);
        observers.push(
          subscription.subscribe({ next: (message) => handler(message.data), error: onError }),
        );
        readies.push(subscription.ready);
      }
      await Promise.all(readies);
    },
    async subscribeLocal(channel, handlers) {
      // One subscription, many observers: the client sends one SUB and fans out locally.
      const subscription = client.subscribe(channel);
      for (const handler of handlers) {
        observers.push(subscription.subscribe({ next: handler, error: onError }));
      }
      await subscription.ready;
    },
    async close() {
      await client.close();
    },
  };
}

async function connectIoredis(port, name) {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    connectionName: name,
    lazyConnect: true,
    enableAutoPipelining: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  const errors = [];
  const onError = errorSink(errors);
  const callbackFor = ackCallbacks(onError);
  client.on('error', onError);
  await client.connect();
  return {
    errors,
    dropped: () => 0,
    publish(channel, data, onAck) {
      // ioredis takes a callback too (it still makes a promise inside).
      client.publish(channel, data, callbackFor(onAck));
    },
    async subscribe(channels, handlerFor) {
      const handlers = new Map();
      for (let i = 0; i < channels.length; i++) handlers.set(channels[i], handlerFor(i));
      client.on('messageBuffer', (channel, message) => {
        const handler = handlers.get(channel.toString());
        if (handler !== undefined) handler(message);
      });
      for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK) {
        await client.subscribe(...channels.slice(i, i + SUBSCRIBE_CHUNK));
      }
    },
    async subscribeLocal(channel, handlers) {
      const local = new EventEmitter();
      local.setMaxListeners(0);
      for (const handler of handlers) local.on('message', handler);
      client.on('messageBuffer', (_channel, message) => local.emit('message', message));
      await client.subscribe(channel);
    },
    async close() {
      client.disconnect();
    },
  };
}

async function connectNats(port, name) {
  const nc = await natsConnect({
    servers: `127.0.0.1:${port}`,
    name,
    reconnect: false,
    timeout: CONNECT_TIMEOUT_MS,
  });
  const errors = [];
  const onError = errorSink(errors);
  return {
    errors,
    dropped: () => 0,
    // Core NATS does not acknowledge publishes: onAck is never called.
    publish(subject, data) {
      nc.publish(subject, data);
    },
    async subscribe(subjects, handlerFor) {
      for (let i = 0; i < subjects.length; i++) {
        const handler = handlerFor(i);
        nc.subscribe(subjects[i], {
          callback: (error, message) => (error ? onError(error) : handler(message.data)),
        });
      }
      await nc.flush(); // the server has registered every subscription
    },
    async subscribeLocal(subject, handlers) {
      const local = new EventEmitter();
      local.setMaxListeners(0);
      for (const handler of handlers) local.on('message', handler);
      nc.subscribe(subject, {
        callback: (error, message) =>
          error ? onError(error) : local.emit('message', message.data),
      });
      await nc.flush();
    },
    async close() {
      await nc.close().catch(noop);
    },
  };
}

/** The systems, in column order; `server` names the process each talks to. */
export const ADAPTERS = [
  { id: 'hyps', label: 'Hyps (HypsClient)', server: 'hyps', acks: true, connect: connectHyps },
  { id: 'redis', label: 'Redis (ioredis)', server: 'redis', acks: true, connect: connectIoredis },
  { id: 'nats', label: 'NATS (nats.js)', server: 'nats', acks: false, connect: connectNats },
];

/** Opens `count` connections, `parallel` at a time; closes them all if one fails. */
export async function connectMany(adapter, port, count, namePrefix, parallel = 50) {
  const conns = [];
  try {
    for (let i = 0; i < count; i += parallel) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + parallel); j++) {
        batch.push(adapter.connect(port, `${namePrefix}-${j}`));
      }
      const settled = await Promise.allSettled(batch);
      for (const result of settled) if (result.status === 'fulfilled') conns.push(result.value);
      const failed = settled.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
    }
    return conns;
  } catch (error) {
    await Promise.allSettled(conns.map((conn) => conn.close()));
    throw error;
  }
}
