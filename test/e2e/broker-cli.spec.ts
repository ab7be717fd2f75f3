// End to end: the BUILT hyps-broker (run `npm run build` first) as a child process, spoken to
// over raw TCP with the codec. Covers flags and HYPS_* variables, exit statuses, auth modes and
// the graceful drain on SIGTERM/SIGINT.
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHello, encodeRecord, encodeSub, ErrorCode } from '@hyps/transport';
import {
  runBroker,
  spawnBroker,
  startProcess,
  type SpawnedBroker,
} from './helpers/spawn-broker.js';
import { openWireClients, WireClient } from './helpers/wire-client.js';

const brokers: SpawnedBroker[] = [];
const tempDirs: string[] = [];

async function start(args: string[] = [], env?: NodeJS.ProcessEnv): Promise<SpawnedBroker> {
  const broker = await spawnBroker(args, { env });
  brokers.push(broker);
  return broker;
}

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hyps-broker-cli-'));
  tempDirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

afterEach(async () => {
  for (const client of openWireClients) client.destroy();
  await Promise.all(brokers.splice(0).map((b) => b.kill()));
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('hyps-broker (built app)', () => {
  it('listens on the port it reports and routes a publish to a subscriber', async () => {
    const broker = await start(['--max-frame-bytes', '4096', '--max-channel-bytes', '64']);
    expect(broker.host).toBe('127.0.0.1');
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.stdout().match(/listening on/g)).toHaveLength(1);

    const [subscriber, info] = await WireClient.open(broker.port, { protocol: 1 });
    expect(info).toMatchObject({
      protocol: 1,
      server: 'hyps',
      auth: 'none',
      maxFrameBytes: 4096,
      maxChannelBytes: 64,
    });
    const [publisher] = await WireClient.open(broker.port, { protocol: 1 });

    subscriber.send(encodeSub('chat.*'));
    expect((await subscriber.next('ok')).results).toEqual([0]);
    const record = encodeRecord('chat.room', 'hello\nworld');
    publisher.send(record);
    expect((await publisher.next('ok')).results).toEqual([1]);
    const delivery = await subscriber.next('record');
    expect(delivery.frame.equals(record)).toBe(true);
  });

  it('--help prints every flag with its variable and default, and exits 0', async () => {
    const result = await runBroker(['--help']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const flags = [
      ['--host', 'HYPS_HOST', '127.0.0.1'],
      ['--port', 'HYPS_PORT', '8787'],
      ['--token', 'HYPS_TOKEN', ''],
      ['--users-file', 'HYPS_USERS_FILE', ''],
      ['--max-frame-bytes', 'HYPS_MAX_FRAME_BYTES', '1048576'],
      ['--max-channel-bytes', 'HYPS_MAX_CHANNEL_BYTES', '256'],
      ['--max-buffered-bytes', 'HYPS_MAX_BUFFERED_BYTES', '8388608'],
      ['--max-subscriptions', 'HYPS_MAX_SUBSCRIPTIONS', '100000'],
      ['--max-connections', 'HYPS_MAX_CONNECTIONS', '10000'],
      ['--hello-timeout-ms', 'HYPS_HELLO_TIMEOUT_MS', '2000'],
      ['--ping-interval-ms', 'HYPS_PING_INTERVAL_MS', '30000'],
      ['--frame-timeout-ms', 'HYPS_FRAME_TIMEOUT_MS', '10000'],
      ['--shutdown-timeout-ms', 'HYPS_SHUTDOWN_TIMEOUT_MS', '5000'],
      ['--help', '', ''],
    ];
    for (const [flag, env, def] of flags) {
      const line = result.stdout
        .split('\n')
        .find((l) => new RegExp(`^\\s+(-\\w, )?${flag} `).test(l));
      expect({ flag, line }).toEqual({ flag, line: expect.stringContaining(env) });
      expect(line).toContain(def);
    }
  });

  const badInvocations: [string, string[], NodeJS.ProcessEnv, RegExp[]][] = [
    ['a non-numeric port', ['--port', 'abc'], {}, [/--port/, /integer/, /abc/]],
    ['a zero frame size', ['--max-frame-bytes', '0'], {}, [/--max-frame-bytes/]],
    [
      'a frame larger than the buffer',
      ['--max-frame-bytes', '10000000', '--max-buffered-bytes', '1000'],
      {},
      [/--max-frame-bytes.*--max-buffered-bytes/],
    ],
    ['an unknown flag', ['--bogus-flag'], {}, [/unknown flag --bogus-flag/]],
    [
      'both --token and --users-file',
      ['--token', 'x', '--users-file', 'y'],
      {},
      [/--token/, /--users-file/],
    ],
    ['a missing users file', ['--users-file', '/nonexistent/users.json'], {}, [/users\.json/]],
    ['a flag without its value', ['--port'], {}, [/--port needs a value/]],
    ['a bad variable', [], { HYPS_MAX_FRAME_BYTES: '-5' }, [/HYPS_MAX_FRAME_BYTES/]],
  ];

  it.each(badInvocations)('refuses %s with exit status 2', async (_what, args, env, messages) => {
    const result = await runBroker(['--host', '127.0.0.1', '--port', '0', ...args], { env });
    expect(result.code).toBe(2);
    expect(result.stdout).not.toMatch(/listening on/);
    for (const message of messages) expect(result.stderr).toMatch(message);
  });

  it('refuses a malformed users file with exit status 2', async () => {
    const path = tempFile('users.json', '{"users": [ nope');
    const result = await runBroker(['--port', '0', '--users-file', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(path);
  });

  it('reads HYPS_* variables when no flag is given, and a flag wins over its variable', async () => {
    const free = await freePort();
    const fromEnv = await spawnBroker([], {
      baseArgs: [],
      env: { HYPS_HOST: '127.0.0.1', HYPS_PORT: String(free), HYPS_MAX_CHANNEL_BYTES: '77' },
    });
    brokers.push(fromEnv);
    expect(fromEnv.port).toBe(free);
    const [, info] = await WireClient.open(free);
    expect(info.maxChannelBytes).toBe(77);

    const flagWins = await start([], { HYPS_PORT: 'abc', HYPS_MAX_CHANNEL_BYTES: '77' });
    expect(flagWins.port).not.toBe(free);
  });

  it('--token rejects a HELLO without the token (ERR 4, closed) and accepts the right one', async () => {
    const broker = await start(['--token', 's3cret']);
    const [anonymous, info] = await WireClient.open(broker.port);
    expect(info.auth).toBe('token');
    anonymous.send(encodeHello({ protocol: 1 }));
    expect((await anonymous.next('err')).code).toBe(ErrorCode.AUTH_FAILED);
    await anonymous.waitClosed();

    const [wrong] = await WireClient.open(broker.port);
    wrong.send(encodeHello({ protocol: 1, token: 'guess' }));
    expect((await wrong.next('err')).code).toBe(ErrorCode.AUTH_FAILED);

    await WireClient.open(broker.port, { protocol: 1, token: 's3cret' });
  });

  it('HYPS_TOKEN enables token auth too', async () => {
    const broker = await start([], { HYPS_TOKEN: 'from-env' });
    const [, info] = await WireClient.open(broker.port, { protocol: 1, token: 'from-env' });
    expect(info.auth).toBe('token');
  });

  it('--users-file enables hmac auth with the users it lists', async () => {
    const path = tempFile(
      'users.json',
      JSON.stringify({ users: [{ user: 'api', secret: 'k3y', publish: ['chat.>'] }] }),
    );
    const broker = await start(['--users-file', path]);
    const [client, info] = await WireClient.open(broker.port);
    expect(info.auth).toBe('hmac');
    const signature = createHmac('sha256', 'k3y').update(info.nonce!).digest('base64');
    client.send(encodeHello({ protocol: 1, user: 'api', signature }));
    await client.next('ok');
    client.send(encodeRecord('other.topic', 'x'));
    expect((await client.next('err')).code).toBe(ErrorCode.PERMISSION_DENIED);
  });

  it('exits 1 with a message when the port is taken', async () => {
    const first = await start();
    const result = await runBroker(['--host', '127.0.0.1', '--port', String(first.port)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/EADDRINUSE/);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'drains on %s: each client gets ERR 8, then the process exits 0',
    async (signal) => {
      const broker = await start();
      const [first] = await WireClient.open(broker.port, { protocol: 1 });
      const [second] = await WireClient.open(broker.port, { protocol: 1 });
      first.send(encodeSub('a.>'));
      await first.next('ok');

      broker.process.kill(signal);
      for (const client of [first, second]) {
        expect((await client.next('err')).code).toBe(ErrorCode.SHUTTING_DOWN);
        await client.waitClosed();
      }
      await expect(withTimeout(broker.exited, 8_000)).resolves.toEqual({
        code: 0,
        signal: null,
      });
    },
  );

  it('runs as `npx hyps-broker` through the workspace bin link', async () => {
    const broker = await startProcess(
      'npx',
      ['--no', '--', 'hyps-broker', '--host', '127.0.0.1', '--port', '0'],
      { processGroup: true, startTimeoutMs: 20_000 },
    );
    brokers.push(broker);
    const [client] = await WireClient.open(broker.port, { protocol: 1 });
    // The whole process group gets SIGTERM, as from a terminal; npm's own exit status is npm's
    // business, the broker's drain is ours.
    await broker.stop();
    expect((await client.next('err')).code).toBe(ErrorCode.SHUTTING_DOWN);
    await client.waitClosed();
    await expect(WireClient.connect(broker.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
