// Memory of a broker process, read from /proc (Linux), for the bounded-memory assertions.
import { readFileSync } from 'node:fs';

export const MiB = 1024 * 1024;

/** Resident set size of process `pid` in bytes (VmRSS in /proc/<pid>/status). */
export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Samples a process's RSS on an interval and keeps the peak. Call stop() when done. */
export class RssSampler {
  peak = 0;
  samples = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 25,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes one sample now (also done on the interval); returns it. */
  sample(): number {
    let rss = 0;
    try {
      rss = readRssBytes(this.pid);
    } catch {
      return 0; // the process is gone; keep the peak seen so far
    }
    this.samples++;
    if (rss > this.peak) this.peak = rss;
    return rss;
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
