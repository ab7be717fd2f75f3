// Runs the BUILT broker (`npm run build` first) as a child process, for end-to-end tests.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exitOf, spawnListening, type ExitStatus, type SpawnedServer } from './spawn-listening.js';

export type { ExitStatus } from './spawn-listening.js';

/** The repository root (this file is test/e2e/helpers/spawn-broker.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BROKER_BIN = fileURLToPath(
  new URL('../../../apps/broker/bin/hyps-broker.js', import.meta.url),
);

const LISTENING = /listening on (\S+):(\d+)/;

export interface SpawnedBroker extends SpawnedServer {
  host: string;
}

export interface SpawnOptions {
  /** Extra environment variables (merged over this process's environment). */
  env?: NodeJS.ProcessEnv;
  /** Bound on waiting for the listening line. */
  startTimeoutMs?: number;
  /** Replaces the default `--host 127.0.0.1 --port 0` arguments when given. */
  baseArgs?: string[];
  /**
   * Run in a new process group and signal the whole group: for wrappers such as `npx` whose
   * own child is the broker, so stop()/kill() reach it too.
   */
  processGroup?: boolean;
}

const DEFAULT_START_TIMEOUT_MS = 10_000;
const DEFAULT_STOP_TIMEOUT_MS = 8_000;

/**
 * Spawns `node apps/broker/bin/hyps-broker.js --host 127.0.0.1 --port 0 ...extraArgs` and resolves
 * once it prints its `listening on <host>:<port>` line. Rejects (and kills the child) when it exits
 * first or the line does not come within the bound.
 */
export function spawnBroker(
  extraArgs: string[] = [],
  options: SpawnOptions = {},
): Promise<SpawnedBroker> {
  const args = [BROKER_BIN, ...(options.baseArgs ?? ['--host', '127.0.0.1', '--port', '0'])];
  return startProcess(process.execPath, [...args, ...extraArgs], options);
}

/** Like spawnBroker, for any command that starts a broker (e.g. `npx hyps-broker`). */
export async function startProcess(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<SpawnedBroker> {
  const started = await spawnListening({
    name: 'broker',
    command,
    args,
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    listening: LISTENING,
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    processGroup: options.processGroup,
  });
  const { match, stop } = started;
  return {
    ...started,
    host: match[1]!,
    port: Number(match[2]),
    stop: (timeoutMs = DEFAULT_STOP_TIMEOUT_MS) => stop(timeoutMs),
  };
}

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

/**
 * Runs the broker with these arguments to completion (for --help and configuration errors).
 * SIGKILLs it and rejects if it is still running after `timeoutMs`.
 */
export function runBroker(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  const child = spawn(process.execPath, [BROKER_BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  return new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hyps-broker ${args.join(' ')} still running after ${timeoutMs} ms`));
    }, timeoutMs);
    void exitOf(child).then((status) => {
      clearTimeout(timer);
      resolve({ ...status, stdout, stderr });
    });
  });
}
