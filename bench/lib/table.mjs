// Markdown tables and number formatting for benchmark reports.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 1234567 -> "1,234,567". */
export function formatInt(value) {
  return Number.isFinite(value) ? integer.format(Math.round(value)) : 'n/a';
}

/** 1234567 -> "1.23M", 45600 -> "45.6k". */
export function formatShort(value) {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toPrecision(3)}k`;
  return value.toPrecision(3);
}

/** A summary (see stats.mjs) as "median (min-max)". */
export function formatSpread(summary) {
  if (!summary) return 'skipped';
  return `${formatInt(summary.median)} (${formatShort(summary.min)}-${formatShort(summary.max)})`;
}

export function formatRatio(value) {
  return value === null || !Number.isFinite(value) ? 'n/a' : `${value.toFixed(2)}x`;
}

export function formatBytes(bytes) {
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** A GitHub-flavoured markdown table; `align` holds 'l' or 'r' per column (default 'r'). */
export function markdownTable(headers, rows, align = []) {
  const cells = [headers, ...rows].map((row) => row.map((cell) => String(cell)));
  const widths = headers.map((_, c) => Math.max(3, ...cells.map((row) => row[c].length)));
  const pad = (text, c) =>
    (align[c] ?? 'r') === 'l' ? text.padEnd(widths[c]) : text.padStart(widths[c]);
  const line = (row) => `| ${row.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => ((align[c] ?? 'r') === 'l' ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}
