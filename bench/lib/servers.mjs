// Start and stop the servers benchmarks compare: the Hyps broker, redis-server and nats-server,
// each a child process on 127.0.0.1 with a bounded wait for readiness.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTracked, stopChild } from './children.mjs';
import { freePort, LOOPBACK, waitForTcp } from './net.mjs';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The broker CLI built by `npm run build` (apps/broker). */
export const BROKER_CLI = join(REPO_ROOT, 'apps', 'broker', 'bin', 'hyps-broker.js');
/** Fallback used while the CLI does not exist: the Broker class from the built package. */
const BROKER_CHILD = join(REPO_ROOT, 'bench', 'lib', 'hyps-broker-child.mjs');

export const REDIS_SERVER = '/usr/bin/redis-server';
export const NATS_SERVER = '/usr/sbin/nats-server';

export const INSTALL_HINTS = {
  redis: 'apt-get install redis-server',
  nats: 'apt-get install nats-server',
};

/**
 * Spawns `command` and resolves once its output matches `ready` (and, when `port` is given, the
 * port accepts connections); rejects with its output if it exits first or `timeoutMs` passes.
 * `prefix` is put in front of the command (e.g. `taskset -c 0`).
 */
export function startProcess({
  name,
  command,
  args,
  ready,
  port,
  timeoutMs = 10_000,
  prefix = [],
}) {
  const full = [...prefix, command, ...args];
  return new Promise((resolve, reject) => {
    let seen = '';
    let settled = false;
    let match = null;
    const fail = (message) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${name}: ${message}\n--- output ---\n${child.recentOutput()}`));
    };
    const child = spawnTracked(full[0], full.slice(1), {
      onOutput: (text) => {
        if (match) return;
        seen = (seen + text).slice(-8_192);
        match = ready.exec(seen);
        if (!match) return;
        const tcpPort = port ?? (match.groups?.port ? Number(match.groups.port) : undefined);
        const tcpReady = tcpPort ? waitForTcp(tcpPort, { timeoutMs }) : Promise.resolve();
        tcpReady.then(
          () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ child, match, port: tcpPort });
          },
          (error) => fail(error.message),
        );
      },
    });
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    child.once('error', (error) => fail(`could not start ${full[0]}: ${error.message}`));
    child.once('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
  });
}

function handle(name, started) {
  const { child, port } = started;
  return {
    name,
    host: LOOPBACK,
    port,
    pid: child.pid,
    child,
    stop: () => stopChild(child),
  };
}

/** redis-server without persistence on a free port. Null when the binary is missing. */
export async function startRedis({ prefix = [], extraArgs = [] } = {}) {
  if (!existsSync(REDIS_SERVER)) return null;
  const port = await freePort();
  const args = ['--port', String(port), '--bind', LOOPBACK, '--save', '', '--appendonly', 'no'];
  args.push('--protected-mode', 'no', ...extraArgs);
  const started = await startProcess({
    name: 'redis-server',
    command: REDIS_SERVER,
    args,
    ready: /Ready to accept connections/,
    port,
    prefix,
  });
  return handle('redis-server', started);
}

/** nats-server on a free port. Null when the binary is missing. */
export async function startNats({ prefix = [], extraArgs = [] } = {}) {
  if (!existsSync(NATS_SERVER)) return null;
  const port = await freePort();
  const started = await startProcess({
    name: 'nats-server',
    command: NATS_SERVER,
    args: ['-a', LOOPBACK, '-p', String(port), ...extraArgs],
    ready: /Server is ready/,
    port,
    prefix,
  });
  return handle('nats-server', started);
}

/**
 * The Hyps broker in its own node process on a free port: the built CLI when it exists, else a
 * small script around the Broker class. `nodeArgs` go to node (e.g. `--cpu-prof`). A SIGTERM
 * stop lets it exit normally, which a CPU profile needs to be written.
 */
export async function startHypsBroker({ prefix = [], nodeArgs = [], timeoutMs = 10_000 } = {}) {
  const useCli = existsSync(BROKER_CLI);
  const script = useCli ? BROKER_CLI : BROKER_CHILD;
  const args = [...nodeArgs, script, '--host', LOOPBACK, '--port', '0'];
  const started = await startProcess({
    name: 'hyps-broker',
    command: process.execPath,
    args,
    ready: /listening on (?<host>[^\s:]+):(?<port>\d+)/,
    prefix,
    timeoutMs,
  });
  return {
    ...handle('hyps-broker', started),
    via: useCli ? 'apps/broker/bin/hyps-broker.js' : 'bench/lib/hyps-broker-child.mjs',
    stop: () => stopChild(started.child, { timeoutMs: 10_000 }),
  };
}
