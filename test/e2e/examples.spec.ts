// The runnable examples in examples/ run as their README says, against the built broker: they
// are compiled here, then run as separate node processes with HYPS_URL pointing at it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, spawnBroker, type SpawnedBroker } from './helpers/spawn-broker.js';

const run = promisify(execFile);
const EXAMPLES_DIST = join(REPO_ROOT, 'examples', 'dist');
const RUN_TIMEOUT_MS = 20_000;

let broker: SpawnedBroker;
let env: NodeJS.ProcessEnv;
const started: ChildProcess[] = [];

/** Runs one compiled example to its end; resolves with its stdout, rejects on a non-zero exit. */
async function runExample(name: string): Promise<string> {
  const { stdout } = await run(process.execPath, [join(EXAMPLES_DIST, name)], {
    cwd: REPO_ROOT,
    env,
    timeout: RUN_TIMEOUT_MS,
  });
  return stdout;
}

/** Starts a long-running example and resolves once its output contains `readyText`. */
function startExample(name: string, readyText: string): Promise<() => string> {
  const child = spawn(process.execPath, [join(EXAMPLES_DIST, name)], { cwd: REPO_ROOT, env });
  started.push(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready within ${RUN_TIMEOUT_MS} ms: ${output}`)),
      RUN_TIMEOUT_MS,
    );
    const check = (): void => {
      if (!output.includes(readyText)) return;
      clearTimeout(timer);
      resolve(() => output);
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready: ${output}`));
    });
  });
}

beforeAll(async () => {
  await run(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'examples'],
    {
      cwd: REPO_ROOT,
      timeout: 90_000,
    },
  );
  broker = await spawnBroker();
  env = { ...process.env, HYPS_URL: `hyps://127.0.0.1:${broker.port}`, NO_COLOR: '1' };
}, 120_000);

afterAll(async () => {
  for (const child of started) child.kill('SIGKILL');
  await broker?.kill();
});

describe('examples/', () => {
  it('hyps-client.ts: Observables, the pull API, both publish forms and a typed refusal', async () => {
    const output = await runExample('hyps-client.js');
    expect(output).toContain('receivers: 1');
    expect(output).toContain('ticks: example.ticks.eu=1 example.ticks.us=2 example.ticks.us=3');
    expect(output).toContain('pulled: { n: 1 }');
    expect(output).toContain('refused: true');
    expect(output).toContain('callback publishes acknowledged: 2');
  });

  it('microservice.ts answers client.ts: events, request/reply, streams, RpcException, no responders', async () => {
    const serviceOutput = await startExample('microservice.js', 'listening on');
    const output = await runExample('client.js');
    expect(output).toContain('total: 13');
    expect(output).toContain("progress: [ 'step 1/3', 'step 2/3', 'step 3/3' ]");
    expect(output).toContain("rpc error: { code: 'BAD_ORDER'");
    expect(output).toContain('no responders, as expected');
    const deadline = Date.now() + 5_000;
    while (
      !serviceOutput().includes('order 1 shipped via orders.shipped.eu') &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(serviceOutput()).toContain('order 1 created');
    expect(serviceOutput()).toContain('order 1 shipped via orders.shipped.eu (orders.shipped.*)');
  });

  it('module.ts: HypsModule provides one connected client, injected two ways', async () => {
    const output = await runExample('module.js');
    expect(output).toContain("chat.lobby { text: 'hello' }");
    expect(output).toContain("chat.lobby.games { text: 'anyone?' }");
  });
});
