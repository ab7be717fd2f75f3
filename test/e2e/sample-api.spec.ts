// The built sample API against the built broker, both as child processes: SSE delivery,
// validation, the WebSocket gateway, teardown when a browser leaves, and slow-browser drops.
import { HypsClient } from '@hyps/transport';
import { spawnBroker } from './helpers/spawn-broker.js';
import type { SpawnedBroker } from './helpers/spawn-broker.js';
import {
  SseClient,
  WsChatClient,
  getJson,
  postJson,
  spawnSampleApi,
  waitUntil,
} from './helpers/spawn-sample-api.js';
import type { SpawnedSampleApi } from './helpers/spawn-sample-api.js';

interface Stats {
  hyps: { status: string; dropped: number };
  subscribers: { sse: number; ws: number; total: number; rooms: Record<string, unknown> };
  hypsSubscriptions: number;
  dropped: { hyps: number; sse: number; ws: number };
}

let broker: SpawnedBroker;
let api: SpawnedSampleApi;
let hyps: HypsClient;
const open: Array<{ close(): unknown }> = [];

beforeAll(async () => {
  broker = await spawnBroker();
  const hypsUrl = `hyps://127.0.0.1:${broker.port}`;
  api = await spawnSampleApi(hypsUrl, { SSE_HEARTBEAT_MS: '200' });
  hyps = new HypsClient({ url: hypsUrl, name: 'e2e-probe' });
  await hyps.connect();
}, 30_000);

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await hyps?.close();
  await api?.stop();
  await broker?.stop();
}, 20_000);

async function sse(room: string, headers = {}): Promise<SseClient> {
  const client = await SseClient.open(`${api.url}/rooms/${room}/events`, headers);
  open.push(client);
  return client;
}

async function ws(): Promise<WsChatClient> {
  const client = await WsChatClient.connect(api.url);
  open.push(client);
  return client;
}

const stats = () => getJson<Stats>(`${api.url}/stats`);

describe('SSE', () => {
  it('streams a posted message to every browser in the room, with ids and a heartbeat', async () => {
    const alice = await sse('lobby');
    const bob = await sse('lobby');
    expect(alice.status).toBe(200);
    expect(alice.response.headers['content-type']).toMatch(/^text\/event-stream/);
    await alice.waitFor((e) => e.type === 'ready');
    await bob.waitFor((e) => e.type === 'ready');

    const posted = await postJson(`${api.url}/rooms/lobby/messages`, {
      author: 'alice',
      text: 'hello\nworld',
    });
    // One receiver: the broker delivers once to the sample API's single connection.
    expect(posted).toEqual({ status: 200, body: { receivers: 1 } });

    for (const client of [alice, bob]) {
      const event = await client.waitFor((e) => e.type === 'message');
      expect(JSON.parse(event.data)).toMatchObject({
        room: 'lobby',
        author: 'alice',
        text: 'hello\nworld',
      });
      expect(Number(event.id)).toBeGreaterThan(0);
    }
    await waitUntil('a heartbeat comment', () =>
      alice.comments.includes('heartbeat') ? 1 : undefined,
    );
  });

  it('does not deliver another room’s messages', async () => {
    const here = await sse('room-a');
    await here.waitFor((e) => e.type === 'ready');
    await postJson(`${api.url}/rooms/room-b/messages`, { author: 'x', text: 'elsewhere' });
    await postJson(`${api.url}/rooms/room-a/messages`, { author: 'x', text: 'here' });
    const first = await here.waitFor((e) => e.type === 'message');
    expect(JSON.parse(first.data).text).toBe('here');
    expect(here.events.filter((e) => e.type === 'message')).toHaveLength(1);
  });

  it('tells a reconnecting EventSource that messages may have been lost', async () => {
    const client = await sse('lobby', { 'last-event-id': '41' });
    const event = await client.waitFor((e) => e.type === 'dropped');
    expect(JSON.parse(event.data)).toEqual({ scope: 'reconnect', count: null });
  });

  it('answers 400 for a room name that is not a single safe token', async () => {
    for (const room of ['a.b', '%3E', 'x'.repeat(65), 'a%20b']) {
      const client = await sse(room);
      expect(client.status).toBe(400);
      await client.ended();
      expect(JSON.parse(client.body)).toMatchObject({
        message: 'Validation failed',
        errors: [{ field: 'room' }],
      });
    }
  });
});

describe('POST /rooms/:room/messages validation', () => {
  const url = (room = 'lobby') => `${api.url}/rooms/${room}/messages`;

  it('reports every bad field', async () => {
    const { status, body } = await postJson(url(), { author: '', text: 'x'.repeat(2001) });
    expect(status).toBe(400);
    expect(body.message).toBe('Validation failed');
    const fields = (body.errors as Array<{ field: string; problems: string[] }>).map(
      (e) => e.field,
    );
    expect(fields.sort()).toEqual(['author', 'text']);
  });

  it('reports missing fields, wrong types and unknown fields', async () => {
    const missing = await postJson(url(), {});
    expect(missing.status).toBe(400);
    expect((missing.body.errors as Array<{ field: string }>).map((e) => e.field).sort()).toEqual([
      'author',
      'text',
    ]);

    const wrongType = await postJson(url(), { author: 42, text: 'hi' });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.errors).toEqual([
      { field: 'author', problems: expect.arrayContaining(['author must be a string']) },
    ]);

    const unknown = await postJson(url(), { author: 'a', text: 'hi', admin: true });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([
      { field: 'admin', problems: ['property admin should not exist'] },
    ]);
  });

  it('rejects a room that would name a pattern or another channel', async () => {
    for (const room of ['a.b', '%2A', '%3E']) {
      const { status, body } = await postJson(url(room), { author: 'a', text: 'hi' });
      expect(status).toBe(400);
      expect(body.errors).toEqual([{ field: 'room', problems: [expect.stringMatching(/^room/)] }]);
    }
  });

  it('accepts boundary lengths and answers receivers 0 in an empty room', async () => {
    const { status, body } = await postJson(url('empty-room'), {
      author: 'a'.repeat(64),
      text: 't'.repeat(2000),
    });
    expect(status).toBe(200);
    expect(body).toEqual({ receivers: 0 });
  });
});

describe('WebSocket gateway', () => {
  it('joins, receives posts from WebSocket and HTTP, and leaves', async () => {
    const carol = await ws();
    const dave = await ws();
    expect(await carol.request('join', { room: 'ws-room' }, 'joined')).toEqual({
      event: 'joined',
      data: { room: 'ws-room' },
    });

    const posted = await dave.request(
      'post',
      { room: 'ws-room', author: 'dave', text: 'hi carol' },
      'posted',
    );
    expect(posted).toEqual({ event: 'posted', data: { room: 'ws-room', receivers: 1 } });
    const message = await carol.waitFor((r) => r.event === 'message');
    expect(message.data).toMatchObject({ room: 'ws-room', author: 'dave', text: 'hi carol' });
    // dave did not join: he gets only the answer to his post.
    expect(dave.received.map((r) => r.event)).toEqual(['posted']);

    await postJson(`${api.url}/rooms/ws-room/messages`, { author: 'http', text: 'from http' });
    await carol.waitFor((r) => r.event === 'message' && r.data.text === 'from http');

    expect(await carol.request('leave', { room: 'ws-room' }, 'left')).toEqual({
      event: 'left',
      data: { room: 'ws-room' },
    });
    const afterLeave = carol.received.length;
    const { body } = await postJson(`${api.url}/rooms/ws-room/messages`, {
      author: 'http',
      text: 'nobody listens',
    });
    expect(body).toEqual({ receivers: 0 });
    expect(carol.received.slice(afterLeave)).toEqual([]);
  });

  it('answers invalid requests with an error naming the request and the fields', async () => {
    const client = await ws();
    const badPost = await client.request('post', { room: 'a.b', author: '', text: 'x' }, 'posted');
    expect(badPost.event).toBe('error');
    expect(badPost.data.request).toBe('post');
    expect(badPost.data.message).toBe('Validation failed');
    expect((badPost.data.errors as Array<{ field: string }>).map((e) => e.field).sort()).toEqual([
      'author',
      'room',
    ]);

    const badJoin = await client.request('join', { room: '>' }, 'joined');
    expect(badJoin).toMatchObject({
      event: 'error',
      data: { request: 'join', errors: [{ field: 'room' }] },
    });

    const noData = await client.request('join', undefined, 'joined');
    expect(noData.event).toBe('error');

    let from = client.received.length;
    client.sendRaw('not json');
    expect(await client.waitFor(() => true, from)).toEqual({
      event: 'error',
      data: { request: null, message: 'message is not JSON' },
    });

    from = client.received.length;
    client.send('shout', { room: 'lobby' });
    expect(await client.waitFor(() => true, from)).toEqual({
      event: 'error',
      data: {
        request: 'shout',
        message: 'unknown event "shout"; expected one of join, leave, post',
      },
    });

    // Still usable after the errors.
    expect((await client.request('join', { room: 'lobby' }, 'joined')).event).toBe('joined');
  });
});

describe('teardown when the browser leaves', () => {
  it('sends UNSUB once the last local viewer of a room is gone', async () => {
    const room = 'teardown';
    const first = await sse(room);
    const second = await sse(room);
    const socket = await ws();
    await first.waitFor((e) => e.type === 'ready');
    await second.waitFor((e) => e.type === 'ready');
    await socket.request('join', { room }, 'joined');
    const receivers = async () => (await hyps.publish(`rooms.${room}`, '{}')).receivers;
    expect(await receivers()).toBe(1);
    expect((await stats()).subscribers.rooms[room]).toEqual({ sse: 2, ws: 1 });

    first.close();
    await socket.close();
    await waitUntil('the viewers to be counted down', async () => {
      const counts = (await stats()).subscribers.rooms[room];
      return JSON.stringify(counts) === JSON.stringify({ sse: 1, ws: 0 }) ? true : undefined;
    });
    // One viewer left: the broker still delivers to the app server.
    expect(await receivers()).toBe(1);

    second.close();
    // The broker answers a publish after routing it, so once UNSUB has been processed the
    // count drops to 0. Polling bounds the wait for the app server to notice the disconnect.
    await waitUntil('the broker to drop the subscription', async () =>
      (await receivers()) === 0 ? true : undefined,
    );
    const after = await stats();
    expect(after.subscribers.rooms[room]).toBeUndefined();
    expect(after.hyps.status).toBe('connected');
  });
});

describe('a browser that does not keep up', () => {
  it('loses messages (counted, then announced) instead of stalling the room', async () => {
    const room = 'slow';
    const slow = await sse(room);
    const fast = await sse(room);
    await slow.waitFor((e) => e.type === 'ready');
    await fast.waitFor((e) => e.type === 'ready');
    slow.response.pause();

    // 64 KiB messages, a few at a time (so the broker's queue for the app server stays small),
    // until the stopped reader's socket buffers are full and the app server starts dropping.
    const text = 'x'.repeat(64 * 1024);
    let count = 0;
    const MAX_MESSAGES = 600;
    const droppedBefore = (await stats()).dropped.sse;
    while (count < MAX_MESSAGES && (await stats()).dropped.sse === droppedBefore) {
      const batch = Array.from({ length: 8 }, () =>
        hyps.publish(`rooms.${room}`, JSON.stringify({ author: 'flood', text, sentAt: count++ })),
      );
      await Promise.all(batch);
    }
    expect((await stats()).dropped.sse).toBeGreaterThan(droppedBefore);
    await waitUntil(
      'the fast reader to get every message',
      () => (fast.events.filter((e) => e.type === 'message').length === count ? true : undefined),
      15_000,
    );

    const droppedHere = (await stats()).dropped.sse - droppedBefore;
    slow.response.resume();
    // Let the reader catch up first: while its socket is still backed up, a new message would be
    // dropped too.
    const messages = () => slow.events.filter((e) => e.type === 'message').length;
    await waitUntil('the slow reader to catch up', () =>
      messages() === count - droppedHere ? true : undefined,
    );
    await hyps.publish(`rooms.${room}`, JSON.stringify({ author: 'flood', text: 'last' }));
    const notice = await slow.waitFor((e) => e.type === 'dropped', 15_000);
    const last = await slow.waitFor(
      (e) => e.type === 'message' && e.data.includes('"last"'),
      15_000,
    );
    expect(slow.events.indexOf(notice)).toBeLessThan(slow.events.indexOf(last));
    const notices = slow.events
      .filter((e) => e.type === 'dropped')
      .map((e) => JSON.parse(e.data) as { scope: string; count: number });
    const lost = notices.reduce((sum, n) => sum + n.count, 0);
    expect(notices.every((n) => n.scope === 'connection')).toBe(true);
    expect(lost).toBeGreaterThan(0);
    // Every message either arrived or was announced as lost.
    const delivered = slow.events.filter((e) => e.type === 'message').length;
    expect(delivered + lost).toBe(count + 1);
  }, 30_000);
});

describe('a WebSocket client that does not keep up', () => {
  it('loses messages (counted, then announced) instead of stalling the room', async () => {
    const room = 'slow-ws';
    const slow = await ws();
    const fast = await ws();
    await slow.request('join', { room }, 'joined');
    await fast.request('join', { room }, 'joined');
    slow.socket.pause();

    const text = 'x'.repeat(64 * 1024);
    let count = 0;
    const droppedBefore = (await stats()).dropped.ws;
    while (count < 600 && (await stats()).dropped.ws === droppedBefore) {
      await Promise.all(
        Array.from({ length: 8 }, () =>
          hyps.publish(`rooms.${room}`, JSON.stringify({ author: 'flood', text, sentAt: count++ })),
        ),
      );
    }
    const droppedHere = (await stats()).dropped.ws - droppedBefore;
    expect(droppedHere).toBeGreaterThan(0);
    const messages = (client: WsChatClient) =>
      client.received.filter((r) => r.event === 'message').length;
    await waitUntil('the fast client to get every message', () =>
      messages(fast) === count ? true : undefined,
    );

    slow.socket.resume();
    await waitUntil('the slow client to catch up', () =>
      messages(slow) === count - droppedHere ? true : undefined,
    );
    await hyps.publish(`rooms.${room}`, JSON.stringify({ author: 'flood', text: 'last' }));
    const last = await slow.waitFor((r) => r.event === 'message' && r.data.text === 'last');
    const notices = slow.received.filter((r) => r.event === 'dropped');
    expect(notices).toEqual([
      { event: 'dropped', data: { scope: 'connection', room, count: droppedHere } },
    ]);
    expect(slow.received.indexOf(notices[0])).toBeLessThan(slow.received.indexOf(last));
  }, 30_000);
});

describe('GET /stats', () => {
  it('reports subscribers per room and transport, the Hyps status, and drops', async () => {
    const viewer = await sse('stats-room');
    await viewer.waitFor((e) => e.type === 'ready');
    const s = await stats();
    expect(s.hyps).toEqual({ status: 'connected', dropped: 0 });
    expect(s.subscribers.rooms['stats-room']).toEqual({ sse: 1, ws: 0 });
    expect(s.subscribers.total).toBe(s.subscribers.sse + s.subscribers.ws);
    expect(s.hypsSubscriptions).toBe(Object.keys(s.subscribers.rooms).length);
    expect(s.dropped).toEqual({ hyps: 0, sse: expect.any(Number), ws: expect.any(Number) });
  });
});
