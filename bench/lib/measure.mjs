// Runs one load for a warm-up then a measured interval, and accounts for rate, CPU and loss.
import { ownCpuSeconds, processCpuSeconds } from './machine.mjs';
import { sleep, waitUntil } from './net.mjs';

/**
 * `load` follows pubsub-loads.mjs. Returns { rate (msgs/s received during the measured interval),
 * serverCpu and loadCpu (fraction of one core during it), sent, received, lost }.
 */
export async function measureLoad(load, { warmupMs, durationMs, serverPid, drainMs = 3_000 }) {
  try {
    await load.open();
    load.start();
    await sleep(warmupMs);
    const start = snapshot(load, serverPid);
    await sleep(durationMs);
    const end = snapshot(load, serverPid);
    load.stop();
    // Let what is in flight arrive, so loss can be told apart from lag.
    await waitUntil(() => load.received() >= load.sent(), { timeoutMs: drainMs }).catch(() => {});
    const errors = load.errors();
    if (errors.length > 0) throw new Error(`${load.name}: ${errors.slice(0, 3).join('; ')}`);
    const seconds = (end.at - start.at) / 1000;
    return {
      rate: (end.received - start.received) / seconds,
      serverCpu: (end.serverCpu - start.serverCpu) / seconds,
      loadCpu: (end.loadCpu - start.loadCpu) / seconds,
      sent: load.sent(),
      received: load.received(),
      lost: load.sent() - load.received(),
      reportedLoss: load.lossReported(),
    };
  } finally {
    load.stop();
    await load.close();
  }
}

function snapshot(load, serverPid) {
  return {
    at: performance.now(),
    received: load.received(),
    serverCpu: processCpuSeconds(serverPid),
    loadCpu: ownCpuSeconds(),
  };
}
