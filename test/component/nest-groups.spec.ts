// Two microservice instances on one broker: work shared by a group, or broadcast to both.
import 'reflect-metadata';
import type { INestMicroservice } from '@nestjs/common';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { ClientHyps } from '../../libs/hyps-transport/src/nest/index.js';
import type { ServerHypsOptions } from '../../libs/hyps-transport/src/nest/index.js';
import {
  Recorder,
  RunningBroker,
  sleep,
  startBroker,
  startMicroservice,
  waitFor,
} from './nest-fixtures.js';

const EVENTS = 40;

describe('ServerHyps groups', () => {
  let running: RunningBroker;
  let client: ClientHyps;
  const apps: INestMicroservice[] = [];

  beforeAll(async () => {
    running = await startBroker();
  });

  beforeEach(async () => {
    client = new ClientHyps({ url: running.url });
    await client.connect();
  });

  afterEach(async () => {
    await client.close();
    for (const app of apps.splice(0)) await app.close();
  });

  afterAll(async () => {
    await running?.broker.close();
  });

  async function twoInstances(options: Omit<ServerHypsOptions, 'url'>): Promise<Recorder[]> {
    const recorders: Recorder[] = [];
    for (let i = 0; i < 2; i++) {
      const { app, recorder } = await startMicroservice({ url: running.url, ...options });
      apps.push(app);
      recorders.push(recorder);
    }
    return recorders;
  }

  async function emitNumbered(channel: string): Promise<void> {
    for (let i = 0; i < EVENTS; i++) {
      await lastValueFrom(client.emit(channel, i), { defaultValue: undefined });
    }
  }

  const seenNumbers = (recorder: Recorder) => recorder.events.map((e) => e.data as number);

  it('shares events between instances of one group: each handled exactly once, by both', async () => {
    const [a, b] = await twoInstances({ name: 'billing' });
    await emitNumbered('orders.created');
    await waitFor(() => a!.events.length + b!.events.length >= EVENTS);
    await sleep(50); // a duplicate, if any, would arrive now
    const all = [...seenNumbers(a!), ...seenNumbers(b!)].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
    expect(a!.events.length).toBeGreaterThan(0);
    expect(b!.events.length).toBeGreaterThan(0);
    expect(a!.events[0]!.group).toBe('billing');
  });

  it('shares events on wildcard patterns too', async () => {
    const [a, b] = await twoInstances({ group: 'shipping' });
    await emitNumbered('shipments.eu');
    await waitFor(() => a!.events.length + b!.events.length >= EVENTS);
    await sleep(50);
    expect(a!.events.length + b!.events.length).toBe(EVENTS);
    expect(a!.events.length).toBeGreaterThan(0);
    expect(b!.events.length).toBeGreaterThan(0);
  });

  it('answers each request from exactly one instance of the group', async () => {
    const [a, b] = await twoInstances({});
    const tags = Array.from({ length: 20 }, (_, i) => `t${i}`);
    const answers = await Promise.all(
      tags.map((tag) => firstValueFrom(client.send('whoami', tag))),
    );
    expect(answers).toEqual(tags);
    expect([...a!.started, ...b!.started].sort()).toEqual([...tags].sort());
    expect(a!.started.length).toBeGreaterThan(0);
    expect(b!.started.length).toBeGreaterThan(0);
  });

  it.each([{ broadcast: true }, { group: false as const }])(
    'delivers every event to every instance with %j',
    async (options) => {
      const [a, b] = await twoInstances(options);
      await emitNumbered('audit.login');
      await waitFor(() => a!.events.length >= EVENTS && b!.events.length >= EVENTS);
      await sleep(50);
      const expected = Array.from({ length: EVENTS }, (_, i) => i);
      expect(seenNumbers(a!)).toEqual(expected);
      expect(seenNumbers(b!)).toEqual(expected);
      expect(a!.events[0]!.group).toBeUndefined();
    },
  );
});
