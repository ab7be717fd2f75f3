// Permissions with hmac auth and a users file (issue 6, item 3; PROTOCOL.md section 8): what a
// user may not publish or subscribe to is refused with ERR 5, and nothing of it leaks through.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeRecord,
  encodeSub,
  loadUsersFile,
  PING_FRAME,
  type HypsUser,
} from '../../libs/hyps-transport/src/index.js';
import { useBrokers, type RunningBroker } from '../component/helpers/broker-fixture.js';
import { RawClient } from '../component/helpers/raw-client.js';
import { Canary, expectHealthyCanary, hmacHello } from './helpers/canary.js';

const USERS_FILE = {
  users: [
    { user: 'api', secret: 'api-secret', publish: ['chat.>'], subscribe: ['chat.>', '_INBOX.>'] },
    { user: 'ops', secret: 'ops-secret' },
    { user: 'reader', secret: 'reader-secret', publish: [], subscribe: ['chat.*'] },
    { user: 'café', secret: 'café-secret', publish: ['café.>'], subscribe: ['café.*'] },
    { user: 'canary', secret: 'canary-secret' },
  ],
};

describe('permissions (hmac users file)', () => {
  let dir: string;
  let users: HypsUser[];
  let b: RunningBroker;
  let canary: Canary;
  // Registered before useBrokers() so that it runs while the broker is still up.
  afterEach(async () => {
    await canary.proveAlive();
    expectHealthyCanary(await canary.stop(), 3);
  });
  const brokers = useBrokers();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hyps-users-'));
    const path = join(dir, 'users.json');
    writeFileSync(path, JSON.stringify(USERS_FILE));
    users = loadUsersFile(path);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    b = await brokers.start({ auth: { mode: 'hmac', users } });
    canary = await Canary.start({ port: b.port, hello: hmacHello('canary', 'canary-secret') });
  });

  async function login(user: string, secret = `${user}-secret`): Promise<RawClient> {
    const client = await b.connect();
    const info = await client.info();
    await client.handshake(hmacHello(user, secret)(info));
    return client;
  }

  it('refuses a publish to admin.> by a user allowed only chat.>, and delivers none of it', async () => {
    const ops = await login('ops');
    ops.send(encodeSub('>'));
    expect(await ops.nextAnswerSummary(1)).toEqual([0]);
    const api = await login('api');
    api.send(
      encodeRecord('admin.users.delete', 'rm -rf'),
      encodeRecord('admin.x', 'nope'),
      encodeRecord('chat.room', 'hello'),
      encodeRecord('chat', 'one token: not under chat.>'),
      PING_FRAME,
    );
    expect(await api.nextAnswerSummary(5)).toEqual(['ERR 5', 'ERR 5', 1, 'ERR 5', 0]);
    expect(api.errs()[0]!.message).toMatch(/admin\.users\.delete/);
    // ERR 5 is not fatal.
    await api.staysOpenFor(50);
    // The superuser publishes to admin.> freely; the subscriber to '>' saw only allowed records.
    ops.send(encodeRecord('admin.audit', 'by ops'));
    expect(await ops.nextAnswerSummary(1)).toEqual([1]);
    // (The canary's own records reach '>' too; they are not what this test is about.)
    const seen = (): string[] =>
      ops
        .records()
        .map((r) => r.channel)
        .filter((c) => !c.startsWith('canary.'));
    await ops.waitUntil(() => seen().includes('admin.audit'), 'the admin.audit record');
    await canary.proveAlive();
    expect(seen()).toEqual(['chat.room', 'admin.audit']);
    expect(b.broker.stats().errors[5]).toBe(3);
  });

  it('refuses subscriptions that could match anything outside the allowed patterns', async () => {
    const api = await login('api');
    const attempts: [string, number | string][] = [
      ['>', 'ERR 5'],
      ['*.room', 'ERR 5'],
      ['*', 'ERR 5'],
      ['chat', 'ERR 5'],
      ['admin.>', 'ERR 5'],
      ['chat.>', 0],
      ['chat.*', 0],
      ['chat.room.>', 0],
      ['_INBOX.abc', 0],
    ];
    api.send(...attempts.map(([pattern]) => encodeSub(pattern)));
    expect(await api.nextAnswerSummary(attempts.length)).toEqual(attempts.map(([, a]) => a));
    // With a group the pattern is judged the same way.
    api.send(encodeSub('>', 'workers'), encodeSub('chat.*', 'workers'));
    expect(await api.nextAnswerSummary(2)).toEqual(['ERR 5', 0]);

    // The refused '>' gets nothing: an admin record reaches only the allowed subscriptions' owners.
    const ops = await login('ops');
    ops.send(encodeRecord('admin.secret', 'x'), encodeRecord('chat.room', 'y'));
    // chat.room: api's plain subscriptions (once per connection) + the workers group.
    expect(await ops.nextAnswerSummary(2)).toEqual([0, 2]);
    await api.waitUntil(() => api.recordCount + api.groupMsgCount >= 2, 'two deliveries');
    await canary.proveAlive();
    expect(api.records().map((r) => r.channel)).toEqual(['chat.room']);
    expect(api.groupMsgs().map((r) => r.channel)).toEqual(['chat.room']);
  });

  it('applies an empty publish list as "nothing" and a narrower subscribe list exactly', async () => {
    const reader = await login('reader');
    reader.send(
      encodeRecord('chat.room', 'x'),
      encodeSub('chat.>'), // chat.* does not cover chat.a.b
      encodeSub('chat.room'),
      encodeSub('chat.*'),
    );
    expect(await reader.nextAnswerSummary(4)).toEqual(['ERR 5', 'ERR 5', 0, 0]);
  });

  it('compares non-ASCII names in permissions byte for byte', async () => {
    const cafe = await login('café');
    cafe.send(
      encodeSub('café.*'),
      encodeRecord('café.menu', 'crème'),
      encodeRecord('cafe.menu', 'no accent: another channel'),
      encodeSub('cafe.*'),
    );
    expect(await cafe.nextAnswerSummary(4)).toEqual([0, 1, 'ERR 5', 'ERR 5']);
  });

  it('refuses a wrong secret or an unknown user with a fatal ERR 4', async () => {
    for (const [user, secret] of [
      ['api', 'wrong'],
      ['nobody', 'api-secret'],
    ] as const) {
      const client = await b.connect();
      const info = await client.info();
      client.hello(hmacHello(user, secret)(info));
      await client.fatal(4);
    }
    await canary.proveAlive();
  });
});
