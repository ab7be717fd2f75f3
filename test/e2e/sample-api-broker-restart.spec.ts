// The broker restarts under a running sample API: the app server's HypsClient reconnects and
// re-subscribes by itself, open SSE and WebSocket streams stay open, and every browser is told
// that messages published during the outage are lost (at most once).
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

let broker: SpawnedBroker | undefined;
let api: SpawnedSampleApi;
const open: Array<{ close(): unknown }> = [];

beforeAll(async () => {
  broker = await spawnBroker();
  // A post waits this long for a reconnecting broker before it fails with 503.
  api = await spawnSampleApi(`hyps://127.0.0.1:${broker.port}`, { PUBLISH_TIMEOUT_MS: '300' });
}, 30_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await api?.stop();
  await broker?.stop();
}, 20_000);

const hypsStatus = async () =>
  (await getJson<{ hyps: { status: string } }>(`${api.url}/stats`)).hyps.status;

it('keeps browsers subscribed across a broker restart and marks the gap', async () => {
  const room = 'restart';
  const viewer = await SseClient.open(`${api.url}/rooms/${room}/events`);
  open.push(viewer);
  const member = await WsChatClient.connect(api.url);
  open.push(member);
  await viewer.waitFor((e) => e.type === 'ready');
  await member.request('join', { room }, 'joined');

  const { port } = broker!;
  await broker!.stop();
  broker = undefined;
  await waitUntil('the sample API to notice', async () =>
    (await hypsStatus()) === 'reconnecting' ? true : undefined,
  );

  // No broker: a post is held for PUBLISH_TIMEOUT_MS, then answered 503 with the reason.
  const held = await postJson(`${api.url}/rooms/${room}/messages`, { author: 'a', text: 'lost' });
  expect(held.status).toBe(503);
  expect(held.body).toMatchObject({
    statusCode: 503,
    error: 'Service Unavailable',
    code: 'PUBLISH_TIMEOUT',
    message: expect.stringMatching(/^message broker unavailable: /),
  });

  broker = await spawnBroker([], { baseArgs: ['--host', '127.0.0.1', '--port', String(port)] });
  await waitUntil(
    'the sample API to reconnect',
    async () => ((await hypsStatus()) === 'connected' ? true : undefined),
    10_000,
    50,
  );
  const gap = { scope: 'broker-reconnect', count: null };
  const notice = await viewer.waitFor((e) => e.type === 'dropped');
  expect(JSON.parse(notice.data)).toEqual(gap);
  await member.waitFor((r) => r.event === 'dropped');
  expect(member.received.filter((r) => r.event === 'dropped')).toEqual([
    { event: 'dropped', data: gap },
  ]);

  // The subscription was renewed on the new broker: posts reach both browsers again. The SUB is
  // resent when the connection opens, so poll until the broker has it.
  await waitUntil('the room subscription on the new broker', async () => {
    const { body } = await postJson(`${api.url}/rooms/${room}/messages`, {
      author: 'after',
      text: 'back again',
    });
    return body.receivers === 1 ? true : undefined;
  });
  await viewer.waitFor((e) => e.type === 'message' && e.data.includes('"back again"'));
  await member.waitFor((r) => r.event === 'message' && r.data.text === 'back again');
}, 30_000);
