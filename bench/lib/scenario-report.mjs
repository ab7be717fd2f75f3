// Markdown report of bench/scenarios.mjs: one comparison table per scenario (median and min-max
// over repetitions, with Hyps/Redis and Hyps/NATS ratios of the medians), then CPU cost and a
// per-run detail table.
import { ratio, summarize } from './stats.mjs';
import { formatInt, formatRatio, formatShort, formatSpread, markdownTable } from './table.mjs';

const MiB = 2 ** 20;

/** "median (min-max)" with `digits` decimals, for figures that are not counts. */
function decimalSpread(summary, digits) {
  if (!summary) return 'n/a';
  const f = (value) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
  return `${f(summary.median)} (${f(summary.min)}-${f(summary.max)})`;
}

/**
 * A table with one column per system and the ratio columns. `rows` are { label, summaryOf(id),
 * format(summary) }.
 */
function comparison(shown, rows, firstHeader) {
  const ids = shown.map((adapter) => adapter.id);
  const ratios = ids.includes('hyps')
    ? [
        ['Hyps/Redis', 'redis'],
        ['Hyps/NATS', 'nats'],
      ].filter(([, id]) => ids.includes(id))
    : [];
  const headers = [firstHeader, ...shown.map((adapter) => adapter.label)];
  headers.push(...ratios.map(([label]) => label));
  const body = rows.map((row) => {
    const cells = [row.label, ...shown.map((adapter) => row.format(row.summaryOf(adapter.id)))];
    for (const [, id] of ratios)
      cells.push(formatRatio(ratio(row.summaryOf('hyps'), row.summaryOf(id))));
    return cells;
  });
  return markdownTable(headers, body, ['l']);
}

export function printReport({
  options,
  cases,
  results,
  machine,
  loadAfter,
  pinned,
  servers,
  notes,
}) {
  const runsOf = (key, id) => results.get(`${key}/${id}`);
  const summaryOf = (key, pick) => (id) => {
    const runs = runsOf(key, id);
    return runs && runs.length > 0 ? summarize(runs.map(pick)) : null;
  };
  const shown = options.systems.filter((adapter) =>
    [...results.keys()].some((key) => key.endsWith(`/${adapter.id}`)),
  );
  const casesOf = (scenario) => cases.filter((item) => item.scenario === scenario);
  const rateRow = (item, label = item.label) => ({
    label,
    summaryOf: summaryOf(item.key, (run) => run.rate),
    format: (summary) => (summary ? formatSpread(summary) : 'n/a'),
  });
  const out = (text = '') => console.log(text);

  out('\n## Client-level scenarios\n');
  out(
    `${machine.cores} cores (${machine.cpu}), node ${machine.node}, ${machine.platform}, ` +
      `load average ${machine.loadAverage} at start and ${loadAfter} at the end; ` +
      `${options.reps} reps x ${options.durationMs} ms after ${options.warmupMs} ms warm-up; ` +
      (pinned ? 'servers pinned to CPU 0, clients (this process) to CPU 1' : 'no CPU pinning') +
      (servers.hyps ? `; Hyps broker via ${servers.hyps.via}.` : '.'),
  );
  out('Cells: median (min-max over reps). Ratios are of the medians.');
  for (const note of notes) out(`Note: ${note}`);

  /** A table of rates, one row per case of `scenario`, under `heading` and its note lines. */
  const rateSection = (scenario, heading, lines, column) => {
    const cases = casesOf(scenario);
    if (cases.length === 0) return;
    out(`\n### ${heading}\n`);
    lines.forEach((line, i) => out(i === lines.length - 1 ? `${line}\n` : line));
    out(
      comparison(
        shown,
        cases.map((item) => rateRow(item)),
        column,
      ),
    );
  };

  rateSection(
    'throughput',
    'Throughput, 1 publisher -> 1 subscriber (msgs/s received)',
    [],
    'payload',
  );
  rateSection(
    'fanout',
    'Fan-out: one subscription per simulated user, all on one connection',
    [
      'One subscription per simulated user; the publisher goes round-robin over them, in',
      'subscription order or (scattered) every 7,919th channel, as events for users arrive.',
      '16 B, msgs/s received.',
    ],
    'subscriptions',
  );
  rateSection(
    'broadcast',
    'Broadcast: one channel (16 B, deliveries/s counted at the subscribers)',
    [],
    'subscribers',
  );
  const latency = casesOf('latency');
  if (latency.length > 0) {
    out('\n### Latency: publish -> receive in ms\n');
    out('Subscriber in the same process, 16 B. Ratios below 1 mean Hyps is faster;');
    out('"received/s" is the achieved rate.\n');
    const rows = [];
    for (const item of latency) {
      for (const [name, pick] of [
        ['p50', (run) => run.p50],
        ['p99', (run) => run.p99],
        ['p99.9', (run) => run.p999],
      ]) {
        rows.push({
          label: `${item.label} ${name}`,
          summaryOf: summaryOf(item.key, pick),
          format: (summary) => decimalSpread(summary, 3),
        });
      }
      rows.push(rateRow(item, `${item.label} received/s`));
    }
    out(comparison(shown, rows, 'offered rate'));
  }
  rateSection(
    'publishers',
    'Cost curve: concurrent publisher connections',
    [
      'One channel, one subscriber connection, 16 B, msgs/s received; the messages in flight',
      'are shared by all publishers.',
    ],
    'publishers',
  );
  if (results.has('rss/hyps') || results.has('rss/redis') || results.has('rss/nats')) {
    out('\n### Memory: 10,000 subscriptions on one connection\n');
    out('VmRSS of the server, a fresh server process per measurement, and the live JS heap the');
    out('client library keeps for them in this process; ratios below 1 mean Hyps uses less.\n');
    const mib = (pick) => ({
      summaryOf: summaryOf('rss', (run) => pick(run) / MiB),
      format: (summary) => decimalSpread(summary, 1),
    });
    out(
      comparison(
        shown,
        [
          { label: 'RSS connected, no subscriptions (MiB)', ...mib((run) => run.before) },
          { label: 'RSS with 10,000 subscriptions (MiB)', ...mib((run) => run.after) },
          { label: 'growth (MiB)', ...mib((run) => run.delta) },
          {
            label: 'growth per subscription (bytes)',
            summaryOf: summaryOf('rss', (run) => run.delta / 10_000),
            format: (summary) => (summary ? formatSpread(summary) : 'n/a'),
          },
          {
            label: 'client heap per subscription (bytes)',
            summaryOf: summaryOf('rss', (run) => run.clientHeapDelta / 10_000),
            format: (summary) => (summary ? formatSpread(summary) : 'n/a'),
          },
        ],
        'memory',
      ),
    );
  }
  printCost(out, shown, cases, runsOf);
  printDetail(out, shown, cases, runsOf);
}

/** CPU-seconds per million deliveries, server process and client process (the load generator). */
function printCost(out, shown, cases, runsOf) {
  const windowed = cases.filter((item) => item.scenario !== 'latency');
  if (windowed.length === 0) return;
  out('\n### CPU cost: CPU-seconds per million deliveries (medians over reps)\n');
  out('Server = the broker process (/proc utime+stime over the measured interval); client = this');
  out(
    'process, which runs every publisher and subscriber of the scenario, i.e. the client library.\n',
  );
  const format = (value) =>
    !Number.isFinite(value) ? 'n/a' : value < 0.1 ? value.toPrecision(2) : value.toFixed(2);
  const cost = (key, id, pick) => {
    const runs = runsOf(key, id);
    return runs && runs.length > 0 ? summarize(runs.map(pick)).median : NaN;
  };
  const headers = ['scenario'];
  for (const adapter of shown) headers.push(`${adapter.label} server`);
  for (const adapter of shown) headers.push(`${adapter.label} client`);
  const rows = windowed.map((item) => {
    const row = [`${item.scenario}: ${item.label}`];
    for (const adapter of shown)
      row.push(format(cost(item.key, adapter.id, (run) => run.serverCpuPerMillion)));
    for (const adapter of shown)
      row.push(format(cost(item.key, adapter.id, (run) => run.loadCpuPerMillion)));
    return row;
  });
  out(markdownTable(headers, rows, ['l']));
}

function printDetail(out, shown, cases, runsOf) {
  out('\n### Per case and system (medians over reps)\n');
  const rows = [];
  for (const item of cases) {
    for (const adapter of shown) {
      const runs = runsOf(item.key, adapter.id);
      if (!runs || runs.length === 0) continue;
      const med = (pick) => summarize(runs.map(pick)).median;
      const lost = runs.reduce((sum, run) => sum + run.lost, 0);
      const dropped = runs.reduce((sum, run) => sum + (run.dropped ?? 0), 0);
      rows.push([
        `${item.scenario}: ${item.label}`,
        adapter.label,
        formatShort(med((run) => run.rate)),
        `${Math.round(100 * med((run) => run.serverCpu))}%`,
        `${Math.round(100 * med((run) => run.loadCpu))}%`,
        `${runs.length}`,
        formatInt(lost) + (dropped > 0 ? ` (DROPPED ${formatInt(dropped)})` : ''),
      ]);
    }
  }
  out(
    markdownTable(
      ['scenario', 'system', 'rate/s', 'server CPU', 'client CPU', 'reps ok', 'lost'],
      rows,
      ['l', 'l'],
    ),
  );
}
