// Child processes started by a benchmark, killed however the benchmark ends (normal exit, error,
// Ctrl-C), so no server outlives the run.
import { spawn } from 'node:child_process';

const children = new Set();
let handlersInstalled = false;

function killAllNow() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

function installExitHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      killAllNow();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (error) => {
    console.error(error);
    killAllNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    console.error(error);
    killAllNow();
    process.exit(1);
  });
}

/**
 * Spawns a tracked child. Its stdout and stderr are kept (last 16 KiB) for error messages;
 * `onOutput(text)` sees every piece as it arrives.
 */
export function spawnTracked(command, args, { onOutput, ...options } = {}) {
  installExitHandlers();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  let output = '';
  const collect = (data) => {
    const text = data.toString();
    output = (output + text).slice(-16_384);
    onOutput?.(text);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.on('exit', () => children.delete(child));
  child.recentOutput = () => output;
  return child;
}

/** Resolves when `child` has exited, or after `timeoutMs` with false. */
export function waitForExit(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Asks a child to stop with `signal`; kills it after `timeoutMs` if it has not. */
export async function stopChild(child, { signal = 'SIGTERM', timeoutMs = 3_000 } = {}) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (await waitForExit(child, timeoutMs)) return;
  child.kill('SIGKILL');
  await waitForExit(child, 1_000);
}

/** Kills every tracked child at once (for finally blocks). */
export function killAllChildren() {
  killAllNow();
}
