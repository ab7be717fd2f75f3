// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time per function, highest first.
// Usage as a script: node bench/lib/cpuprofile-summary.mjs FILE.cpuprofile [top=25]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

function location(callFrame) {
  const { url, lineNumber } = callFrame;
  if (!url) return '';
  let path = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (path.startsWith('/')) path = relative(process.cwd(), path);
  return `${path}:${lineNumber + 1}`;
}

/**
 * [{ name, where, selfMs, percent }] sorted by self time. `(idle)` is left out, so percentages are
 * of the time the process was busy.
 */
export function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the next delta to sample i.
    const delta = timeDeltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + delta);
  }
  const rows = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    if (name === '(idle)') continue;
    const where = location(callFrame);
    const key = `${name}\u0000${where}`;
    const row = rows.get(key) ?? { name, where, selfMs: 0, percent: 0 };
    row.selfMs += us / 1000;
    rows.set(key, row);
    total += us;
  }
  const list = [...rows.values()].sort((a, b) => b.selfMs - a.selfMs);
  for (const row of list) row.percent = total === 0 ? 0 : (100 * row.selfMs * 1000) / total;
  return list;
}

/** A printable top-N table of self time. */
export function formatSelfTimes(rows, top = 25) {
  const lines = ['  self %   self ms  function (location)'];
  for (const row of rows.slice(0, top)) {
    const where = row.where ? ` (${row.where})` : '';
    lines.push(
      `${row.percent.toFixed(1).padStart(8)} ${row.selfMs.toFixed(0).padStart(9)}  ${row.name}${where}`,
    );
  }
  return lines.join('\n');
}

export function summarizeProfileFile(file, top = 25) {
  return formatSelfTimes(selfTimes(JSON.parse(readFileSync(file, 'utf8'))), top);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node bench/lib/cpuprofile-summary.mjs FILE.cpuprofile [top]');
    process.exit(2);
  }
  console.log(summarizeProfileFile(file, Number(top ?? 25)));
}
