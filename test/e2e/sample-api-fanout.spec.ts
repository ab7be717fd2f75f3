// 1,000 browsers on one sample API instance: every one receives a broadcast, while the broker
// sees a single connection (one subscription, one delivery per message) from that instance.
import { HypsClient } from '@hyps/transport';
import { spawnBroker } from './helpers/spawn-broker.js';
import type { SpawnedBroker } from './helpers/spawn-broker.js';
import {
  SseClient,
  getJson,
  postJson,
  spawnSampleApi,
  waitUntil,
} from './helpers/spawn-sample-api.js';
import type { SpawnedSampleApi } from './helpers/spawn-sample-api.js';

const VIEWERS = 1000;
const ROOM = 'fanout';

let broker: SpawnedBroker;
let api: SpawnedSampleApi;
let hyps: HypsClient;
const viewers: SseClient[] = [];

beforeAll(async () => {
  broker = await spawnBroker();
  const hypsUrl = `hyps://127.0.0.1:${broker.port}`;
  api = await spawnSampleApi(hypsUrl);
  hyps = new HypsClient({ url: hypsUrl, name: 'e2e-fanout-probe' });
  await hyps.connect();
}, 30_000);

afterAll(async () => {
  for (const viewer of viewers) viewer.close();
  await hyps?.close();
  await api?.stop();
  await broker?.stop();
}, 20_000);

it(`delivers a broadcast to ${VIEWERS} SSE clients over one broker connection`, async () => {
  // Opened in batches of 100 so the listen backlog never overflows.
  for (let i = 0; i < VIEWERS; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: 100 }, () => SseClient.open(`${api.url}/rooms/${ROOM}/events`)),
    );
    viewers.push(...batch);
  }
  await Promise.all(viewers.map((v) => v.waitFor((e) => e.type === 'ready', 15_000)));

  const stats = await getJson<{
    subscribers: { sse: number };
    hypsSubscriptions: number;
  }>(`${api.url}/stats`);
  expect(stats.subscribers.sse).toBe(VIEWERS);
  expect(stats.hypsSubscriptions).toBe(1);

  // The broker makes one delivery per receiving connection: 1 for 1,000 browsers.
  const probe = await hyps.publish(`rooms.${ROOM}`, JSON.stringify({ author: 'probe', text: 'p' }));
  expect(probe.receivers).toBe(1);

  const posted = await postJson(`${api.url}/rooms/${ROOM}/messages`, {
    author: 'announcer',
    text: 'to everyone',
  });
  expect(posted.body).toEqual({ receivers: 1 });

  await Promise.all(
    viewers.map((v) =>
      v.waitFor((e) => e.type === 'message' && e.data.includes('"to everyone"'), 15_000),
    ),
  );
  const delivered = viewers.filter((v) =>
    v.events.some((e) => e.type === 'message' && e.data.includes('"to everyone"')),
  ).length;
  expect(delivered).toBe(VIEWERS);

  for (const viewer of viewers.splice(0)) viewer.close();
  await waitUntil(
    'the last viewer to leave and UNSUB to reach the broker',
    async () => ((await hyps.publish(`rooms.${ROOM}`, '{}')).receivers === 0 ? true : undefined),
    10_000,
    50,
  );
}, 60_000);
