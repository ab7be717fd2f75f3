// What the benchmark ran on, and per-process CPU accounting from /proc (Linux).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

let clockTicks = null;

function ticksPerSecond() {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds (user + system) a process has used so far, or NaN when unknown. */
export function processCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return NaN;
  }
}

let gc = null;

/** Two full, compacting collections of this process's heap (gc is exposed on first use). */
export function collectGarbage() {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc');
  }
  gc();
  gc();
}

/** CPU seconds this process has used so far. */
export function ownCpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

export function machineSummary() {
  const model = cpus()[0]?.model?.trim() ?? 'unknown CPU';
  return {
    // All CPUs of the machine, not this process's affinity (which pinning narrows).
    cores: cpus().length,
    loadAverage: loadavg()
      .map((value) => value.toFixed(2))
      .join(' '),
    cpu: model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** The `taskset` prefix that pins a child to `cpu`, or [] when pinning is not possible. */
export function pinPrefix(cpu) {
  return canPin() ? ['taskset', '-c', String(cpu)] : [];
}

/** Pins this process to `cpu`; returns whether it worked. */
export function pinSelf(cpu) {
  if (!canPin()) return false;
  try {
    execFileSync('taskset', ['-a', '-pc', String(cpu), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function canPin() {
  // cpus() lists every CPU of the machine; availableParallelism() would count only this
  // process's affinity, which is 1 once pinSelf() has run, and so refuse to pin the servers.
  return (
    process.platform === 'linux' &&
    cpus().length >= 2 &&
    (existsSync('/usr/bin/taskset') || existsSync('/bin/taskset'))
  );
}

/** Resident memory of a process in bytes (VmRSS in /proc/<pid>/status), or NaN when unknown. */
export function processRssBytes(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** This process's soft limit on open files (`ulimit -n`), or NaN when unknown. */
export function openFileLimit() {
  try {
    const text = execFileSync('sh', ['-c', 'ulimit -n']).toString().trim();
    return text === 'unlimited' ? Infinity : Number(text);
  } catch {
    return NaN;
  }
}
