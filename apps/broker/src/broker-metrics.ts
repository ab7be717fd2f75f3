// Prometheus metrics for one Broker. Every hyps_* value is read from broker.stats() when it is
// scraped (prom-client collect() callbacks), so the per-message path pays nothing for metrics:
// the core only bumps plain counters it keeps anyway.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { Broker, ErrorCode, type BrokerStats } from '@hyps/transport';

/** Sampling period of the event-loop delay monitor. */
const LAG_RESOLUTION_MS = 20;

const ERROR_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(ErrorCode).map(([name, code]) => [code, name]),
);

type NumericStat = Exclude<keyof BrokerStats, 'errors'>;

const GAUGES: readonly [string, NumericStat, string][] = [
  ['hyps_connections', 'connections', 'Open client connections.'],
  ['hyps_subscriptions', 'subscriptions', 'Subscriptions held, over all connections.'],
  ['hyps_patterns', 'patterns', 'Subscriptions whose pattern has a wildcard.'],
];

const COUNTERS: readonly [string, NumericStat, string][] = [
  ['hyps_published_total', 'published', 'Records accepted from publishers.'],
  [
    'hyps_delivered_total',
    'delivered',
    'Deliveries queued: one per receiving connection or queue group per record.',
  ],
  ['hyps_dropped_total', 'dropped', 'Deliveries dropped because a receiver was too far behind.'],
  ['hyps_bytes_in_total', 'bytesIn', 'Bytes read from client connections.'],
  ['hyps_bytes_out_total', 'bytesOut', 'Bytes written to client connections.'],
  ['hyps_connections_accepted_total', 'connectionsAccepted', 'Connections accepted.'],
  [
    'hyps_connections_rejected_total',
    'connectionsRejected',
    'Connections refused when they arrived (over --max-connections).',
  ],
];

export interface BrokerMetrics {
  readonly registry: Registry;
  /** Stops the event-loop monitor. */
  stop(): void;
}

export function createBrokerMetrics(broker: Broker): BrokerMetrics {
  const registry = new Registry();
  const lag: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  lag.enable();

  for (const [name, stat, help] of GAUGES) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(broker.stats()[stat]);
      },
    });
  }

  // The core keeps running totals; a scrape copies them (reset + inc, as counters cannot be set).
  for (const [name, stat, help] of COUNTERS) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(broker.stats()[stat]);
      },
    });
  }

  new Counter({
    name: 'hyps_errors_total',
    help: 'ERR frames sent to clients, by wire code (docs/protocol.md section 6).',
    labelNames: ['code', 'name'],
    registers: [registry],
    collect() {
      this.reset();
      const sent = broker.stats().errors;
      // Every known code from 0, so that rate() works before the first error of a kind.
      const codes = new Set([...ERROR_NAMES.keys(), ...Object.keys(sent).map(Number)]);
      for (const code of codes) {
        this.inc({ code: String(code), name: ERROR_NAMES.get(code) ?? 'UNKNOWN' }, sent[code] ?? 0);
      }
    },
  });

  // The monitor records the whole interval between its timer's runs, so an idle loop reads as
  // the resolution itself; report only the delay beyond it.
  new Gauge({
    name: 'hyps_event_loop_lag_seconds',
    help:
      'p99 event-loop delay since the previous scrape, in seconds: how late a timer ran ' +
      `(perf_hooks.monitorEventLoopDelay p99 minus its ${LAG_RESOLUTION_MS} ms sampling period).`,
    registers: [registry],
    collect() {
      const p99Ns = lag.count > 0 ? lag.percentile(99) : 0;
      this.set(Math.max(0, p99Ns / 1e6 - LAG_RESOLUTION_MS) / 1e3);
      lag.reset();
    },
  });

  collectDefaultMetrics({ register: registry });

  return { registry, stop: () => lag.disable() };
}
