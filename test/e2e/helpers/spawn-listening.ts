// Starts a child process that announces readiness with a "listening" line on stdout, for the
// end-to-end helpers of the built broker and sample API: output kept, bounded start, stop/kill.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ListeningOptions {
  /** Named in errors ("<name> did not start: ..."). */
  name: string;
  command: string;
  args: string[];
  cwd: string;
  /** The child's whole environment. */
  env: NodeJS.ProcessEnv;
  /** The stdout line that means ready; its match is handed back. */
  listening: RegExp;
  startTimeoutMs: number;
  /**
   * Run in a new process group and signal the whole group: for wrappers such as `npx` whose own
   * child is the server, so stop()/kill() reach it too.
   */
  processGroup?: boolean;
}

export interface ListeningProcess {
  /** The match of `listening` in the child's stdout. */
  match: RegExpExecArray;
  process: ChildProcess;
  /** Everything the child printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited and its output is read. */
  readonly exited: Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL if it has not exited within `timeoutMs`. */
  stop(timeoutMs: number): Promise<ExitStatus>;
  /** SIGKILL now; resolves on exit. */
  kill(): Promise<ExitStatus>;
}

/** A started server as the e2e tests use it; `stop()` without a bound uses the helper's default. */
export interface SpawnedServer {
  port: number;
  process: ChildProcess;
  /** Everything the server printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  /** SIGTERM (a graceful drain), then SIGKILL if it has not exited within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
  /** SIGKILL now; resolves on exit. */
  kill(): Promise<ExitStatus>;
}

/** Delay after which a child that never spawned (and may never emit 'close') is given up on. */
const GIVE_UP_ON_EXIT_MS = 2_000;

/**
 * Spawns the command and resolves once stdout matches `listening`. Rejects, after killing the
 * child, when it exits or fails to spawn first, or the line does not come within the bound.
 */
export function spawnListening(options: ListeningOptions): Promise<ListeningProcess> {
  const { name, command, startTimeoutMs, listening } = options;
  const group = options.processGroup ?? false;
  const child = spawn(command, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  // Keep a late 'error' (e.g. a failed kill) from crashing the test process.
  child.on('error', (e) => (err += `\n[spawn error] ${e.message}`));
  const exited = exitOf(child);

  const signal = (signalName: NodeJS.Signals) => {
    try {
      if (group && child.pid !== undefined) process.kill(-child.pid, signalName);
      else if (isRunning(child)) child.kill(signalName);
    } catch {
      // Already gone.
    }
  };
  const stop = async (timeoutMs: number): Promise<ExitStatus> => {
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  const kill = (): Promise<ExitStatus> => {
    signal('SIGKILL');
    return exited;
  };

  return new Promise<ListeningProcess>((resolve, reject) => {
    const fail = (why: string) => {
      cleanup();
      const report = () =>
        reject(new Error(`${name} did not start: ${why}\nstdout:\n${out}\nstderr:\n${err}`));
      const bound = setTimeout(report, GIVE_UP_ON_EXIT_MS);
      void kill().then(() => {
        clearTimeout(bound);
        report();
      });
    };
    const timer = setTimeout(
      () => fail(`no listening line within ${startTimeoutMs} ms`),
      startTimeoutMs,
    );
    const onData = () => {
      const match = listening.exec(out);
      if (!match) return;
      cleanup();
      resolve({
        match,
        process: child,
        stdout: () => out,
        stderr: () => err,
        exited,
        stop,
        kill,
      });
    };
    const onExit = (code: number | null, exitSignal: NodeJS.Signals | null) =>
      fail(`exited with code ${code} signal ${exitSignal}`);
    const onError = (error: Error) => fail(`cannot run ${command}: ${error.message}`);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Call right after spawn. 'close' rather than 'exit', so all output has been read by then. */
export function exitOf(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}
