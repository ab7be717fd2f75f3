// PROTOCOL.md section 5.2 (credentials, judging order) and section 8 (users and permissions).
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BrokerConfigError,
  PING_FRAME,
  encodeHello,
  encodeSub,
  loadUsersFile,
  type HypsUser,
} from '../../libs/hyps-transport/src/index.js';
import { useBrokers, type RunningBroker } from './helpers/broker-fixture.js';
import type { RawClient } from './helpers/raw-client.js';

function sign(secret: string, nonce: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(nonce, 'utf8').digest('base64');
}

const USERS: HypsUser[] = [
  { user: 'api', secret: 'api-secret', publish: ['chat.>'], subscribe: ['chat.>', '_INBOX.>'] },
  { user: 'all', secret: 'all-secret' },
  { user: 'nothing', secret: 'nothing-secret', publish: [], subscribe: [] },
  { user: 'orders', secret: 'orders-secret', publish: ['orders.eu'], subscribe: ['orders.*'] },
  { user: 'unicode', secret: 'sécret-☃' },
];

describe('broker auth: token', () => {
  const brokers = useBrokers();
  const start = () => brokers.start({ auth: { mode: 'token', token: 's3cret-token' } });

  it('announces token auth in INFO', async () => {
    const b = await start();
    expect((await (await b.connect()).info()).auth).toBe('token');
  });

  it('accepts the right token', async () => {
    const b = await start();
    const c = await b.connect();
    await c.info();
    c.hello({ protocol: 1, token: 's3cret-token' });
    expect(await c.nextAnswerSummary(1)).toEqual([0]);
  });

  it.each([
    ['a wrong token', { protocol: 1, token: 'wrong' }],
    ['a token differing only in its last byte', { protocol: 1, token: 's3cret-tokeN' }],
    ['a prefix of the token', { protocol: 1, token: 's3cret' }],
    ['a missing token', { protocol: 1 }],
    ['an empty token', { protocol: 1, token: '' }],
  ])('closes with ERR 4 on %s', async (_name, hello) => {
    const b = await start();
    const c = await b.connect();
    await c.info();
    c.hello(hello);
    await c.fatal(4);
    expect(c.types()).toEqual(['info', 'err4']);
  });

  it('does not answer commands pipelined behind a refused HELLO', async () => {
    const b = await start();
    const c = await b.connect();
    await c.info();
    c.send(
      Buffer.concat([encodeHello({ protocol: 1, token: 'nope' }), encodeSub('a'), PING_FRAME]),
    );
    await c.fatal(4);
    expect(c.types()).toEqual(['info', 'err4']);
  });

  it('judges protocol before credentials: missing protocol is ERR 1, protocol 2 is ERR 9', async () => {
    const b = await start();
    const noProtocol = await b.connect();
    await noProtocol.info();
    noProtocol.helloRaw(JSON.stringify({ token: 'wrong' }));
    await noProtocol.fatal(1);

    const wrongVersion = await b.connect();
    await wrongVersion.info();
    wrongVersion.hello({ protocol: 2, token: 'wrong' });
    await wrongVersion.fatal(9);
  });
});

describe('broker auth: hmac', () => {
  const brokers = useBrokers();
  const start = () => brokers.start({ auth: { mode: 'hmac', users: USERS } });

  async function login(b: RunningBroker, user: string, secret: string): Promise<RawClient> {
    const c = await b.connect();
    const info = await c.info();
    c.hello({ protocol: 1, user, signature: sign(secret, info.nonce!) });
    return c;
  }

  it('announces hmac auth in INFO with a fresh 32-byte base64 nonce per connection', async () => {
    const b = await start();
    const first = await (await b.connect()).info();
    const second = await (await b.connect()).info();
    expect(first.auth).toBe('hmac');
    for (const info of [first, second]) {
      expect(typeof info.nonce).toBe('string');
      const bytes = Buffer.from(info.nonce!, 'base64');
      expect(bytes.length).toBe(32);
      expect(bytes.toString('base64')).toBe(info.nonce);
    }
    expect(first.nonce).not.toBe(second.nonce);
  });

  it('accepts the right signature', async () => {
    const b = await start();
    const c = await login(b, 'api', 'api-secret');
    expect(await c.nextAnswerSummary(1)).toEqual([0]);
  });

  it('uses the secret as UTF-8 (non-ASCII secret)', async () => {
    const b = await start();
    const c = await login(b, 'unicode', 'sécret-☃');
    expect(await c.nextAnswerSummary(1)).toEqual([0]);
  });

  it.each([
    ['a signature made with a wrong secret', 'api', 'not-the-secret'],
    ['another user’s secret', 'api', 'all-secret'],
    ['an unknown user', 'ghost', 'api-secret'],
  ])('closes with ERR 4 on %s', async (_name, user, secret) => {
    const b = await start();
    const c = await login(b, user, secret);
    await c.fatal(4);
    expect(c.types()).toEqual(['info', 'err4']);
  });

  it('closes with ERR 4 on a missing signature or missing user', async () => {
    const b = await start();
    const noSignature = await b.connect();
    await noSignature.info();
    noSignature.hello({ protocol: 1, user: 'api' });
    await noSignature.fatal(4);

    const noUser = await b.connect();
    const info = await noUser.info();
    noUser.hello({ protocol: 1, signature: sign('api-secret', info.nonce!) });
    await noUser.fatal(4);
  });

  it('closes with ERR 4 on a signature of another connection’s nonce (replay)', async () => {
    const b = await start();
    const other = await b.connect();
    const otherInfo = await other.info();
    const c = await b.connect();
    await c.info();
    c.hello({ protocol: 1, user: 'api', signature: sign('api-secret', otherInfo.nonce!) });
    await c.fatal(4);
  });

  it('closes with ERR 4 on a signature over the decoded nonce bytes instead of the string', async () => {
    const b = await start();
    const c = await b.connect();
    const info = await c.info();
    const wrong = createHmac('sha256', 'api-secret')
      .update(Buffer.from(info.nonce!, 'base64'))
      .digest('base64');
    c.hello({ protocol: 1, user: 'api', signature: wrong });
    await c.fatal(4);
  });

  describe('permissions (section 8)', () => {
    async function ready(b: RunningBroker, user: string): Promise<RawClient> {
      const secret = USERS.find((u) => u.user === user)!.secret;
      const c = await login(b, user, secret);
      expect(await c.nextAnswerSummary(1)).toEqual([0]);
      return c;
    }

    it('refuses a publish outside the publish patterns with ERR 5, and the connection keeps working', async () => {
      const b = await start();
      const api = await ready(b, 'api');
      const all = await ready(b, 'all');
      all.sub('>');
      expect(await all.nextAnswerSummary(1)).toEqual([0]);

      api.publish('news.today', 'denied');
      api.publish('chat', 'denied too: chat.> needs one more token');
      api.publish('chat.room', 'allowed');
      api.send(PING_FRAME);
      expect(await api.nextAnswerSummary(4)).toEqual(['ERR 5', 'ERR 5', 1, 0]);
      await all.waitRecords(1);
      await api.staysOpenFor(100);
      expect(all.records().map((r) => r.channel)).toEqual(['chat.room']);
    });

    it('allows SUB patterns covered by a subscribe pattern and refuses the others with ERR 5', async () => {
      const b = await start();
      const api = await ready(b, 'api');
      const patterns = [
        'chat.*',
        'chat.room.>',
        'chat.>',
        'chat.room',
        '_INBOX.abc.1',
        '>',
        '*',
        '*.room',
        'news',
        'chat',
      ];
      for (const pattern of patterns) api.sub(pattern);
      expect(await api.nextAnswerSummary(patterns.length)).toEqual([
        0,
        0,
        0,
        0,
        0,
        'ERR 5',
        'ERR 5',
        'ERR 5',
        'ERR 5',
        'ERR 5',
      ]);
      api.send(PING_FRAME);
      expect(await api.nextAnswerSummary(1)).toEqual([0]);
    });

    it('applies the subscribe patterns to group SUBs too', async () => {
      const b = await start();
      const api = await ready(b, 'api');
      api.sub('chat.room', 'workers');
      api.sub('news.>', 'workers');
      expect(await api.nextAnswerSummary(2)).toEqual([0, 'ERR 5']);
    });

    it('registers nothing for a refused SUB', async () => {
      const b = await start();
      const api = await ready(b, 'api');
      const all = await ready(b, 'all');
      api.sub('>');
      expect(await api.nextAnswerSummary(1)).toEqual(['ERR 5']);
      all.publish('news.today', 'x');
      expect(await all.nextAnswerSummary(1)).toEqual([0]);
      await api.staysOpenFor(100);
      expect(api.recordCount).toBe(0);
    });

    it('needs a subscribe pattern covering every channel of the SUB pattern (orders.* vs orders.>)', async () => {
      const b = await start();
      const orders = await ready(b, 'orders');
      for (const pattern of ['orders.eu', 'orders.*', 'orders.>', 'orders.eu.1', 'orders', '*.eu'])
        orders.sub(pattern);
      expect(await orders.nextAnswerSummary(6)).toEqual([0, 0, 'ERR 5', 'ERR 5', 'ERR 5', 'ERR 5']);
      orders.publish('orders.eu', 'a');
      orders.publish('orders.us', 'b');
      // orders.eu reaches its own subscriptions once (one plain delivery per connection)
      expect(await orders.nextAnswerSummary(2)).toEqual([1, 'ERR 5']);
    });

    it('allows everything when the lists are missing', async () => {
      const b = await start();
      const all = await ready(b, 'all');
      all.sub('>');
      all.sub('*');
      all.publish('anything.at.all', 'x');
      expect(await all.nextAnswerSummary(3)).toEqual([0, 0, 1]);
    });

    it('allows nothing when the lists are empty', async () => {
      const b = await start();
      const nothing = await ready(b, 'nothing');
      nothing.sub('a');
      nothing.sub('>');
      nothing.publish('a', 'x');
      nothing.send(PING_FRAME);
      expect(await nothing.nextAnswerSummary(4)).toEqual(['ERR 5', 'ERR 5', 'ERR 5', 0]);
      await nothing.staysOpenFor(50);
    });
  });
});

describe('broker users file (section 8)', () => {
  const brokers = useBrokers();
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hyps-users-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function file(content: string): string {
    const path = join(dir, 'users.json');
    writeFileSync(path, content);
    return path;
  }

  it('reads the JSON users file of section 8 and enforces it', async () => {
    const users = loadUsersFile(
      file(
        JSON.stringify({
          users: [
            { user: 'api', secret: 's', publish: ['chat.>'], subscribe: ['chat.>', '_INBOX.>'] },
          ],
        }),
      ),
    );
    expect(users).toEqual([
      { user: 'api', secret: 's', publish: ['chat.>'], subscribe: ['chat.>', '_INBOX.>'] },
    ]);
    const b = await brokers.start({ auth: { mode: 'hmac', users } });
    const c = await b.connect();
    const info = await c.info();
    c.hello({ protocol: 1, user: 'api', signature: sign('s', info.nonce!) });
    c.publish('chat.x', 'ok');
    c.publish('other', 'denied');
    expect(await c.nextAnswerSummary(3)).toEqual([0, 0, 'ERR 5']);
  });

  it.each([
    ['not JSON', '{users:'],
    ['no users list', '{"people": []}'],
    ['a user without a secret', '{"users": [{"user": "a"}]}'],
    [
      'a publish list that is not a list',
      '{"users": [{"user": "a", "secret": "s", "publish": "chat.>"}]}',
    ],
    ['an invalid pattern', '{"users": [{"user": "a", "secret": "s", "subscribe": ["a..b"]}]}'],
  ])('refuses a users file with %s (BrokerConfigError)', (_name, content) => {
    expect(() => loadUsersFile(file(content))).toThrow(BrokerConfigError);
  });

  it('refuses a missing users file (BrokerConfigError)', () => {
    expect(() => loadUsersFile(join(dir, 'missing.json'))).toThrow(BrokerConfigError);
  });
});
