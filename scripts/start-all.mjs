#!/usr/bin/env node
// One-command start (`npm start` builds, then runs this): the Hyps broker and the sample API
// together, on HYPS_PORT (default 8787) and PORT (default 3000). Prints the URL to open; on
// Ctrl-C or SIGTERM stops the sample API first (it drains its Hyps connection), then the broker.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const BROKER = fileURLToPath(new URL('../apps/broker/bin/hyps-broker.js', import.meta.url));
const BROKER_BUILT = fileURLToPath(new URL('../apps/broker/dist/main.js', import.meta.url));
const SAMPLE_API = fileURLToPath(new URL('../apps/sample-api/dist/main.js', import.meta.url));
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

const hypsPort = portFrom('HYPS_PORT', 8787);
const httpPort = portFrom('PORT', 3000);
const children = [];
let stopping = false;

function portFrom(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`${name} must be a port number (1-65535), got "${raw}"`, 2);
  }
  return port;
}

function fail(message, code = 1) {
  process.stderr.write(`start-all: ${message}\n`);
  process.exit(code);
}

/** Prefixes each output line with the child's name, and resolves on its listening line. */
function start(name, script, args, env, listening) {
  // Own process group: a terminal's Ctrl-C reaches only this script, which then stops the
  // children in order (sample API before the broker it is connected to).
  const child = spawn(process.execPath, [script, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push({ name, child });
  const exited = new Promise((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  let seen = '';
  let ready = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    const forward = (stream, target) => {
      let partial = '';
      stream.setEncoding('utf8').on('data', (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop();
        for (const line of lines) target.write(`[${name}] ${line}\n`);
        if (target === process.stdout) {
          seen += chunk;
          const match = listening.exec(seen);
          if (match) {
            clearTimeout(timer);
            ready = true;
            resolve({ match, exited });
          }
        }
      });
    };
    forward(child.stdout, process.stdout);
    forward(child.stderr, process.stderr);
    child.once('error', (error) => reject(new Error(`cannot run ${name}: ${error.message}`)));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
      // Before it was ready, main() reports the failure (with a hint) and stops the rest.
      if (ready && !stopping) {
        void stopAll(1, `${name} exited unexpectedly (code ${code}, signal ${signal})`);
      }
    });
  });
}

async function stopOne({ name, child }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    process.stderr.write(
      `start-all: ${name} still running after ${STOP_TIMEOUT_MS} ms, killing it\n`,
    );
    child.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function stopAll(code, reason) {
  if (stopping) return;
  stopping = true;
  if (reason) process.stderr.write(`start-all: ${reason}; stopping\n`);
  // Newest first: the sample API, then the broker.
  for (const entry of [...children].reverse()) await stopOne(entry);
  process.exit(code);
}

// Last resort if this script dies some other way: never leave the children running.
process.on('exit', () => {
  for (const { child } of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    process.stdout.write(
      `\nstart-all: ${signal} received, stopping the sample API and the broker…\n`,
    );
    void stopAll(0);
  });
}

async function main() {
  if (!existsSync(BROKER_BUILT) || !existsSync(SAMPLE_API)) {
    fail('the apps are not built yet: run `npm run build` first (or simply `npm start`)');
  }
  const broker = await start(
    'broker',
    BROKER,
    ['--host', '127.0.0.1', '--port', String(hypsPort)],
    // A quiet console by default (the broker logs JSON lines); HYPS_LOG_LEVEL=info shows them.
    { HYPS_LOG_LEVEL: process.env.HYPS_LOG_LEVEL || 'warn' },
    /listening on (\S+):(\d+)/,
  );
  const hypsUrl = `hyps://127.0.0.1:${broker.match[2]}`;
  const api = await start(
    'sample-api',
    SAMPLE_API,
    [],
    { PORT: String(httpPort), HYPS_URL: hypsUrl },
    /sample-api listening on (http:\/\/\S+)/,
  );
  const url = api.match[1].replace('127.0.0.1', 'localhost');
  process.stdout.write(
    `\n  Hyps chat is running: open ${url}\n` +
      `  (broker on ${hypsUrl}; stats at ${url}/stats; Ctrl-C stops both)\n\n`,
  );
}

main().catch((error) => {
  const hint = /broker/.test(error.message)
    ? ` (is port ${hypsPort} free? set HYPS_PORT to use another one)`
    : ` (is port ${httpPort} free? set PORT to use another one)`;
  void stopAll(1, `${error.message}${hint}`);
});
